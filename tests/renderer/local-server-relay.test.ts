// The local server's relay between main and the engine worker, without React or a worker: each request from main
// reaches the worker once, each of the worker's answers and model changes reaches main once, and the engine's
// own chat events pass by untouched.
import { describe, expect, it } from 'vitest';
import type { BridgeFromRenderer, BridgeGenerateOptions, BridgeToRenderer } from '../../src/shared/api';
import { startLocalServerRelay, type BridgeApi } from '../../src/renderer/src/engine/local-server-relay';
import type { FromWorker, ToWorker } from '../../src/renderer/src/engine/protocol';

function relay() {
  const listeners: ((m: BridgeToRenderer) => void)[] = [];
  const toMain: BridgeFromRenderer[] = [];
  const toWorker: ToWorker[] = [];
  const api: BridgeApi = {
    onServerBridge: (l) => {
      listeners.push(l);
      return () => listeners.splice(listeners.indexOf(l), 1);
    },
    serverBridgeReply: async (m) => {
      toMain.push(m);
      return { ok: true, value: undefined };
    },
  };
  const onEngineEvent = startLocalServerRelay(api, (m) => toWorker.push(m));
  const fromMain = (m: BridgeToRenderer) => listeners.forEach((l) => l(m));
  return { listeners, toMain, toWorker, onEngineEvent, fromMain };
}

const options: BridgeGenerateOptions = { maxNewTokens: 4, sampling: { temperature: 0, seed: 1 }, stopTokens: [2] };

describe('startLocalServerRelay', () => {
  it('subscribes once and forwards generate and abort to the worker', () => {
    const r = relay();
    expect(r.listeners).toHaveLength(1);
    r.fromMain({ type: 'generate', id: 7, tokens: [1, 2, 3], options });
    r.fromMain({ type: 'abort', id: 7 });
    expect(r.toWorker).toEqual([
      { type: 'server-generate', id: 7, tokens: [1, 2, 3], options },
      { type: 'server-abort', id: 7 },
    ]);
  });

  it("sends the worker's tokens, result and error back to main, the error bounded", () => {
    const r = relay();
    const result = { tokens: [5], stopReason: 'eos', promptTokens: 3, cachedTokens: 0 } as const;
    r.onEngineEvent({ type: 'server-token', id: 1, token: 5 });
    r.onEngineEvent({ type: 'server-done', id: 1, result: { ...result, tokens: [5] } });
    r.onEngineEvent({ type: 'server-error', id: 2, message: 'x'.repeat(5000) });
    expect(r.toMain).toEqual([
      { type: 'token', id: 1, token: 5 },
      { type: 'done', id: 1, result: { ...result, tokens: [5] } },
      { type: 'error', id: 2, message: 'x'.repeat(2000) },
    ]);
  });

  it('tells main which model is loaded, and that none is after a load error, a lost device or an unload', () => {
    const r = relay();
    r.onEngineEvent({ type: 'loaded', modelId: 'stories260K', contextLength: 512, adapter: 'swiftshader', hasChatTemplate: false, kvBlocks: 32 });
    r.onEngineEvent({ type: 'load-error', modelId: 'x', code: 'bad', message: 'no' });
    r.onEngineEvent({ type: 'device-lost', message: 'lost' });
    r.onEngineEvent({ type: 'unloaded' });
    const none = { type: 'model', modelId: null, contextLength: 0, kvBlocks: 0 };
    expect(r.toMain).toEqual([{ type: 'model', modelId: 'stories260K', contextLength: 512, kvBlocks: 32 }, none, none, none]);
  });

  it("leaves the chat's own events to the app", () => {
    const r = relay();
    const chatEvents: FromWorker[] = [
      { type: 'token', requestId: 1, text: 'Once' },
      { type: 'load-progress', modelId: 'm', bytesDone: 1, bytesTotal: 2 },
      { type: 'generate-error', requestId: 1, message: 'boom' },
    ];
    chatEvents.forEach(r.onEngineEvent);
    expect(r.toMain).toEqual([]);
    expect(r.toWorker).toEqual([]);
  });
});
