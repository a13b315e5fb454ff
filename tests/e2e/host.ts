// The test host: the real main-process services (SQLite store, model library with the bundled default model,
// API handlers) behind a local HTTP server instead of Electron. It serves the built renderer, model bytes with
// HTTP Range (the same handler as the kvchat-model:// protocol), and the typed KvChatApi over a WebSocket
// (tests/e2e and `src/renderer/src/transport`): binary frames, byte payloads as raw attachments.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { totalmem } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { createApiHandlers, invokeApi, openApiServices, throttleProgress, type ApiValue } from '../../src/main/api-handlers';
import { API_SCHEMAS, type ApiMethod } from '../../src/main/api-schemas';
import { ensureDefaultModel } from '../../src/main/models/default-model';
import { throttleDownloadEvents } from '../../src/main/models/hub-service';
import { handleModelRequest } from '../../src/main/models/model-protocol';
import type { SecretCipher } from '../../src/main/remote';
import { CHANNELS, modelUrl, type ApiResult, type BridgeToRenderer, type RemoteDelta } from '../../src/shared/api';
import { decodeFrame, encodeFrame, type WireRequest } from '../../src/renderer/src/transport/wire';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface HostOptions {
  /** Holds kvchat.sqlite and models/; reuse it to "restart the app". */
  readonly dataDir: string;
  /** The built renderer (index.html and assets). */
  readonly staticDir: string;
  /** 0: any free port. */
  readonly port?: number;
  /** The Hub endpoint (a loopback tests/helpers/hub-server.ts); without it the Hub is unreachable (offline). */
  readonly hubEndpoint?: string;
}

export interface TestHost {
  readonly url: string;
  readonly port: number;
  /** Paths the next "Import model" dialogs return, in order (then: cancelled). */
  readonly pickQueue: string[];
  /** Folders the next "Link a folder" dialogs return, in order (then: cancelled). */
  readonly folderQueue: string[];
  /** Model requests wait while this is set (to see the loading state); clearing it lets them through. */
  holdModels: Promise<void> | null;
  /** Calls the API as the renderer would (for assertions on what was stored). */
  call<M extends ApiMethod>(method: M, payload?: unknown): Promise<ApiResult<ApiValue<M>>>;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
};

