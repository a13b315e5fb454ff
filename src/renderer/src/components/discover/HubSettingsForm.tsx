// The Hub endpoint (a mirror) and an optional Hugging Face token for gated repositories. The token goes to main,
// which keeps it encrypted and sends it to the endpoint's origin only; it never comes back.
import { useState } from 'react';
import type { HubSettings } from '../../../../shared/api';

export function HubSettingsForm({ settings, onSave }: { settings: HubSettings | null; onSave: (changes: { endpoint?: string | null; token?: string | null }) => Promise<void> }) {
  const [endpoint, setEndpoint] = useState(settings?.endpointSetting ?? '');
  const [token, setToken] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const save = (changes: { endpoint?: string | null; token?: string | null }): void => {
    onSave(changes).then(
      () => {
        setToken('');
        setMessage('Saved');
      },
      (e: Error) => setMessage(e.message),
    );
  };
  return (
    <details className="hub-settings">
      <summary>Hub settings</summary>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save({ endpoint: endpoint.trim() || null, ...(token ? { token } : {}) });
        }}
      >
        <label>
          Hub endpoint <span className="muted">(now {settings?.endpoint ?? '…'})</span>
          <input data-testid="hub-endpoint" value={endpoint} placeholder="https://huggingface.co (or HF_ENDPOINT)" onChange={(e) => setEndpoint(e.target.value)} />
        </label>
        <label>
          Hugging Face token <span className="muted">{settings?.hasToken ? '(one is stored)' : '(for gated repositories)'}</span>
          <input data-testid="hub-token" type="password" autoComplete="off" value={token} disabled={settings?.canStoreToken === false} onChange={(e) => setToken(e.target.value)} />
        </label>
        <button type="submit">Save</button>
        {settings?.hasToken && (
          <button type="button" onClick={() => save({ token: null })}>
            Remove token
          </button>
        )}
        {message && <span role="status">{message}</span>}
      </form>
    </details>
  );
}
