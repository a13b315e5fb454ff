// The engine as the local server sees it (src/server's ServerEngine), in the main process, forwarding each
// generation to the real engine in the renderer's Web Worker over a BridgeTransport: a request with an id, its
// tokens streamed back one by one, then a final result or an error. Sequences are bridge-local ids: the worker
// creates and releases a real sequence per request, so nothing is held there between requests.
import type { GenerateOptions, GenerateResult } from '../../gpu/engine/engine';
import type { ServerEngine } from '../../server';
import type { BridgeFromRenderer, BridgeResult, BridgeSampling, BridgeToRenderer } from '../../shared/api';

/** How main and the renderer exchange bridge messages (Electron IPC in the app, a WebSocket in the test host). */
export interface BridgeTransport {
  send(message: BridgeToRenderer): void;
  /** Returns the unsubscribe function. */
  onMessage(listener: (message: BridgeFromRenderer) => void): () => void;
}

export class BridgeError extends Error {
  constructor(
    readonly code: 'engine-failed' | 'disconnected' | 'bad-sequence',
    message: string,
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

interface Pending {
  readonly onToken: ((token: number) => void) | undefined;
  readonly resolve: (r: BridgeResult) => void;
  readonly reject: (e: Error) => void;
}

export class EngineBridge implements ServerEngine {
  readonly config: { readonly contextLength: number };
  readonly pool: { readonly blocks: number };
  private nextSeq = 1;
  private nextRequest = 1;
  private readonly sequences = new Set<number>();
  private readonly pending = new Map<number, Pending>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly transport: BridgeTransport,
    model: { readonly contextLength: number; readonly kvBlocks: number },
  ) {
    this.config = { contextLength: model.contextLength };
    this.pool = { blocks: model.kvBlocks };
    this.unsubscribe = transport.onMessage((m) => this.receive(m));
  }

  createSequence(): number {
    const seq = this.nextSeq++;
    this.sequences.add(seq);
    return seq;
  }

  releaseSequence(seq: number): void {
    this.sequences.delete(seq);
  }

  async generate(seq: number, tokens: readonly number[], opts: GenerateOptions): Promise<Pick<GenerateResult, 'tokens' | 'stopReason' | 'cachedTokens'>> {
    if (!this.sequences.has(seq)) throw new BridgeError('bad-sequence', `sequence ${seq} was not created by this bridge or was released`);
    const id = this.nextRequest++;
    const signal = opts.signal;
    const onAbort = (): void => this.transport.send({ type: 'abort', id });
    try {
      return await new Promise<BridgeResult>((resolve, reject) => {
        this.pending.set(id, { onToken: opts.onToken, resolve, reject });
        this.transport.send({ type: 'generate', id, tokens: [...tokens], options: { maxNewTokens: opts.maxNewTokens, sampling: samplingOf(opts), stopTokens: [...(opts.stopTokens ?? [])] } });
        // Aborted before or while it runs: the worker stops it and answers 'done' with stopReason 'aborted'.
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
    } finally {
      this.pending.delete(id);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The renderer went away or switched models: every request in flight fails with `reason`. */
  failAll(reason: string): void {
    for (const p of this.pending.values()) p.reject(new BridgeError('disconnected', reason));
    this.pending.clear();
  }

  dispose(reason = 'the local server stopped'): void {
    this.unsubscribe();
    this.failAll(reason);
  }

  private receive(m: BridgeFromRenderer): void {
    if (m.type === 'model') return;
    const p = this.pending.get(m.id);
    if (!p) return; // an answer to a request already settled (failed over, or a late token)
    if (m.type === 'token') p.onToken?.(m.token);
    else if (m.type === 'done') p.resolve(m.result);
    else p.reject(new BridgeError('engine-failed', `The engine failed: ${m.message}`));
  }
}

/** Only the sampling fields the bridge carries (structured-clone/JSON safe). */
function samplingOf(opts: GenerateOptions): BridgeSampling {
  const s = opts.sampling ?? {};
  const out: Record<string, number> = {};
  for (const k of ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'repetitionWindow', 'seed'] as const) {
    const v = (s as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}
