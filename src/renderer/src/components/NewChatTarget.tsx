// Where a new chat runs, chosen before its first message: the local model, or a model of a remote server.
import type { RemoteProviderInfo } from '../../../shared/api';
import type { RemoteModels } from './RemoteServers';

export type ChatTarget = { readonly kind: 'local' } | { readonly kind: 'remote'; readonly providerId: number | null; readonly model: string };

export interface NewChatTargetProps {
  readonly target: ChatTarget;
  readonly providers: readonly RemoteProviderInfo[];
  readonly models: ReadonlyMap<number, RemoteModels>;
  readonly onChange: (target: ChatTarget) => void;
}

function modelsOf(state: RemoteModels | undefined): readonly string[] {
  return state && 'models' in state ? state.models : [];
}

export function NewChatTarget({ target, providers, models, onChange }: NewChatTargetProps) {
  const remote = target.kind === 'remote' ? target : null;
  const choices = remote?.providerId != null ? modelsOf(models.get(remote.providerId)) : [];
  /** A provider picked: its first model, so that one click is enough when it has one. */
  const pickProvider = (providerId: number | null) =>
    onChange({ kind: 'remote', providerId, model: providerId === null ? '' : (modelsOf(models.get(providerId))[0] ?? '') });
  return (
    <fieldset className="new-chat-target" data-testid="new-chat-target">
      <legend>New chat runs</legend>
      <label>
        <input type="radio" name="chat-target" data-testid="target-local" checked={target.kind === 'local'} onChange={() => onChange({ kind: 'local' })} />
        with the local model
      </label>
      <label>
        <input
          type="radio"
          name="chat-target"
          data-testid="target-remote"
          checked={remote !== null}
          disabled={providers.length === 0}
          onChange={() => pickProvider(providers[0]?.id ?? null)}
        />
        on a remote server
      </label>
      {remote && (
        <>
          <select data-testid="target-server" aria-label="Server" value={remote.providerId ?? ''} onChange={(e) => pickProvider(e.target.value === '' ? null : Number(e.target.value))}>
            {providers.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
          <select data-testid="target-model" aria-label="Server model" value={remote.model} onChange={(e) => onChange({ ...remote, model: e.target.value })}>
            {!choices.includes(remote.model) && <option value={remote.model}>{remote.model === '' ? 'Choose a model' : remote.model}</option>}
            {choices.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </>
      )}
      {providers.length === 0 && <span className="muted"> (add a server under Servers / API to chat on one)</span>}
    </fieldset>
  );
}