function serveStatic(staticDir: string, pathname: string, res: ServerResponse): void {
  const rel = normalize(decodeURIComponent(pathname === '/' ? '/index.html' : pathname)).replace(/^(\.\.[/\\])+/, '');
  const file = join(staticDir, rel);
  if (!file.startsWith(staticDir) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${pathname}`);
    return;
  }
  res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
  createReadStream(file).pipe(res);
}

/** Stands in for Electron's safeStorage: real AES-256-GCM with a key that lives as long as the host process. */
const HOST_SECRET = randomBytes(32);
export const hostCipher: SecretCipher = {
  available: () => true,
  encrypt(plain) {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', HOST_SECRET, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]);
  },
  decrypt(b) {
    const d = createDecipheriv('aes-256-gcm', HOST_SECRET, b.subarray(0, 12));
    d.setAuthTag(b.subarray(12, 28));
    return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
  },
};

export async function startHost(o: HostOptions): Promise<TestHost> {
  mkdirSync(o.dataDir, { recursive: true });
  const pickQueue: string[] = [];
  const folderQueue: string[] = [];
  let holdModels: Promise<void> | null = null;
  let port = o.port ?? 0;
  const services = openApiServices({
    databaseFile: join(o.dataDir, 'kvchat.sqlite'),
    modelsDir: join(o.dataDir, 'models'),
    appInfo: () => ({ name: 'KVChat', version: '0.1.0', platform: process.platform, electron: '', chrome: '', memoryBytes: totalmem() }),
    pickModelFile: async () => pickQueue.shift() ?? null,
    pickModelFolder: async () => folderQueue.shift() ?? null,
    cipher: hostCipher,
    // Never the real Hub: a loopback one, or a closed port (Discover then says it is offline).
    env: { HF_ENDPOINT: o.hubEndpoint ?? 'http://127.0.0.1:9' },
  });
  const handlers = createApiHandlers({ ...services, modelUrl: (id) => `http://localhost:${port}/models/${encodeURIComponent(id)}` });
  await ensureDefaultModel(services.library, join(REPO, 'resources'));

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const model = /^\/models\/([^/]+)$/.exec(url.pathname);
    if (!model) return serveStatic(o.staticDir, url.pathname, res);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    // The query names a split model's part (`?part=k`).
    (holdModels ?? Promise.resolve())
      .then(() => handleModelRequest(services.library, { url: `${modelUrl(decodeURIComponent(model[1]!))}${url.search}`, method: req.method ?? 'GET', headers }))
      .then((r) => {
        res.writeHead(r.status, r.headers);
        if (r.body) Readable.fromWeb(r.body as import('node:stream/web').ReadableStream).pipe(res);
        else res.end();
      })
      .catch((e: unknown) => res.writeHead(500).end(String(e)));
  });

  const uploads = join(o.dataDir, 'uploads');
  let uploadCount = 0;
  /** The web client sends a dropped file's bytes; Electron's preload would send its path. */
  const importUploaded = (payload: unknown): unknown => {
    const p = payload as { fileName?: unknown; bytes?: unknown; copy?: unknown } | undefined;
    if (!p || !(p.bytes instanceof Uint8Array) || typeof p.fileName !== 'string') return payload;
    mkdirSync(uploads, { recursive: true });
    const path = join(uploads, `${++uploadCount}-${p.fileName.replace(/[^\w.-]/g, '_')}`);
    writeFileSync(path, p.bytes);
    return { path, copy: p.copy };
  };

  const wss = new WebSocketServer({ server, path: '/api', maxPayload: 2 ** 31 - 1 });
  // Download progress goes to every page, as main sends it to every window.
  services.downloads?.subscribe(
    throttleDownloadEvents((e) => {
      for (const c of wss.clients) if (c.readyState === c.OPEN) c.send(encodeFrame({ event: CHANNELS.onDownloadProgress, payload: e }));
    }),
  );
  services.downloads?.start();
  wss.on('connection', (socket: WebSocket) => {
    // The local API server's requests reach this page's engine as events (as Electron's webContents.send would).
    const onServerBridge = (m: BridgeToRenderer): void => {
      if (socket.readyState === socket.OPEN) socket.send(encodeFrame({ event: CHANNELS.onServerBridge, payload: m }));
    };
    socket.on('close', () => services.bridgeChannel?.detach(onServerBridge));
    socket.on('message', async (data: Buffer) => {
      let request: WireRequest;
      try {
        request = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) as WireRequest;
      } catch (e) {
        socket.close(1003, (e as Error).message.slice(0, 120));
        return;
      }
      const onImportProgress = throttleProgress((progress) => socket.send(encodeFrame({ event: CHANNELS.onModelImportProgress, payload: progress })));
      if (!Object.hasOwn(API_SCHEMAS, request.method)) {
        socket.send(encodeFrame({ id: request.id, result: { ok: false, error: { code: 'invalid-request', message: `no API method ${String(request.method).slice(0, 60)}` } } }));
        return;
      }
      const payload = request.method === 'importDroppedModel' ? importUploaded(request.payload) : request.payload;
      const onRemoteDelta = (delta: RemoteDelta): void => {
        if (socket.readyState === socket.OPEN) socket.send(encodeFrame({ event: CHANNELS.onRemoteDelta, payload: delta }));
      };
      const result = await invokeApi(handlers, request.method as ApiMethod, payload, { onImportProgress, onRemoteDelta, onServerBridge });
      if (socket.readyState === socket.OPEN) socket.send(encodeFrame({ id: request.id, result }));
    });
  });

  await new Promise<void>((ok) => server.listen(port, ok));
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}/`,
    port,
    pickQueue,
    folderQueue,
    get holdModels() {
      return holdModels;
    },
    set holdModels(gate) {
      holdModels = gate;
    },
    call: (method, payload) => invokeApi(handlers, method, payload),
    close: async () => {
      await services.localServer?.close();
      await services.downloads?.close();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      services.db.close();
    },
  };
}
