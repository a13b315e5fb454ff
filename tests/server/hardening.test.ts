// The server under a flood, a slow queue, a shutdown, hostile Host names and fuzzed requests: bounded queue (429
// with Retry-After past it, 503 after too long a wait), /v1/models still answering, streams ended with an error
// event and [DONE] on shutdown, a network bind refused without a key and guarded by Host names, and no 5xx for
// anything a client sends.
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUnavailableServer, type OpenAiServer } from '../../src/server';
import { modelPath } from '../helpers/shared';
import { loadTestModel, MODEL_ID, postJson, startOpenAiServer, type TestModel } from './harness';

const ROOT = resolve(__dirname, '../..');
let model: TestModel;

beforeAll(async () => {
  // A 64-token context: whatever a fuzzed request asks, a generation is at most 64 steps.
  model = await loadTestModel(8, 'stories260K.gguf', { contextLength: 64 });
});

afterAll(() => model?.engine.destroy());

async function withServer<T>(opts: Partial<Parameters<typeof startOpenAiServer>[0]>, body: (s: OpenAiServer) => Promise<T>): Promise<T> {
  const server = await startOpenAiServer({ ...model.options, ...opts });
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

/** A raw HTTP request (any method, headers and body), so fetch's own rules do not filter what is sent. */
function rawRequest(url: string, o: { method: string; path: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, method: o.method, path: o.path, headers: o.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(o.body);
  });
}

interface FloodReply {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: string;
}

/** `n` concurrent POSTs of `body` to /v1/completions, sent from a worker thread. */
function floodFromWorker(url: string, n: number, body: string): Promise<FloodReply[]> {
  const code = `
    const { parentPort, workerData: { url, n, body } } = require('node:worker_threads');
    Promise.all(Array.from({ length: n }, () =>
      fetch(url + '/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() }))
        .catch((e) => ({ status: -1, retryAfter: null, body: String(e) })),
    )).then((replies) => parentPort.postMessage(replies));
  `;
  const worker = new Worker(code, { eval: true, workerData: { url, n, body } });
  return new Promise((ok, fail) => {
    worker.once('message', (replies: FloodReply[]) => {
      ok(replies);
      void worker.terminate();
    });
    worker.once('error', fail);
  });
}

describe('server: a flood against a bounded queue', () => {
  it('2,000 concurrent requests, 8 may wait: 429 with Retry-After beyond, /v1/models answers within a second, every admitted one completes', async () => {
    await withServer({ maxWaitingRequests: 8, kvBlocks: 8 }, async (server) => {
      const heapBefore = process.memoryUsage().heapUsed;
      // The flood comes from another thread, as from other processes: this thread's loop is the server's alone.
      const flood = floodFromWorker(server.url, 2000, JSON.stringify({ prompt: 'Once upon a time', max_tokens: 4, temperature: 0 }));
      // While the flood is in: the model list still answers, fast.
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      const models = await fetch(`${server.url}/v1/models`);
      const modelsMs = performance.now() - t0;
      expect(models.status).toBe(200);
      expect(modelsMs).toBeLessThan(1000);
      const all = await flood;
      const by = new Map<number, number>();
      for (const r of all) by.set(r.status, (by.get(r.status) ?? 0) + 1);
      console.log(`flood: ${JSON.stringify(Object.fromEntries(by))}, /v1/models in ${modelsMs.toFixed(0)} ms, heap +${((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20).toFixed(0)} MiB`);
      expect([...by.keys()].sort()).toEqual([200, 429]);
      expect(by.get(200)!).toBeGreaterThanOrEqual(8);
      const refused = all.find((r) => r.status === 429)!;
      expect(refused.retryAfter).toMatch(/^\d+$/);
      expect(JSON.parse(refused.body).error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
      const lone = JSON.parse(all.find((r) => r.status === 200)!.body).choices[0].text;
      expect(all.filter((r) => r.status === 200 && JSON.parse(r.body).choices[0].text !== lone)).toEqual([]);
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 * 2 ** 20);
      expect(model.engine.freeKvBlocks).toBe(model.engine.pool.blocks);
    });
  });

  it('a request that waits longer than maxQueueWaitMs gets 503 with Retry-After; the one running completes', async () => {
    await withServer({ kvBlocks: 4, maxQueueWaitMs: 200 }, async (server) => {
      // The first takes the whole budget (64 positions = 4 blocks); the second waits, then is refused.
      const running = postJson(server, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 60, temperature: 0 });
      await new Promise((r) => setTimeout(r, 50));
      const waiting = await postJson(server, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 60, temperature: 0 });
      expect(waiting.status).toBe(503);
      expect(waiting.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(waiting.json.error.code).toBe('queue_timeout');
      expect((await running).status).toBe(200);
    });
  });

  it('a full queue refuses streams with a real 429 (not a 200 stream that breaks)', async () => {
    await withServer({ kvBlocks: 4, maxWaitingRequests: 0 }, async (server) => {
      const running = postJson(server, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 60, temperature: 0 });
      await new Promise((r) => setTimeout(r, 50));
      const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x', max_tokens: 60, stream: true }) });
      expect(res.status).toBe(429);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      await res.text();
      expect((await running).status).toBe(200);
    });
  });

  it('more than 10 concurrent requests print no MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      await withServer({}, async (server) => {
        await Promise.all(Array.from({ length: 16 }, () => postJson(server, '/v1/completions', { prompt: 'Once', max_tokens: 2 })));
      });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([]);
  });
});

