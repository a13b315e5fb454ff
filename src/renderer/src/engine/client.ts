// The UI thread's side of the engine worker: starts it, answers its store calls through the API, and hands
// its events to whoever listens (the React app).
import type { BridgeToRenderer, KvChatApi } from '../../../shared/api';
import type { FromWorker, GenerateRequest, ToWorker } from './protocol';

export type EngineEvent = Exclude<FromWorker, { type: 'store-call' }>;

export class EngineClient {
  private readonly worker: Worker;
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private nextRequestId = 1;

  constructor(private readonly api: KvChatApi) {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'kvchat-engine' });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    this.worker.onerror = (e) => this.emit({ type: 'load-error', modelId: '', code: 'worker-failed', message: `The engine worker failed: ${e.message}` });
  }

  on(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  load(modelId: string, url: string, fingerprint: string): void {
    this.send({ type: 'load', modelId, url, fingerprint });
  }

  open(conversationId: number): void {
    this.send({ type: 'open', conversationId });
  }

  forget(conversationId: number): void {
    this.send({ type: 'forget', conversationId });
  }

  /** Returns the request id (for stop and for matching token events). */
  generate(request: Omit<GenerateRequest, 'type' | 'requestId'>): number {
    const requestId = this.nextRequestId++;
    this.send({ type: 'generate', requestId, ...request });
    return requestId;
  }

  stop(requestId: number): void {
    this.send({ type: 'stop', requestId });
  }

  /** A local-server request from main, for the loaded engine. */
  serverRequest(m: BridgeToRenderer): void {
    if (m.type === 'generate') this.send({ type: 'server-generate', id: m.id, tokens: m.tokens, options: m.options });
    else this.send({ type: 'server-abort', id: m.id });
  }

  /** Diagnostics: makes the worker lose its GPU device, which it must survive (reload, resume from the store). */
  loseDevice(): void {
    this.send({ type: 'lose-device' });
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
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
