// The "Local API server" setting: off by default; when on, main serves the loaded model on 127.0.0.1 with the
// OpenAI API (an optional key required of clients). Shows the URL while it listens, or why it does not.
import { useEffect, useState } from 'react';
import type { LocalServerInfo } from '../../../shared/api';
import { api, value } from '../api';

export function LocalServer({ modelLoaded }: { readonly modelLoaded: boolean }) {
  const [info, setInfo] = useState<LocalServerInfo | null>(null);
  const [port, setPort] = useState('11435');
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void value(api.getLocalServer())
      .then((i) => {
        setInfo(i);
        setPort(String(i.port));
      })
      .catch((e: unknown) => setError((e as Error).message));
  }, []);
  // The server follows the loaded model (it starts once one is ready): ask again when that changes.
  useEffect(() => {
    if (!info?.enabled) return;
    const t = setTimeout(() => void value(api.getLocalServer()).then(setInfo).catch(() => {}), 300);
    return () => clearTimeout(t);
  }, [modelLoaded, info]);

  const apply = async (enabled: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const n = Number(port);
      if (!Number.isInteger(n) || n < 1024 || n > 65535) throw new Error('The port must be a whole number from 1024 to 65535');
      setInfo(await value(api.setLocalServer({ enabled, port: n, apiKey: key })));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const enabled = info?.enabled ?? false;
  return (
    <section className="local-server panel" data-testid="local-server" aria-labelledby="local-server-title">
      <h3 id="local-server-title">Local API server</h3>
      <label className="check">
        <input type="checkbox" data-testid="local-server-toggle" checked={enabled} disabled={busy || info === null} onChange={(e) => void apply(e.target.checked)} />
        <span>Serve the loaded model with the OpenAI API (this computer only)</span>
      </label>
      <label className="field">
        <span>Port</span>
        <input data-testid="local-server-port" inputMode="numeric" value={port} disabled={enabled} onChange={(e) => setPort(e.target.value)} />
      </label>
      <label className="field">
        <span>API key (optional)</span>
        <input data-testid="local-server-key" type="password" autoComplete="off" value={key} disabled={enabled} onChange={(e) => setKey(e.target.value)} />
      </label>
      {enabled && info?.url && (
        <p data-testid="local-server-url">
          <code>{info.url}</code>
        </p>
      )}
      {enabled && !info?.url && (
        <p className="muted" data-testid="local-server-message">
          {modelLoaded ? (info?.problem ?? 'Starting…') : 'No model is loaded: load one to serve it.'}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
