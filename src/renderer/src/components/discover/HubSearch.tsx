// The left column of Discover: the search box, the curated chat models (offline, shown first) and the search
// results with downloads, likes and the date of the last change.
import { useState } from 'react';
import type { CuratedModel, HubRepository } from '../../../../shared/api';
import type { HubStatus } from '../../hooks/useDiscover';
import { formatBytes, formatCount, formatDate } from './format';
import { HubStatusLine } from './HubStatusLine';

export interface HubSearchProps {
  readonly curated: readonly CuratedModel[];
  readonly results: readonly HubRepository[] | null;
  readonly status: HubStatus;
  readonly endpoint: string | undefined;
  readonly openId: string | null;
  readonly onSearch: (query: string) => void;
  readonly onOpen: (repo: string) => void;
  readonly onChooseCurated: (m: CuratedModel) => void;
}

export function HubSearch({ curated, results, status, endpoint, openId, onSearch, onOpen, onChooseCurated }: HubSearchProps) {
  const [query, setQuery] = useState('');
  return (
    <section className="hub-search" aria-label="Find models">
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          onSearch(query.trim());
        }}
      >
        <input data-testid="hub-search" aria-label="Search the Hugging Face Hub for GGUF models" placeholder="Search GGUF models (e.g. llama 3.2)" value={query} onChange={(e) => setQuery(e.target.value)} />
        <button type="submit" data-testid="hub-search-button" disabled={status.kind === 'busy'}>
          Search
        </button>
      </form>
      <HubStatusLine status={status} endpoint={endpoint} testId="hub-search-status" />
      {results !== null && (
        <ul aria-label="Search results" data-testid="hub-results" className="hub-list">
          {results.length === 0 && <li className="muted">No GGUF repository matches.</li>}
          {results.map((r) => (
            <li key={r.id}>
              <button data-testid="hub-result" data-repo={r.id} aria-current={r.id === openId} onClick={() => onOpen(r.id)}>
                <span className="name">{r.id}</span>
                <span className="meta">
                  ↓ {formatCount(r.downloads)} · ♥ {formatCount(r.likes)} · updated {formatDate(r.updatedAt)}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <h3>Recommended chat models</h3>
      <ul aria-label="Recommended chat models" data-testid="curated-models" className="hub-list">
        {curated.map((m) => (
          <li key={`${m.repo}/${m.file}`}>
            <button data-testid="curated-model" onClick={() => onChooseCurated(m)} title={`${m.repo}/${m.file}`}>
              <span className="name">{m.name}</span>
              <span className="meta">
                {formatBytes(m.size)} · {m.why}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
