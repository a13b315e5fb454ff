// The Discover view's IPC methods, through the real handlers against the loopback Hub: search, files grouped by
// quantization (split files as one), the header check refusing a model the engine cannot run, a download that
// registers the model with progress events, pause / resume / cancel, and the token sent to the Hub's origin only.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiHandlers, invokeApi, type ApiHandlers, type ApiValue } from '../../src/main/api-handlers';
import type { ApiMethod } from '../../src/main/api-schemas';
import { throttleDownloadEvents } from '../../src/main/models/hub-service';
import { engineReadsQuant, quantOfFileName } from '../../src/node/hub/quant';
import type { ApiResult, DownloadEvent } from '../../src/shared/api';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { sharedModel } from '../helpers/temp';
import { testServices } from './helpers/services';

const REPO = 'test/stories260K-GGUF';
const bytesOf = (name: string): Uint8Array => new Uint8Array(readFileSync(sharedModel(name)));

function gemmaBytes(): Uint8Array {
  const b = Buffer.from(bytesOf('stories260K.gguf'));
  b.write('gemma', b.indexOf('general.architecture') + 'general.architecture'.length + 12, 'utf8');
  return b;
}

let hub: HubServer | undefined;
let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers) await c();
  closers = [];
  await hub?.close();
  hub = undefined;
});

async function setup() {
  hub = await startHubServer(
    {
      [REPO]: [
        { path: 'stories260K.gguf', bytes: bytesOf('stories260K.gguf') },
        { path: 'stories260K-Q8_0.gguf', bytes: bytesOf('stories260K-Q8_0.gguf') },
        { path: 'big/stories-Q4_K_M-00001-of-00002.gguf', bytes: new Uint8Array(1000) },
        { path: 'big/stories-Q4_K_M-00002-of-00002.gguf', bytes: new Uint8Array(500) },
        { path: 'README.md', bytes: new TextEncoder().encode('# stories') },
      ],
      'test/gemma-GGUF': [{ path: 'gemma-Q8_0.gguf', bytes: gemmaBytes() }],
    },
    { [REPO]: 500, 'test/gemma-GGUF': 20 },
  );
  const services = testServices({ env: { HF_ENDPOINT: hub.endpoint } });
  closers.push(() => services.downloads!.close());
  const events: DownloadEvent[] = [];
  services.downloads!.subscribe(throttleDownloadEvents((e) => events.push(e), 0));
  services.downloads!.start();
  const handlers = createApiHandlers(services);
  const call = <M extends ApiMethod>(method: M, payload?: unknown): Promise<ApiResult<ApiValue<M>>> => invokeApi(handlers as ApiHandlers, method, payload);
  const ok = async <M extends ApiMethod>(method: M, payload?: unknown): Promise<ApiValue<M>> => {
    const r = await call(method, payload);
    if (!r.ok) throw new Error(`${method}: ${r.error.code}: ${r.error.message}`);
    return r.value;
  };
  return { hub, services, events, call, ok };
}

