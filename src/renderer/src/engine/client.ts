// The UI thread's side of the engine worker: starts it, answers its store calls through the API, relays the local
// server's requests (main <-> worker, see local-server-relay.ts) and hands its events to whoever listens (the app).
import type { KvChatApi } from '../../../shared/api';
import { startLocalServerRelay } from './local-server-relay';
import type { FromWorker, GenerateRequest, LoadOptions, ToWorker } from './protocol';

export type EngineEvent = Exclude<FromWorker, { type: 'store-call' }>;

/** How an answer ends: its text and stats, or the engine's error. */
export type Finished = Extract<EngineEvent, { type: 'done' } | { type: 'generate-error' }>;

export interface Generation {
  /** The request number: for stop and for matching its token events. */
  readonly requestId: number;
  readonly finished: Promise<Finished>;
}

export class EngineClient {
  private readonly worker: Worker;
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  /** Answers in flight, by request number. */
  private readonly pending = new Map<number, (r: Finished) => void>();
  private readonly relayToServer: (e: EngineEvent) => void;
  private nextRequestId = 1;

  constructor(private readonly api: KvChatApi) {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'kvchat-engine' });
    this.relayToServer = startLocalServerRelay(api, (m) => this.send(m));
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    this.worker.onerror = (e) => this.emit({ type: 'load-error', modelId: '', code: 'worker-failed', message: `The engine worker failed: ${e.message}` });
  }

  on(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  load(modelId: string, url: string, fingerprint: string, options: LoadOptions = {}): void {
    this.send({ type: 'load', modelId, url, fingerprint, ...options });
  }

  /** Frees the model and the GPU device; an 'unloaded' event follows once answers in flight have persisted. */
  unload(): void {
    this.send({ type: 'unload' });
  }

  open(conversationId: number): void {
    this.send({ type: 'open', conversationId });
  }

  forget(conversationId: number): void {
    this.send({ type: 'forget', conversationId });
  }

  /** Starts an answer; its tokens arrive as 'token' events, its end settles `finished`. */
  generate(request: Omit<GenerateRequest, 'type' | 'requestId'>): Generation {
    const requestId = this.nextRequestId++;
    const finished = new Promise<Finished>((resolve) => this.pending.set(requestId, resolve));
    this.send({ type: 'generate', requestId, ...request });
    return { requestId, finished };
  }

  stop(requestId: number): void {
    this.send({ type: 'stop', requestId });
  }

  /** "Re-tune kernels": forgets the variants measured on this device (answered by 'tuning-cleared'). */
  forgetTuning(): void {
    this.send({ type: 'forget-tuning' });
  }

  /** Diagnostics: makes the worker lose its GPU device, which it must survive (reload, resume from the store). */
  loseDevice(): void {
    this.send({ type: 'lose-device' });
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private emit(e: EngineEvent): void {
    this.relayToServer(e);
    for (const l of this.listeners) l(e);
    if (e.type === 'done' || e.type === 'generate-error') {
      this.pending.get(e.requestId)?.(e);
      this.pending.delete(e.requestId);
    }
  }

  private receive(m: FromWorker): void {
    if (m.type !== 'store-call') {
      this.emit(m);
      return;
    }
    const call = this.api[m.method] as (payload?: unknown) => Promise<unknown>;
    void call(m.payload).then((result) => this.send({ type: 'store-result', callId: m.callId, result: result as never }));
  }
}
