// EngineBridge and LocalServerService over an in-process transport whose far end drives a real Engine
// (stories260K on the test device) as the renderer's worker does: a sequence per request, tokens streamed back,
// abort on request. The bridge must give what the engine alone gives, and the OpenAI server over it the reference.
import { testServices } from './helpers/services';
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { tokenizerFromGguf, type Tokenizer } from '../../src/gpu/tokenizer';
import { createApiHandlers, invokeApi } from '../../src/main/api-handlers';
import type { ApiMethod } from '../../src/main/api-schemas';
import { BridgeError, EngineBridge, LocalServerService, type BridgeTransport } from '../../src/main/local-server';
import { startOpenAiServer } from '../../src/server';
import type { BridgeFromRenderer, BridgeToRenderer } from '../../src/shared/api';
import { testDevice } from '../helpers/gpu';
import { connectResult } from '../helpers/net';
import { loadReference, modelPath, openModel } from '../helpers/shared';

const REFERENCE = 'llama2c_stories260K_once_upon_a_time.json';
const TOKENS = 16;
/** A port unlikely to be taken (the service binds the port it is given). */
const PORT = 40000 + (process.pid % 20000);

/** main's end and the "worker" end in one process; messages cross asynchronously, as they do over IPC. */
class InProcessTransport implements BridgeTransport {
  private readonly listeners = new Set<(m: BridgeFromRenderer) => void>();
  readonly sent: BridgeToRenderer[] = [];
  private readonly running = new Map<number, AbortController>();
  /** When set, every generate request fails in the "worker" with this message. */
  failWith: string | null = null;

  constructor(private readonly engine: Engine | null) {}

  send(m: BridgeToRenderer): void {
    this.sent.push(m);
    queueMicrotask(() => this.worker(m));
  }

