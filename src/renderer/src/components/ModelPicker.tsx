// The chat header's model picker: which local model the chat runs on (loading it when chosen), its load state with
// progress, and what it needs in memory at its context (src/shared/model-fit.ts). A chat on a remote server shows
// that server instead.
import type { ModelInfo } from '../../../shared/api';
import { contextChoices, estimateFit, formatBytes, kvKindsOf, type KvType } from '../../../shared/model-fit';
import type { LoadOptions } from '../engine/protocol';
import type { ModelState } from '../hooks/useModels';

/** The KV type the estimate assumes when the user keeps the engine's default (f16 where the GPU has shader-f16). */
export const DEFAULT_KV_TYPE: KvType = 'f16';

const KV_TYPES: readonly { readonly value: LoadOptions['kvType']; readonly label: string }[] = [
  { value: undefined, label: 'KV f16 (default)' },
  { value: 'q8_0', label: 'KV q8_0 (½ memory)' },
  { value: 'q4_0', label: 'KV q4_0 (¼ memory)' },
];


export function modelStatusText(state: ModelState, name: string | undefined): string {
  switch (state.phase) {
    case 'none':
      return state.unloaded ? 'No model loaded' : 'No model: import one to start';
    case 'loading':
      return state.note ?? `Loading ${name ?? 'model'}… ${loadedShare(state.done, state.total)}`;
    case 'ready':
      return `${name ?? 'Model'} ready`;
    case 'error':
      return state.message;
  }
}

/** "42% (12.6 MB of 30 MB)": how far a load is. */
function loadedShare(done: number, total: number): string {
  if (total <= 0) return '0%';
  return `${Math.floor((100 * done) / total)}% (${formatBytes(done)} of ${formatBytes(total)})`;
}

/** Weights, KV cache at `contextLength` (default the model's own) and working buffers: what loading it takes. */
export function memoryEstimate(m: ModelInfo, kvType: KvType = DEFAULT_KV_TYPE, contextLength = m.contextLength): string {
  const d = m.details;
  const fit = estimateFit(
    { weightsBytes: m.size, layers: d.nLayers, kvHeads: d.nKvHeads, headDim: d.headDim, kvKinds: kvKindsOf(m.architecture), dim: d.dim, vocabSize: d.vocabSize },
    { maxBufferSize: Infinity, maxStorageBufferBindingSize: Infinity, memoryBytes: null },
    { contextLength, kvType },
  );
  return `≈ ${formatBytes(fit.totalBytes)} (KV ${formatBytes(fit.kvBytes)})`;
}

export interface ModelPickerProps {
  readonly models: readonly ModelInfo[];
  readonly selectedId: string | null;
  readonly state: ModelState;
  /** A remote chat: its server and model, shown instead of the local picker. */
  readonly remote: string | null;
  /** An answer is being written: the model cannot change under it. */
  readonly locked: boolean;
  readonly onSelect: (id: string) => void;
  /** The selected model's context length and KV type at load; a change loads it again. */
  readonly loadOptions: LoadOptions;
  readonly onLoadOptions: (o: LoadOptions) => void;
  /** Frees the loaded model (or stops its load); the chat then shows that no model is loaded. */
  readonly onUnload: () => void;
}

export function ModelPicker({ models, selectedId, state, remote, locked, onSelect, loadOptions, onLoadOptions, onUnload }: ModelPickerProps) {
  const selected = models.find((m) => m.id === selectedId);
  const context = selected ? Math.min(loadOptions.contextLength ?? selected.contextLength, selected.contextLength) : 0;
  const kvType = loadOptions.kvType ?? DEFAULT_KV_TYPE;
  const loading = state.phase === 'loading';
  return (
    <div className="model-picker">
      {remote !== null ? (
        <span className="backend remote" data-testid="chat-backend" data-backend="remote">
          Remote: {remote}
        </span>
      ) : (
        <>
          <span className="backend local" data-testid="chat-backend" data-backend="local">
            Local
          </span>
          <label className="picker-field">
            <span className="visually-hidden">Model</span>
            <select
              data-testid="model-picker"
              title={selected ? `${context} tokens of context; needs ${memoryEstimate(selected, kvType, context)}` : undefined}
              value={selectedId ?? ''} disabled={locked || models.length === 0} onChange={(e) => e.target.value && onSelect(e.target.value)}>
              {selectedId === null && <option value="">{models.length === 0 ? 'No model' : 'No model loaded: pick one'}</option>}
              {models.map((m) => (
                <option key={m.id} value={m.id} disabled={!m.available}>
                  {m.name} ({m.quantization}){m.available ? '' : ' – missing'}
                </option>
              ))}
            </select>
          </label>
          {selected && (
            <>
              <label className="picker-field">
                <span className="visually-hidden">Context length at load</span>
                <select
                  data-testid="load-context"
                  value={context}
                  disabled={locked}
                  onChange={(e) => {
                    const c = Number(e.target.value);
                    const { kvType: kv } = loadOptions;
                    onLoadOptions({ ...(kv ? { kvType: kv } : {}), ...(c !== selected.contextLength ? { contextLength: c } : {}) });
                  }}>
                  {contextChoices(selected.contextLength).map((c) => (
                    <option key={c} value={c}>
                      {c} ctx
                    </option>
                  ))}
                </select>
              </label>
              <label className="picker-field">
                <span className="visually-hidden">KV cache type at load</span>
                <select
                  data-testid="load-kv-type"
                  value={loadOptions.kvType ?? ''}
                  disabled={locked}
                  onChange={(e) => {
                    const kv = e.target.value === 'q8_0' || e.target.value === 'q4_0' ? e.target.value : undefined;
                    const { contextLength: c } = loadOptions;
                    onLoadOptions({ ...(kv ? { kvType: kv } : {}), ...(c ? { contextLength: c } : {}) });
                  }}>
                  {KV_TYPES.map((t) => (
                    <option key={t.label} value={t.value ?? ''}>
                      {t.label}
                    </option>
                  ))}
                </select>
              </label>
              <span className="muted model-facts" data-testid="model-memory" title="Weights, KV cache at the chosen context and type, and working buffers">
                {memoryEstimate(selected, kvType, context)}
              </span>
            </>
          )}
        </>
      )}
      <span data-testid="model-status" data-phase={state.phase} className={`model-status ${state.phase}`} role="status">
        {modelStatusText(state, selected?.name)}
      </span>
      {loading && state.total > 0 && <progress className="load-progress" aria-label="Loading the model" max={state.total} value={state.done} />}
      {remote === null && loading && selectedId !== null && (
        <button type="button" data-testid="cancel-load" onClick={onUnload}>
          Cancel
        </button>
      )}
      {remote === null && state.phase === 'ready' && (
        <button type="button" data-testid="unload-model" disabled={locked} title="Free the model's GPU memory; chats keep their saved KV cache" onClick={onUnload}>
          Unload
        </button>
      )}
    </div>
  );
}
