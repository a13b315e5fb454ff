// Conversations, newest first, with full-text search over every message (the store's FTS5 index), rename and delete.
import { useEffect, useState } from 'react';
import type { Conversation, SearchHit } from '../../../shared/api';
import { api, value } from '../api';

export interface SidebarProps {
  readonly conversations: readonly Conversation[];
  readonly activeId: number | null;
  readonly onOpen: (id: number) => void;
  readonly onNew: () => void;
  readonly onRename: (id: number, title: string) => void;
  readonly onDelete: (id: number) => void;
}

function useSearch(query: string): { hits: SearchHit[]; error: string | null } {
  const [state, setState] = useState<{ hits: SearchHit[]; error: string | null }>({ hits: [], error: null });
  const empty = query.trim() === '';
  useEffect(() => {
    if (empty) return;
    let live = true;
    const t = setTimeout(() => {
      value(api.searchMessages({ query, limit: 50 }))
        .then((hits) => live && setState({ hits, error: null }))
        .catch((e: Error) => live && setState({ hits: [], error: e.message }));
    }, 150);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [query, empty]);
  // An empty query shows no hits at once; a search in flight for an older query is dropped by its cleanup.
  return empty ? NO_HITS : state;
}

const NO_HITS: { hits: SearchHit[]; error: string | null } = { hits: [], error: null };

function ConversationItem({ c, active, onOpen, onRename, onDelete }: { c: Conversation; active: boolean } & Pick<SidebarProps, 'onOpen' | 'onRename' | 'onDelete'>) {
  const [title, setTitle] = useState<string | null>(null);
  if (title !== null) {
    const commit = () => {
      if (title.trim()) onRename(c.id, title.trim());
      setTitle(null);
    };
    return (
      <li className="conversation editing">
        <input data-testid="rename-input" autoFocus value={title} onChange={(e) => setTitle(e.target.value)} onBlur={commit} onKeyDown={(e) => e.key === 'Enter' && commit()} />
      </li>
    );
  }
  return (
    <li className={`conversation${active ? ' active' : ''}`} data-testid="conversation-item" data-id={c.id}>
      <button className="title" onClick={() => onOpen(c.id)} title={c.title}>
        {c.title}
      </button>
      <button data-testid="rename" aria-label="Rename" onClick={() => setTitle(c.title)}>
        ✎
      </button>
      <button data-testid="delete" aria-label="Delete" onClick={() => window.confirm(`Delete “${c.title}”?`) && onDelete(c.id)}>
        ×
      </button>
    </li>
  );
}

export function Sidebar(p: SidebarProps) {
  const [query, setQuery] = useState('');
  const { hits, error } = useSearch(query);
  return (
    <nav className="sidebar">
      <button className="primary" data-testid="new-chat" onClick={p.onNew}>
        + New chat
      </button>
      <input data-testid="search" type="search" placeholder="Search messages" value={query} onChange={(e) => setQuery(e.target.value)} />
      {query.trim() !== '' ? (
        <ul className="hits" data-testid="search-results">
          {error && <li className="error">{error}</li>}
          {!error && hits.length === 0 && <li className="muted">No matches</li>}
          {hits.map((h, i) => (
            <li key={`${h.conversationId}-${h.messageId ?? 't'}-${i}`} data-testid="search-hit">
              <button onClick={() => p.onOpen(h.conversationId)}>
                <strong>{h.conversationTitle}</strong>
                <span className="snippet">
                  {h.snippet.map((s, j) => (s.match ? <mark key={j}>{s.text}</mark> : <span key={j}>{s.text}</span>))}
                </span>
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <ul className="conversations" data-testid="conversations">
          {p.conversations.map((c) => (
            <ConversationItem key={c.id} c={c} active={c.id === p.activeId} onOpen={p.onOpen} onRename={p.onRename} onDelete={p.onDelete} />
          ))}
        </ul>
      )}
    </nav>
  );
}