describe('server: shutdown', () => {
  it('a stream in flight ends with an error event and [DONE]; a waiting non-streamed request gets 503', async () => {
    const server = await startOpenAiServer({ ...model.options, kvBlocks: 4 });
    const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 60, stream: true }) });
    const reader = res.body!.getReader();
    await reader.read(); // the stream has begun
    const waiting = postJson(server, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 60 });
    await new Promise((r) => setTimeout(r, 50));
    const closed = server.close();
    let rest = '';
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value);
    }
    await closed;
    expect(rest).toMatch(/"code":"server_shutting_down"/);
    expect(rest.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const w = await waiting;
    expect(w.status).toBe(503);
    expect(w.json.error.code).toBe('server_shutting_down');
  });
});

describe('server: bound to the network', () => {
  it('refuses to bind a non-loopback address without an API key unless told to', async () => {
    await expect(startOpenAiServer({ ...model.options, host: '0.0.0.0' })).rejects.toThrow(/needs an API key/);
    const open = await startOpenAiServer({ ...model.options, host: '0.0.0.0', allowNetworkWithoutKey: true });
    await open.close();
  });

  it('with a key on 0.0.0.0: Host evil.test gets 403; IP addresses and allowed names are served', async () => {
    await withServer({ host: '0.0.0.0', apiKey: 'k', allowedHosts: ['kvchat.lan'] }, async (server) => {
      const get = (host: string): Promise<number> => rawRequest(`http://127.0.0.1:${server.port}`, { method: 'GET', path: '/v1/models', headers: { host, authorization: 'Bearer k' } }).then((r) => r.status);
      expect(await get('evil.test')).toBe(403);
      expect(await get(`evil.test:${server.port}`)).toBe(403);
      expect(await get(`127.0.0.1:${server.port}`)).toBe(200);
      expect(await get(`192.168.1.20:${server.port}`)).toBe(200);
      expect(await get(`[::1]:${server.port}`)).toBe(200);
      expect(await get(`kvchat.lan:${server.port}`)).toBe(200);
    });
  });

  it('`serve --host 0.0.0.0` without --api-key exits 2 naming --insecure-no-key, before loading the model', async () => {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/serve.ts', '--model', modelPath('stories260K.gguf'), '--host', '0.0.0.0'], { cwd: ROOT }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--insecure-no-key/);
  });
});

describe('server: while no model can answer', () => {
  it('the held port answers every request 503 with Retry-After, and still refuses foreign Host names', async () => {
    const held = await startUnavailableServer({ host: '127.0.0.1', port: 0, reason: 'The model x.gguf is loading.', code: 'model_loading', retryAfterS: 5 });
    try {
      const url = `http://127.0.0.1:${held.port}`;
      const r = await postJson({ url } as OpenAiServer, '/v1/completions', { prompt: 'x' });
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(r.json.error).toMatchObject({ code: 'model_loading', message: 'The model x.gguf is loading.' });
      expect((await rawRequest(url, { method: 'GET', path: '/v1/models', headers: { host: 'evil.test' } })).status).toBe(403);
    } finally {
      await held.close();
    }
  });
});

describe('server: input it must take', () => {
  it('a 64-bit seed past 2^53 is folded into the sampler, reproducibly', async () => {
    await withServer({}, async (server) => {
      const body = '{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0.9, "seed": 18446744073709551615}';
      const a = await postJson(server, '/v1/completions', body);
      const b = await postJson(server, '/v1/completions', body);
      expect(a.status).toBe(200);
      expect(a.json.choices[0].text).toBe(b.json.choices[0].text);
      expect((await postJson(server, '/v1/completions', { prompt: 'x', seed: 1.5 })).status).toBe(400);
    });
  });
});