  onMessage(listener: (m: BridgeFromRenderer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  reply(m: BridgeFromRenderer): void {
    setTimeout(() => this.listeners.forEach((l) => l(m)), 0);
  }

  private worker(m: BridgeToRenderer): void {
    if (m.type === 'abort') {
      this.running.get(m.id)?.abort();
      return;
    }
    if (!this.engine) return; // a renderer that never answers
    if (this.failWith !== null) return this.reply({ type: 'error', id: m.id, message: this.failWith });
    const controller = new AbortController();
    this.running.set(m.id, controller);
    const seq = this.engine.createSequence();
    this.engine
      .generate(seq, m.tokens, { maxNewTokens: m.options.maxNewTokens, sampling: m.options.sampling, stopTokens: new Set(m.options.stopTokens), signal: controller.signal, onToken: (token) => this.reply({ type: 'token', id: m.id, token }) })
      .then((r) => this.reply({ type: 'done', id: m.id, result: { tokens: r.tokens, stopReason: r.stopReason, promptTokens: r.promptTokens, cachedTokens: r.cachedTokens } }))
      .catch((e: unknown) => this.reply({ type: 'error', id: m.id, message: (e as Error).message }))
      .finally(() => {
        this.engine!.releaseSequence(seq);
        this.running.delete(m.id);
      });
  }
}

let engine: Engine;
let tokenizer: Tokenizer;

beforeAll(async () => {
  const file = openModel('stories260K.gguf');
  engine = await Engine.load(await testDevice(), file, { maxSeqs: 4 });
  tokenizer = tokenizerFromGguf(file.metadata);
});

afterAll(() => engine?.destroy());

const modelOf = (e: Engine) => ({ contextLength: e.config.contextLength, kvBlocks: e.pool.blocks });

describe('EngineBridge', () => {
  it('a greedy generation over the bridge equals the reference, its tokens streamed in order', async () => {
    const ref = loadReference(REFERENCE);
    const bridge = new EngineBridge(new InProcessTransport(engine), modelOf(engine));
    expect(bridge.config.contextLength).toBe(engine.config.contextLength);
    expect(bridge.pool.blocks).toBe(engine.pool.blocks);
    const streamed: number[] = [];
    const seq = bridge.createSequence();
    const r = await bridge.generate(seq, ref.prompt_tokens, { maxNewTokens: TOKENS, sampling: { temperature: 0 }, stopTokens: tokenizer.endOfGeneration, onToken: (t) => streamed.push(t) });
    bridge.releaseSequence(seq);
    expect(r.tokens).toEqual(ref.generated_tokens.slice(0, TOKENS));
    expect(streamed).toEqual(r.tokens);
    expect(r.stopReason).toBe('max-tokens');
    bridge.dispose();
  });

  it('an aborted signal stops the worker-side generation: stopReason aborted, fewer tokens', async () => {
    const transport = new InProcessTransport(engine);
    const bridge = new EngineBridge(transport, modelOf(engine));
    const controller = new AbortController();
    const seq = bridge.createSequence();
    let n = 0;
    const r = await bridge.generate(seq, [1], { maxNewTokens: 200, sampling: { temperature: 0 }, signal: controller.signal, onToken: () => ++n === 3 && controller.abort() });
    expect(r.stopReason).toBe('aborted');
    expect(r.tokens.length).toBeLessThan(200);
    expect(transport.sent.filter((m) => m.type === 'abort')).toHaveLength(1);
    bridge.dispose();
  });

  it('a worker error, an unknown sequence and a renderer that went away are typed errors', async () => {
    const failing = new InProcessTransport(engine);
    failing.failWith = 'no model is loaded';
    const bridge = new EngineBridge(failing, modelOf(engine));
    const seq = bridge.createSequence();
    await expect(bridge.generate(seq, [1], { maxNewTokens: 2 })).rejects.toMatchObject({ name: 'BridgeError', code: 'engine-failed', message: 'The engine failed: no model is loaded' });
    await expect(bridge.generate(999, [1], { maxNewTokens: 2 })).rejects.toBeInstanceOf(BridgeError);

    const silent = new EngineBridge(new InProcessTransport(null), modelOf(engine));
    const pending = silent.generate(silent.createSequence(), [1], { maxNewTokens: 2 });
    silent.failAll('the window closed');
    await expect(pending).rejects.toMatchObject({ code: 'disconnected', message: 'the window closed' });
  });

  it('the OpenAI server over the bridge answers the reference completion, streamed and not', async () => {
    const ref = loadReference(REFERENCE);
    const file = openModel('stories260K.gguf');
    const bridge = new EngineBridge(new InProcessTransport(engine), modelOf(engine));
    const server = await startOpenAiServer({ engine: bridge, tokenizer, metadata: file.metadata, modelId: 'stories260K' });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const expected = tokenizer.decode(ref.generated_tokens.slice(0, TOKENS), { continuation: true });
      const r = await client.completions.create({ model: 'stories260K', prompt: ref.prompt, max_tokens: TOKENS, temperature: 0 });
      expect(r.choices[0]!.text).toBe(expected);
      const stream = await client.completions.create({ model: 'stories260K', prompt: ref.prompt, max_tokens: TOKENS, temperature: 0, stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
      expect(text).toBe(expected);
    } finally {
      await server.close();
      bridge.dispose();
    }
  });
});

describe('LocalServerService', () => {
  it('is off by default, serves once enabled with a model reported, follows the key, and stops', async () => {
    const transport = new InProcessTransport(engine);
    const service = new LocalServerService({ transport, modelFile: async () => ({ path: modelPath('stories260K.gguf') }) });
    expect(service.info()).toEqual({ enabled: false, url: null, port: 11435, hasApiKey: false, problem: null });

    const enabled = await service.set({ enabled: true, port: PORT, apiKey: 'k1' });
    expect(enabled).toMatchObject({ enabled: true, url: null, hasApiKey: true, problem: 'no model is loaded: load one to serve it' });
    // Meanwhile the port is held and says why: 503 with Retry-After, not a refused connection.
    const waiting = await fetch(`http://127.0.0.1:${PORT}/v1/models`, { headers: { authorization: 'Bearer k1' } });
    expect(waiting.status).toBe(503);
    expect(waiting.headers.get('retry-after')).toBe('10');
    expect((await waiting.json()).error).toMatchObject({ code: 'model_not_loaded', type: 'server_error' });

    transport.reply({ type: 'model', modelId: 'id-1', ...modelOf(engine) });
    await expect.poll(() => service.info().url, { timeout: 10_000 }).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const url = service.info().url!;
    const client = new OpenAI({ baseURL: url, apiKey: 'k1', maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['stories260K']);
    await expect(new OpenAI({ baseURL: url, apiKey: 'nope', maxRetries: 0 }).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

    // The renderer's model goes away: the server stops and says why.
    transport.reply({ type: 'model', modelId: null, contextLength: 0, kvBlocks: 0 });
    await expect.poll(() => service.info().url, { timeout: 10_000 }).toBeNull();
    expect(service.info().problem).toBe('no model is loaded: load one to serve it');

    await service.set({ enabled: false, port: PORT });
    expect(service.info()).toMatchObject({ enabled: false, url: null, problem: null });
    expect(await connectResult(Number(new URL(url).port))).toBe('ECONNREFUSED');
    await service.close();
  });
});

describe('LocalServerService, refusals', () => {
  it('a port in use is reported as the problem, and the server starts once it is free', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(PORT + 1, '127.0.0.1', () => r()));
    const transport = new InProcessTransport(engine);
    const service = new LocalServerService({ transport, modelFile: async () => ({ path: modelPath('stories260K.gguf') }) });
    transport.reply({ type: 'model', modelId: 'id-1', ...modelOf(engine) });
    await new Promise((r) => setTimeout(r, 20));
    const busy = await service.set({ enabled: true, port: PORT + 1 });
    expect(busy).toMatchObject({ enabled: true, url: null, problem: `port ${PORT + 1} is in use: choose another` });
    await new Promise<void>((r) => blocker.close(() => r()));
    expect((await service.set({ enabled: true, port: PORT + 1 })).url).toBe(`http://127.0.0.1:${PORT + 1}/v1`);
    await service.close();
  });
});

describe('the local server through the typed API (openApiServices, invokeApi)', () => {
  function api() {
    const services = testServices({ picked: modelPath('stories260K.gguf') });
    const handlers = createApiHandlers(services);
    // The renderer's end: main's requests run on the real engine, the answers come back through serverBridgeReply.
    const renderer = new InProcessTransport(engine);
    const onServerBridge = (m: BridgeToRenderer): void => renderer.send(m);
    renderer.onMessage((m) => void invokeApi(handlers, 'serverBridgeReply', m, { onServerBridge }));
    const call = (method: ApiMethod, payload?: unknown) => invokeApi(handlers, method, payload, { onServerBridge });
    return { call, services, renderer };
  }

  it('validates setLocalServer and serverBridgeReply payloads', async () => {
    const { call, services } = api();
    expect(await call('getLocalServer')).toEqual({ ok: true, value: { enabled: false, url: null, port: 11435, hasApiKey: false, problem: null } });
    for (const bad of [{ enabled: true, port: 80 }, { enabled: true, port: 70000 }, { enabled: 'yes', port: 8080 }, { enabled: true, port: 8080, extra: 1 }, { enabled: true }]) {
      const r = await call('setLocalServer', bad);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('invalid-request');
    }
    for (const bad of [{ type: 'token', id: 0, token: 1 }, { type: 'token', id: 1, token: -1 }, { type: 'done', id: 1, result: { tokens: [], stopReason: 'bored', promptTokens: 0, cachedTokens: 0 } }, { type: 'nope' }]) {
      const r = await call('serverBridgeReply', bad);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
    }
    await services.localServer!.close();
  });

  it('a model reported by the renderer is served on the chosen port with its key; off closes it', async () => {
    const { call, services } = api();
    const imported = await call('pickAndImportModel', { copy: false });
    if (!imported.ok || !imported.value) throw new Error('import failed');
    const on = await call('setLocalServer', { enabled: true, port: PORT + 2, apiKey: 'secret' });
    expect(on).toMatchObject({ ok: true, value: { enabled: true, url: null, hasApiKey: true } });
    await call('serverBridgeReply', { type: 'model', modelId: (imported.value as { id: string }).id, ...modelOf(engine) });
    await expect.poll(async () => {
      const r = await call('getLocalServer');
      return r.ok ? (r.value as { url: string | null }).url : null;
    }, { timeout: 10_000 }).toBe(`http://127.0.0.1:${PORT + 2}/v1`);
    const ref = loadReference(REFERENCE);
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${PORT + 2}/v1`, apiKey: 'secret', maxRetries: 0 });
    const r = await client.completions.create({ model: 'stories260K', prompt: ref.prompt, max_tokens: 8, temperature: 0 });
    expect(r.choices[0]!.text).toBe(tokenizer.decode(ref.generated_tokens.slice(0, 8), { continuation: true }));
    expect(await call('setLocalServer', { enabled: false, port: PORT + 2 })).toMatchObject({ ok: true, value: { enabled: false, url: null } });
    expect(await connectResult(PORT + 2)).toBe('ECONNREFUSED');
    await services.localServer!.close();
  });
});
