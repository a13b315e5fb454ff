// The "Servers" panel: remote OpenAI-compatible servers a chat can run on. Add one (name, base URL, API key: the key
// goes to main and is never shown again, only "key set"), remove one, and see the models each one offers.
import { useState } from 'react';
import type { AddRemoteProviderRequest, RemoteProviderInfo } from '../../../shared/api';

/** A provider's models as last fetched: the list, or why it could not be had. */
export type RemoteModels = { readonly models: readonly string[] } | { readonly error: string } | { readonly loading: true };

export interface RemoteServersProps {
  readonly providers: readonly RemoteProviderInfo[];
  readonly models: ReadonlyMap<number, RemoteModels>;
  /** Resolves when the provider is stored; rejects with a message to show under the form. */
  readonly onAdd: (request: AddRemoteProviderRequest) => Promise<void>;
  readonly onRemove: (id: number) => void;
  readonly onRefreshModels: (id: number) => void;
}

function ModelList({ state }: { state: RemoteModels | undefined }) {
  if (!state || 'loading' in state) return <p className="muted">Asking for its models…</p>;
  if ('error' in state) {
    return (
      <p className="error" data-testid="remote-models-error" role="alert">
        {state.error}
      </p>
    );
  }
  if (state.models.length === 0) return <p className="muted">It offers no models.</p>;
  return (
    <ul className="remote-models" data-testid="remote-models">
      {state.models.map((m) => (
        <li key={m} data-testid="remote-model">
          {m}
        </li>
      ))}
    </ul>
  );
}

export function RemoteServers({ providers, models, onAdd, onRemove, onRefreshModels }: RemoteServersProps) {
  const [name, setName] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [apiKey, setApiKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const add = async () => {
    setSaving(true);
    setError(null);
    try {
      const request: AddRemoteProviderRequest = { name: name.trim(), baseUrl: baseUrl.trim(), ...(apiKey !== '' ? { apiKey } : {}) };
      try {
        await onAdd(request);
      } catch (e) {
        // A key over plain http:// to another machine is sent only once the user has said so.
        if ((e as { code?: unknown }).code !== 'insecure-key' || !window.confirm((e as Error).message)) throw e;
        await onAdd({ ...request, allowInsecureKey: true });
      }
      setName('');
      setBaseUrl('');
      setApiKey('');
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <section className="servers panel" data-testid="servers" aria-labelledby="servers-title">
      <h3 id="servers-title">Remote servers</h3>
      {providers.length === 0 && (
        <p className="muted" data-testid="servers-none">
          No remote server yet. Add an OpenAI-compatible server (llama.cpp&apos;s server, Ollama, LM Studio, a hosted API) to run chats on it.
        </p>
      )}
      <ul>
        {providers.map((p) => (
          <li key={p.id} data-testid="server-item" data-id={p.id}>
            <div className="server-head">
              <span className="name">{p.name}</span>
              <button data-testid="refresh-server" aria-label={`Refresh the models of ${p.name}`} onClick={() => onRefreshModels(p.id)}>
                Refresh
              </button>
              <button
                data-testid="remove-server"
                aria-label={`Remove ${p.name}`}
                onClick={() => {
                  if (window.confirm(`Remove the server “${p.name}”? Its chats stay, but cannot get new answers.`)) onRemove(p.id);
                }}
              >
                Remove
              </button>
            </div>
            <span className="meta">
              {p.baseUrl}
              {p.hasApiKey ? ' · key set' : ' · no key'}
            </span>
            <ModelList state={models.get(p.id)} />
          </li>
        ))}
      </ul>
      <form
        className="add-server"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <h4>Add a server</h4>
        <label className="field">
          <span>Name</span>
          <input data-testid="server-name" placeholder="My server" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="field">
          <span>Base URL</span>
          <input data-testid="server-url" placeholder="http://host:port/v1" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} />
        </label>
        <label className="field">
          <span>API key (optional)</span>
          <input data-testid="server-key" type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} />
        </label>
        <button data-testid="add-server" type="submit" disabled={saving || name.trim() === '' || baseUrl.trim() === ''}>
          Add server
        </button>
      </form>
      {error && (
        <p className="error" data-testid="server-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
