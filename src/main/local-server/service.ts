// The local OpenAI-compatible server as the app runs it: off by default; when enabled and a model is loaded in the
// renderer's engine, startOpenAiServer listens on 127.0.0.1:port over an EngineBridge to that engine. The
// tokenizer and chat template come from the same model file, read here in main. A new model, port or key restarts it.
// Enabled with no model loaded (or while one loads), the port is held and answers 503 model_not_loaded, so a
// client learns why instead of meeting a refused connection.
import { basename } from 'node:path';
import { openGgufFile } from '../../node/file-source';
import { tokenizerFromGguf } from '../../gpu/tokenizer';
import { startOpenAiServer, startUnavailableServer, type OpenAiServer, type UnavailableServer } from '../../server';
import type { BridgeFromRenderer, LocalServerInfo } from '../../shared/api';
import { EngineBridge, type BridgeTransport } from './bridge';

export const DEFAULT_LOCAL_SERVER_PORT = 11435;
const HOST = '127.0.0.1';

export interface LocalServerOptions {
  readonly transport: BridgeTransport;
  /** The model file behind a library id (ModelLibrary.servedFile). */
  readonly modelFile: (id: string) => Promise<{ readonly path: string }>;
  readonly log?: (line: string) => void;
}

type LoadedModel = Extract<BridgeFromRenderer, { type: 'model' }> & { readonly modelId: string };

interface Running {
  readonly key: string;
  readonly server: OpenAiServer;
  readonly bridge: EngineBridge;
  readonly closeFile: () => Promise<void>;
}

export class LocalServerService {
  private enabled = false;
  private port = DEFAULT_LOCAL_SERVER_PORT;
  private apiKey: string | undefined;
  private model: LoadedModel | null = null;
  private running: Running | null = null;
  /** The port held while enabled without a model, and the port it was taken for. */
  private holding: { readonly port: number; readonly server: UnavailableServer } | null = null;
  private problem: string | null = null;
  /** Starts and stops run one after another, so a quick toggle never leaves two servers. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: LocalServerOptions) {
    o.transport.onMessage((m) => {
      if (m.type !== 'model') return;
      this.model = m.modelId === null ? null : (m as LoadedModel);
      void this.reconcile();
    });
  }

  info(): LocalServerInfo {
    const problem = this.enabled && !this.running ? (this.problem ?? (this.model ? 'starting' : 'no model is loaded: load one to serve it')) : null;
    return { enabled: this.enabled, url: this.running ? `${this.running.server.url}/v1` : null, port: this.port, hasApiKey: this.apiKey !== undefined, problem };
  }

  /** apiKey: a key to require, '' to require none, undefined to keep the current one. Resolves once applied. */
  async set(s: { readonly enabled: boolean; readonly port: number; readonly apiKey?: string | undefined }): Promise<LocalServerInfo> {
    this.enabled = s.enabled;
    this.port = s.port;
    if (s.apiKey !== undefined) this.apiKey = s.apiKey === '' ? undefined : s.apiKey;
    await this.reconcile();
    return this.info();
  }

  async close(): Promise<void> {
    this.enabled = false;
    await this.reconcile();
  }

  private reconcile(): Promise<void> {
    this.queue = this.queue.then(() => this.apply()).catch((e: unknown) => {
      this.problem = e instanceof Error ? e.message : String(e);
    });
    return this.queue;
  }

  private async apply(): Promise<void> {
    const model = this.model;
    const key = this.enabled && model ? JSON.stringify([model.modelId, model.contextLength, model.kvBlocks, this.port, this.apiKey ?? null]) : null;
    const holdPort = this.enabled && !model ? this.port : null;
    if (this.running?.key === key && (this.holding?.port ?? null) === holdPort) return;
    if (this.running?.key !== key) await this.stop();
    if ((this.holding?.port ?? null) !== holdPort) await this.release();
    this.problem = null;
    try {
      if (holdPort !== null && !this.holding) {
        const server = await startUnavailableServer({ host: HOST, port: holdPort, reason: 'No model is loaded in KVChat: load one to serve it.', code: 'model_not_loaded', retryAfterS: 10 });
        this.holding = { port: holdPort, server };
      }
      if (key !== null && model && !this.running) this.running = await this.start(key, model);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'EADDRINUSE' ? `port ${this.port} is in use: choose another` : `could not start: ${(e as Error).message}`, { cause: e });
    }
  }

  private async release(): Promise<void> {
    const h = this.holding;
    this.holding = null;
    await h?.server.close();
  }

  private async start(key: string, model: LoadedModel): Promise<Running> {
    const { path } = await this.o.modelFile(model.modelId);
    const { file, close } = await openGgufFile(path);
    const bridge = new EngineBridge(this.o.transport, model);
    try {
      const server = await startOpenAiServer({
        engine: bridge,
        tokenizer: tokenizerFromGguf(file.metadata),
        metadata: file.metadata,
        modelId: basename(path).replace(/\.gguf$/i, ''),
        host: HOST,
        port: this.port,
        ...(this.apiKey !== undefined ? { apiKey: this.apiKey } : {}),
        ...(this.o.log ? { log: this.o.log } : {}),
      });
      return { key, server, bridge, closeFile: close };
    } catch (e) {
      bridge.dispose();
      await close();
      throw e;
    }
  }

  private async stop(): Promise<void> {
    const r = this.running;
    if (!r) return;
    this.running = null;
    // Requests in flight are aborted by close(); a renderer that no longer answers must not hold it open.
    const closing = r.server.close();
    setTimeout(() => r.bridge.failAll('the local server stopped'), 2000).unref();
    await closing;
    r.bridge.dispose();
    await r.closeFile();
  }
}
