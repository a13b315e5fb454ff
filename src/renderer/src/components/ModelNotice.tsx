// What the chat says when the local model cannot answer: none is loaded (it was unloaded, or the library is empty),
// its load failed (retry), or the GPU was lost and the model is loading again. Each says what to do next.
import type { ModelState } from '../hooks/useModels';
import { Icon } from './icons';

export interface ModelNoticeProps {
  readonly state: ModelState;
  /** Models in the library that can be loaded. */
  readonly available: number;
  readonly onDiscover: () => void;
  readonly onMyModels: () => void;
  /** Loads the selected model again after a failed load. */
  readonly onRetry: () => void;
}

/** The chat's notice for `state`, or nothing when a model is ready or loading normally. */
export function ModelNotice({ state, available, onDiscover, onMyModels, onRetry }: ModelNoticeProps) {
  if (state.phase === 'none') {
    return (
      <section className="notice" data-testid="no-model" aria-labelledby="no-model-title">
        <Icon name="models" size={22} />
        <div>
          <h2 id="no-model-title">No model is loaded</h2>
          <p className="muted">
            {available > 0
              ? 'Pick a model in the list above to chat; a past chat resumes from its saved KV cache. Or find another one.'
              : 'The library has no model yet. Download a suggested one, or import or link the .gguf files you have.'}
          </p>
          <div className="notice-actions">
            <button type="button" data-testid="no-model-discover" onClick={onDiscover}>
              Open Discover
            </button>
            <button type="button" data-testid="no-model-my-models" onClick={onMyModels}>
              My models
            </button>
          </div>
        </div>
      </section>
    );
  }
  if (state.phase === 'error') {
    return (
      <section className="notice error-notice" data-testid="load-failed" aria-labelledby="load-failed-title">
        <Icon name="close" size={22} />
        <div>
          <h2 id="load-failed-title">The model could not be loaded</h2>
          <p data-testid="load-failed-message">{state.message}</p>
          <div className="notice-actions">
            <button type="button" className="primary" data-testid="load-retry" onClick={onRetry}>
              Try again
            </button>
            <button type="button" data-testid="load-failed-my-models" onClick={onMyModels}>
              My models
            </button>
          </div>
        </div>
      </section>
    );
  }
  return null;
}

/** The banner while the GPU device is lost and the model loads again. */
export function GpuRecoveryBanner({ state }: { readonly state: ModelState }) {
  if (state.phase !== 'loading' || !state.recovering) return null;
  const percent = state.total > 0 ? ` (${Math.floor((100 * state.done) / state.total)}%)` : '';
  return (
    <div className="banner warning" role="status" data-testid="gpu-recovering">
      <Icon name="gauge" size={16} />
      <span>
        The GPU was reset. Reloading the model{percent}; your chats continue from their saved KV cache, nothing is lost.
      </span>
    </div>
  );
}