const until = async (test: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> => {
  const t0 = Date.now();
  while (!(await test())) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('Hub IPC', () => {
  it('makes no request until asked; then searches, and lists GGUF files by quantization with split files as one', async () => {
    const { hub, ok } = await setup();
    const curated = await ok('listCuratedModels');
    expect(curated.length).toBeGreaterThanOrEqual(4);
    // Single files in a quantization the engine reads, from well-known repositories of the architectures it runs.
    for (const m of curated) {
      expect(m.file).toMatch(/\.gguf$/);
      expect(m.file).not.toMatch(/-\d{5}-of-\d{5}\.gguf$/);
      expect(engineReadsQuant(quantOfFileName(m.file)!)).toBe(true);
      expect(m.repo).toMatch(/^(bartowski|Qwen|HuggingFaceTB|unsloth|ggml-org|lmstudio-community)\/(Llama-3\.2|Qwen2\.5|Qwen3|SmolLM2|google_gemma-3)-/);
      expect(m.size).toBeGreaterThan(100 * 2 ** 20);
    }
    expect(await ok('getHubSettings')).toEqual({ endpoint: hub.endpoint, endpointSetting: null, hasToken: false, canStoreToken: true });
    expect(hub.hubRequests).toEqual([]);

    const found = await ok('searchHub', { query: 'GGUF' });
    expect(found.map((r) => [r.id, r.downloads])).toEqual([[REPO, 500], ['test/gemma-GGUF', 20]]);
    expect(hub.hubRequests[0]).toMatch(/^GET \/api\/models\?search=GGUF&filter=gguf&sort=downloads&limit=\d+$/);

    const files = await ok('listHubFiles', { repo: REPO });
    expect(files.groups.map((g) => g.quant)).toEqual(['Q4_K_M', 'Q8_0', 'other']);
    const split = files.groups[0]!.files;
    expect(split).toEqual([{ file: 'big/stories-Q4_K_M-00001-of-00002.gguf', size: 1500, parts: 2, engineReadsQuant: true, problem: null }]);
    expect(files.groups[1]!.files.map((f) => [f.file, f.size])).toEqual([['stories260K-Q8_0.gguf', bytesOf('stories260K-Q8_0.gguf').byteLength]]);
    expect(files.groups[2]!.files.map((f) => f.file)).toEqual(['stories260K.gguf']);
  });

  it('checks the header over Range: a model the engine runs, with its shape; one it cannot run is refused and not downloaded', async () => {
    const { hub, ok, call } = await setup();
    const check = await ok('probeHubFile', { repo: REPO, file: 'stories260K-Q8_0.gguf' });
    expect(check).toMatchObject({ supported: true, reason: null, architecture: 'llama', tokenizer: 'llama', contextLength: 512 });
    expect(check.tensorTypes.Q8_0).toBeGreaterThan(0);
    expect(check.shape).toMatchObject({ layers: 5, kvHeads: 4, headDim: 8 });
    expect(check.shape!.weightsBytes).toBeGreaterThan(0);
    expect(check.shape!.weightsBytes).toBeLessThan(check.fileSize);
    // Only the header was read, with Range requests.
    expect(hub.requests.every((r) => r.method === 'HEAD' || r.range !== null)).toBe(true);

    const gemma = await ok('probeHubFile', { repo: 'test/gemma-GGUF', file: 'gemma-Q8_0.gguf' });
    expect(gemma.supported).toBe(false);
    expect(gemma.reason).toMatch(/^architecture gemma is not supported yet/);
    const refused = await call('startDownload', { repo: 'test/gemma-GGUF', file: 'gemma-Q8_0.gguf' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'unsupported-model' } });
    expect(await ok('listDownloads')).toEqual([]);
    expect(hub.bytesSent('test/gemma-GGUF', 'gemma-Q8_0.gguf')).toBeLessThan(gemmaBytes().byteLength);

    const split = await ok('probeHubFile', { repo: REPO, file: 'big/stories-Q4_K_M-00001-of-00002.gguf' });
    expect(split.supported).toBe(false);
    expect((await call('probeHubFile', { repo: REPO, file: '../etc/passwd.gguf' })).ok).toBe(false);
  });

  it('a download reports progress, registers the verified model in the library and is listed as done', async () => {
    const { ok, events } = await setup();
    const started = await ok('startDownload', { repo: REPO, file: 'stories260K-Q8_0.gguf' });
    expect(['queued', 'running']).toContain(started.state);
    await until(async () => (await ok('listDownloads'))[0]?.state === 'done');
    const [done] = await ok('listDownloads');
    expect(done).toMatchObject({ repo: REPO, file: 'stories260K-Q8_0.gguf', bytesDone: done!.bytesTotal, error: null });
    const models = await ok('listModels');
    const model = models.find((m) => m.id === done!.modelId);
    expect(model).toMatchObject({ name: 'stories260K-Q8_0', quantization: 'Q8_0', available: true });
    expect(events.some((e) => e.kind === 'progress' && e.download.bytesDone > 0)).toBe(true);
    expect(events.filter((e) => e.kind === 'state').map((e) => (e.kind === 'state' ? e.download.state : ''))).toContain('done');
  });

  it('pauses, resumes and cancels a download (the part file goes with the cancel)', async () => {
    const { hub, ok, events } = await setup();
    hub.faults.bytesPerSecond = 256 * 1024;
    const { id } = await ok('startDownload', { repo: REPO, file: 'stories260K.gguf' });
    await until(() => events.some((e) => e.kind === 'progress' && e.download.id === id && e.download.bytesDone > 0));
    const paused = await ok('pauseDownload', { id });
    expect(paused.state).toBe('paused');
    expect(paused.bytesDone).toBeGreaterThan(0);
    const resumed = await ok('resumeDownload', { id });
    expect(['queued', 'running']).toContain(resumed.state);
    await until(() => events.some((e) => e.kind === 'progress' && e.download.id === id && e.download.bytesDone > paused.bytesDone));
    await ok('cancelDownload', { id });
    expect(await ok('listDownloads')).toEqual([]);
    expect(events.at(-1)).toEqual({ kind: 'removed', id });
    expect(existsSync(`${paused.path}.part`)).toBe(false);
    // A resumed transfer asked for the rest only.
    expect(hub.requests.some((r) => r.method === 'GET' && r.range !== null && !r.range.startsWith('bytes=0-'))).toBe(true);
  });

  it('stores the token encrypted, never answers it, and sends it to the Hub origin only (not to the CDN it redirects to)', async () => {
    const { hub, services, ok, call } = await setup();
    const token = 'hf_SecretToken123';
    const settings = await ok('setHubSettings', { token });
    expect(settings.hasToken).toBe(true);
    expect(JSON.stringify(settings)).not.toContain(token);
    const stored = services.db.prepare("SELECT value FROM app_state WHERE key LIKE 'hub_%'").pluck().all() as string[];
    expect(stored.join()).not.toContain(token);

    const seen: { host: string; authorization: string | undefined }[] = [];
    const onRequest = (m: unknown): void => {
      const request = (m as { request: IncomingMessage }).request;
      seen.push({ host: `http://${request.headers.host}`, authorization: request.headers.authorization });
    };
    subscribe('http.server.request.start', onRequest);
    try {
      await ok('searchHub', { query: 'stories' });
      await ok('probeHubFile', { repo: REPO, file: 'stories260K-Q8_0.gguf' });
      await ok('startDownload', { repo: REPO, file: 'stories260K-Q8_0.gguf' });
      await until(async () => (await ok('listDownloads'))[0]?.state === 'done');
    } finally {
      unsubscribe('http.server.request.start', onRequest);
    }
    const toHub = seen.filter((s) => s.host === hub.endpoint);
    const toCdn = seen.filter((s) => s.host === hub.cdnOrigin);
    expect(toHub.length).toBeGreaterThan(2);
    expect(toCdn.length).toBeGreaterThan(1);
    expect(toHub.every((s) => s.authorization === `Bearer ${token}`)).toBe(true);
    expect(toCdn.every((s) => s.authorization === undefined)).toBe(true);

    // Removing it, and a bad endpoint refused.
    expect((await ok('setHubSettings', { token: null })).hasToken).toBe(false);
    expect(await call('setHubSettings', { endpoint: 'ftp://mirror' })).toMatchObject({ ok: false });
    expect((await ok('setHubSettings', { endpoint: 'http://127.0.0.1:9/' })).endpoint).toBe('http://127.0.0.1:9');
    expect(await call('searchHub', { query: 'x' })).toMatchObject({ ok: false, error: { code: 'network' } });
  });
});
