// The left column: the app's name, its views, and the conversations: search over every message (the store's FTS5
// index), pinned chats, the rest grouped by date, each with pin / rename / delete and a place for more actions.
import { useEffect, useState, type ReactNode } from 'react';
import type { Conversation, SearchHit } from '../../../shared/api';
import { api, value } from '../api';
import { useClock } from '../hooks/useClock';
import { AppNav, type AppNavProps } from './AppNav';
import { groupConversations } from './conversation-groups';
import { Icon } from './icons';

/** The conversation search box (the search shortcut focuses it). */
export const CONVERSATION_SEARCH_ID = 'conversation-search';

export interface SidebarProps {
  readonly nav: AppNavProps;
  readonly conversations: readonly Conversation[];
  readonly activeId: number | null;
  readonly pinned: ReadonlySet<number>;
  readonly onOpen: (id: number) => void;
  readonly onNew: () => void;
  readonly onRename: (id: number, title: string) => void;
  readonly onDelete: (id: number) => void;
  readonly onTogglePin: (id: number) => void;
  /** More actions of one conversation (export, ...), shown with its own; components/ConversationTransfer.tsx goes here. */
  readonly itemActions?: (c: Conversation) => ReactNode;
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

type ItemProps = { c: Conversation; active: boolean; pinned: boolean } & Pick<SidebarProps, 'onOpen' | 'onRename' | 'onDelete' | 'onTogglePin' | 'itemActions'>;

function ConversationItem({ c, active, pinned, onOpen, onRename, onDelete, onTogglePin, itemActions }: ItemProps) {
  const [title, setTitle] = useState<string | null>(null);
  if (title !== null) {
    const commit = () => {
      if (title.trim()) onRename(c.id, title.trim());
      setTitle(null);
    };
    return (
      <li className="conversation editing">
        <input
          data-testid="rename-input"
          aria-label={`New title for “${c.title}”`}
          autoFocus
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => e.key === 'Enter' && commit()}
        />
      </li>
    );
  }
  return (
    <li className={`conversation${active ? ' active' : ''}`} data-testid="conversation-item" data-id={c.id} data-pinned={pinned}>
      <button className="title" onClick={() => onOpen(c.id)} title={c.title} aria-current={active ? 'true' : undefined}>
        {c.title}
      </button>
      <span className="item-actions">
        <button className="icon-button" data-testid="pin" aria-label={pinned ? `Unpin “${c.title}”` : `Pin “${c.title}”`} aria-pressed={pinned} onClick={() => onTogglePin(c.id)}>
          <Icon name="pin" size={14} />
        </button>
        <button className="icon-button" data-testid="rename" aria-label={`Rename “${c.title}”`} onClick={() => setTitle(c.title)}>
          <Icon name="edit" size={14} />
        </button>
        <button className="icon-button" data-testid="delete" aria-label={`Delete “${c.title}”`} onClick={() => window.confirm(`Delete “${c.title}”?`) && onDelete(c.id)}>
          <Icon name="trash" size={14} />
        </button>
        {itemActions?.(c)}
      </span>
    </li>
  );
}

export function Sidebar(p: SidebarProps) {
  const [query, setQuery] = useState('');
  const { hits, error } = useSearch(query);
  const groups = groupConversations(p.conversations, p.pinned, useClock());
  return (
    <aside className="sidebar" aria-label="Views and conversations">
      <h1 className="brand">KVChat</h1>
      <AppNav {...p.nav} />
      <nav className="conversation-nav" aria-label="Conversations">
        <button className="primary new-chat" data-testid="new-chat" onClick={p.onNew}>
          <Icon name="plus" /> New chat
        </button>
        <div className="search-box">
          <Icon name="search" size={16} />
          <input
            id={CONVERSATION_SEARCH_ID}
            data-testid="search"
            type="search"
            aria-label="Search messages"
            placeholder="Search messages"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
        </div>
        {query.trim() !== '' ? (
          <ul className="hits" data-testid="search-results" aria-label="Search results">
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
          <div className="conversations" data-testid="conversations">
            {groups.length === 0 && <p className="muted empty-list">No conversations yet.</p>}
            {groups.map((g) => (
              <section key={g.name} className="conversation-group" aria-label={g.name} data-testid="conversation-group" data-group={g.name}>
                <h2 className="group-name">{g.name}</h2>
                <ul>
                  {g.conversations.map((c) => (
                    <ConversationItem
                      key={c.id}
                      c={c}
                      active={c.id === p.activeId}
                      pinned={p.pinned.has(c.id)}
                      onOpen={p.onOpen}
                      onRename={p.onRename}
                      onDelete={p.onDelete}
                      onTogglePin={p.onTogglePin}
                      {...(p.itemActions ? { itemActions: p.itemActions } : {})}
                    />
                  ))}
                </ul>
              </section>
            ))}
          </div>
        )}
      </nav>
    </aside>
  );
}
