// KvChatApi over a WebSocket to the test host (tests/e2e/host.ts), used when the Electron preload is absent:
// the same typed verbs, the same ApiResults, answered by the real main-process services.
import { CHANNELS, type ApiResult, type BridgeToRenderer, type DownloadEvent, type KvChatApi, type ModelImportProgress, type ModelInfo, type RemoteDelta } from '../../../shared/api';
import { decodeFrame, encodeFrame, type WireReply } from './wire';

type Method = keyof KvChatApi;

export function createSocketApi(url: string): KvChatApi {
  let nextId = 1;
  const pending = new Map<number, (r: ApiResult<unknown>) => void>();
  const progressListeners = new Set<(p: ModelImportProgress) => void>();
  const deltaListeners = new Set<(d: RemoteDelta) => void>();
  const openedListeners = new Set<(m: ModelInfo) => void>();
  const bridgeListeners = new Set<(m: BridgeToRenderer) => void>();
  const downloadListeners = new Set<(e: DownloadEvent) => void>();
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot reach the KVChat host at ${url}`)), { once: true });
  });
  socket.addEventListener('message', (e: MessageEvent<ArrayBuffer>) => {
    const reply = decodeFrame(new Uint8Array(e.data)) as WireReply;
    if ('event' in reply) {
      if (reply.event === CHANNELS.onModelImportProgress) progressListeners.forEach((l) => l(reply.payload as ModelImportProgress));
      if (reply.event === CHANNELS.onModelOpened) openedListeners.forEach((l) => l(reply.payload as ModelInfo));
      if (reply.event === CHANNELS.onRemoteDelta) deltaListeners.forEach((l) => l(reply.payload as RemoteDelta));
      if (reply.event === CHANNELS.onServerBridge) bridgeListeners.forEach((l) => l(reply.payload as BridgeToRenderer));
      if (reply.event === CHANNELS.onDownloadProgress) downloadListeners.forEach((l) => l(reply.payload as DownloadEvent));
      return;
    }
    pending.get(reply.id)?.(reply.result as ApiResult<unknown>);
    pending.delete(reply.id);
  });
  socket.addEventListener('close', () => {
    for (const settle of pending.values()) settle({ ok: false, error: { code: 'disconnected', message: 'The connection to KVChat closed' } });
    pending.clear();
  });

  const call = async <T>(method: Method, payload?: unknown): Promise<ApiResult<T>> => {
    try {
      await opened;
    } catch (e) {
      return { ok: false, error: { code: 'disconnected', message: (e as Error).message } };
    }
    const id = nextId++;
    return new Promise<ApiResult<T>>((resolve) => {
      pending.set(id, resolve as (r: ApiResult<unknown>) => void);
      socket.send(encodeFrame({ id, method, payload }));
    });
  };

  const api: Record<string, unknown> = {};
  for (const method of Object.keys(CHANNELS) as Method[]) api[method] = (payload?: unknown) => call(method, payload);
  // A browser File has no path: its bytes go to the host, which saves them to a temp file and imports that.
  api.importDroppedModel = async (file: File, options: { copy: boolean }) =>
    call('importDroppedModel', { fileName: file.name, bytes: new Uint8Array(await file.arrayBuffer()), copy: options.copy });
  api.onModelImportProgress = (listener: (p: ModelImportProgress) => void) => {
    progressListeners.add(listener);
    return () => progressListeners.delete(listener);
  };
  api.onModelOpened = (listener: (m: ModelInfo) => void) => {
    openedListeners.add(listener);
    return () => openedListeners.delete(listener);
  };
  api.onRemoteDelta = (listener: (d: RemoteDelta) => void) => {
    deltaListeners.add(listener);
    return () => deltaListeners.delete(listener);
  };
  api.onServerBridge = (listener: (m: BridgeToRenderer) => void) => {
    bridgeListeners.add(listener);
    return () => bridgeListeners.delete(listener);
  };
  api.onDownloadProgress = (listener: (e: DownloadEvent) => void) => {
    downloadListeners.add(listener);
    return () => downloadListeners.delete(listener);
  };
  return api as unknown as KvChatApi;
}