describe('server: fuzzed requests (fast-check)', () => {
  it('bodies and headers: never a 5xx, never a crash, and the next request is served', async () => {
    await withServer({ apiKey: 'k', maxBodyBytes: 64 * 1024 }, async (server) => {
      const scalar = fc.oneof(fc.integer({ min: -5, max: 70 }), fc.double({ noNaN: false }), fc.boolean(), fc.constant(null), fc.string({ maxLength: 12 }), fc.constantFrom(2 ** 60, -1, 0, 1e308, '', '\u0000'));
      const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), scalar, { maxKeys: 3 }));
      const message = fc.record({ role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool'), fc.string({ maxLength: 8 })), content: fc.oneof(fc.string({ maxLength: 40 }), scalar) }, { requiredKeys: [] });
      const field = fc.constantFrom('prompt', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'repeat_penalty', 'seed', 'stop', 'stream', 'stream_options', 'n', 'logprobs', 'echo', 'model', 'tools', 'response_format');
      // Valid requests with one field set to anything: the schema's every edge.
      const nearlyValid = fc
        .tuple(fc.oneof(fc.record({ prompt: fc.string({ maxLength: 30 }) }), fc.record({ messages: fc.array(message, { minLength: 1, maxLength: 3 }) })), fc.integer({ min: 1, max: 6 }), field, value, fc.boolean())
        .map(([base, maxTokens, f, v, stream]) => JSON.stringify({ ...base, max_tokens: maxTokens, stream, [f]: v }));
      const body = fc.oneof(
        { arbitrary: nearlyValid, weight: 4 },
        fc.dictionary(field, fc.oneof(value, fc.array(message, { maxLength: 3 }), fc.array(fc.integer({ min: -2, max: 600 }), { maxLength: 6 }))).map((o) => JSON.stringify(o)),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc.string({ maxLength: 64 }),
        fc.constantFrom('', '{', '{"prompt": "Once", "max_tokens": 3', '[]', 'null', '{"prompt": "\\ud800", "max_tokens": 2}', '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": true}'),
      );
      const headerText = fc.string({ unit: fc.constantFrom(...'abcxyz019 ;=/-_.:*,"'.split('')), maxLength: 24 });
      const headers = fc.record(
        {
          'content-type': fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data'), headerText),
          authorization: fc.oneof({ arbitrary: fc.constant('Bearer k'), weight: 8 }, { arbitrary: fc.oneof(fc.constantFrom('Bearer  k ', 'bearer k', 'Basic k', 'Bearer'), headerText), weight: 1 }),
          'x-request': headerText,
        },
        { requiredKeys: ['authorization'] },
      );
      // A foreign Origin is refused (403) before anything else is looked at: sent now and then, not always.
      const origin = fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: fc.oneof(fc.constantFrom('null', 'http://evil.test', 'http://127.0.0.1'), headerText), weight: 1 });
      const method = fc.oneof({ arbitrary: fc.constant('POST'), weight: 8 }, fc.constantFrom('GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD'));
      const path = fc.oneof({ arbitrary: fc.constantFrom('/v1/completions', '/v1/chat/completions'), weight: 6 }, fc.constantFrom('/v1/completions', '/v1/chat/completions', '/v1/models', `/v1/models/${MODEL_ID}`, '/v1/models/%E0%A4%A', '/v1//completions', '/v1/completions?x=1', '/'), fc.string({ unit: fc.constantFrom(...'/v1abc%.?'.split('')), maxLength: 20 }).map((p) => `/${p}`));
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(method, path, headers, origin, body, async (m, p, h, o, b) => {
          const r = await rawRequest(server.url, { method: m, path: p, headers: { ...h, ...(o === null ? {} : { origin: o }), host: `127.0.0.1:${server.port}` }, body: m === 'GET' ? undefined : b });
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status >= 500) throw new Error(`${m} ${p} ${JSON.stringify(h)} ${b} → ${r.status} ${r.body.slice(0, 300)}`);
          const next = await rawRequest(server.url, { method: 'GET', path: '/v1/models', headers: { authorization: 'Bearer k', host: `127.0.0.1:${server.port}` } });
          expect(next.status).toBe(200);
        }),
        { numRuns: 400, seed: 0x5be0cd19 },
      );
      console.log(`fuzz statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
      expect(model.engine.freeKvBlocks).toBe(model.engine.pool.blocks);
    });
  });
});
