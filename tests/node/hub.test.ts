// The Hub client, file choice, header probe and resumable verified download against the loopback Hub
// (tests/helpers/hub-server.ts): cuts, 5xx, 429, wrong bytes, a full disk, a pause, a server ignoring Range.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HubClient, hubEndpoint, type HubFile } from '../../src/node/hub/client';
import { downloadFile, PART_SUFFIX, rangeValidator, retryAfterMs, VALIDATOR_SUFFIX, type DownloadOptions, type PartFile } from '../../src/node/hub/download';
import { HubError } from '../../src/node/hub/errors';
import { planPull } from '../../src/node/hub/plan';
import { probeRemoteGguf, unsplittableBytes } from '../../src/node/hub/probe';
import { candidateFiles, engineReadsQuant, quantOfFileName } from '../../src/node/hub/quant';
import { splitModel } from '../helpers/split-gguf';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { sharedModel, tempDir } from '../helpers/temp';

const REPO = 'test/stories';
const FILE = 'stories260K.gguf';
const stories = new Uint8Array(readFileSync(sharedModel(FILE)));

/** The model with general.architecture rewritten in place (same length, so the header stays valid). */
function withArchitecture(bytes: Uint8Array, arch: string): Uint8Array {
  const out = Buffer.from(bytes);
  const key = out.indexOf('general.architecture');
  const len = key + 'general.architecture'.length + 4;
  expect(Number(out.readBigUInt64LE(len))).toBe(arch.length);
  out.write(arch, len + 8, 'utf8');
  return out;
}

let hub: HubServer;
afterEach(async () => hub?.close());

async function start(): Promise<{ client: HubClient; file: HubFile; dir: string }> {
  hub = await startHubServer(
    {
      [REPO]: [
        { path: FILE, bytes: stories },
        { path: 'stories260K-Q8_0.gguf', bytes: new Uint8Array(readFileSync(sharedModel('stories260K-Q8_0.gguf'))) },
        { path: 'README.md', bytes: Buffer.from('# stories\n') },
      ],
      'test/gemma': [{ path: 'TinyStories-gemma.gguf', bytes: withArchitecture(new Uint8Array(readFileSync(sharedModel('TinyStories-656K.gguf'))), 'gemma') }],
    },
    { [REPO]: 10, 'test/gemma': 5 },
  );
  const client = new HubClient({ endpoint: hub.endpoint });
  const file = (await client.listFiles(REPO)).find((f) => f.path === FILE)!;
  return { client, file, dir: tempDir() };
}

const fast = { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 };

function options(client: HubClient, file: HubFile, dir: string, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { url: client.resolveUrl(REPO, 'main', file.path), dest: join(dir, file.path), size: file.size, sha256: file.sha256!, retry: fast, ...extra };
}

async function failure(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a HubError');
}

const gets = () => hub.requests.filter((r) => r.method === 'GET');

describe('HubClient', () => {
  it('searches, lists files with their LFS sha256, and follows the endpoint setting before HF_ENDPOINT', async () => {
    const { client, file } = await start();
    expect((await client.searchModels('test', 10)).map((m) => m.id)).toEqual([REPO, 'test/gemma']);
    expect(await client.searchModels('gemma', 10)).toHaveLength(1);
    expect(file).toEqual({ path: FILE, size: stories.byteLength, sha256: hub.sha256(REPO, FILE) });
    expect(await client.headFile(REPO, 'main', FILE)).toEqual({ size: stories.byteLength, etag: hub.sha256(REPO, FILE) });
    expect(hub.hubRequests).toContain(`GET /api/models?search=test&filter=gguf&sort=downloads&limit=10`);
    expect((await failure(client.listFiles('test/nope'))).code).toBe('not-found');
    expect((await failure(client.listFiles(REPO, 'v2'))).code).toBe('not-found');
    expect(hubEndpoint(undefined, { HF_ENDPOINT: 'http://mirror.local/' })).toBe('http://mirror.local');
    expect(hubEndpoint('http://setting.local', { HF_ENDPOINT: 'http://mirror.local' })).toBe('http://setting.local');
    expect(hubEndpoint(undefined, {})).toBe('https://huggingface.co');
  });
});

describe('choosing a file', () => {
  const files = ['m-Q2_K.gguf', 'm-q4_k_m.gguf', 'm-Q8_0.gguf', 'm-F16.gguf', 'm-TQ1_0.gguf', 'big-00001-of-00002.gguf'].map((path, i) => ({ path, size: 100 * (i + 1) }));

  it('matches QUANT case-insensitively, prefers Q4_K_M, else the smallest file the engine reads', () => {
    expect(quantOfFileName('Llama-3.2-1B-Instruct-Q4_K_M.gguf')).toBe('Q4_K_M');
    expect(quantOfFileName('qwen2.5-0.5b-instruct-iq4_xs.gguf')).toBe('IQ4_XS');
    expect(candidateFiles('r', files, { quant: 'Q8_0' })[0]!.path).toBe('m-Q8_0.gguf');
    expect(candidateFiles('r', files, { quant: 'q8_0' })[0]!.path).toBe('m-Q8_0.gguf');
    expect(candidateFiles('r', files)[0]!.path).toBe('m-q4_k_m.gguf');
    const noDefault = files.filter((f) => !/q4_k_m/i.test(f.path));
    const chosen = candidateFiles('r', noDefault).map((f) => f.path);
    expect(chosen).toEqual(noDefault.filter((f) => !/-of-/.test(f.path) && engineReadsQuant(quantOfFileName(f.path)!)).map((f) => f.path));
    expect(chosen).toContain('m-Q8_0.gguf');
    expect(chosen).not.toContain('m-TQ1_0.gguf'); // a type the engine does not read
    expect(() => candidateFiles('r', files, { quant: 'Q5_K_M' })).toThrow(/has no Q5_K_M file \(it has Q2_K, Q4_K_M, Q8_0, F16, TQ1_0\)/);
    expect(() => candidateFiles('r', files, { name: 'big-00001-of-00002.gguf' })).toThrow(/split/);
  });

  it('counts the parts of a split model as one model, chosen by any part or by its quant', () => {
    const split = [
      { path: 'm-Q4_K_M-00001-of-00003.gguf', size: 10 }, { path: 'm-Q4_K_M-00002-of-00003.gguf', size: 20 },
      { path: 'm-Q4_K_M-00003-of-00003.gguf', size: 30 }, { path: 'm-Q8_0.gguf', size: 100 },
    ];
    const [model] = candidateFiles('r', split);
    expect(model).toMatchObject({ path: 'm-Q4_K_M-00001-of-00003.gguf', size: 60 });
    expect(model!.parts.map((f) => f.path)).toEqual(split.slice(0, 3).map((f) => f.path));
    expect(candidateFiles('r', split, { name: 'm-Q4_K_M-00002-of-00003.gguf' })[0]!.path).toBe('m-Q4_K_M-00001-of-00003.gguf');
    expect(candidateFiles('r', split, { quant: 'q8_0' })[0]!.parts).toHaveLength(1);
    // A part missing from the repository: the split model is not offered.
    expect(candidateFiles('r', split.filter((f) => !f.path.includes('00002'))).map((f) => f.path)).toEqual(['m-Q8_0.gguf']);
  });
});

describe('split models', () => {
  it('plans every part, judged by all their headers (the first part alone lacks tensors)', async () => {
    const [one, two] = splitModel();
    hub = await startHubServer({ 'test/split': [{ path: 'crafted-F32-00001-of-00002.gguf', bytes: one }, { path: 'crafted-F32-00002-of-00002.gguf', bytes: two }] });
    const client = new HubClient({ endpoint: hub.endpoint });
    const alone = await probeRemoteGguf(client.resolveUrl('test/split', 'main', 'crafted-F32-00001-of-00002.gguf'));
    expect(alone.supported).toBe(false);
    const plan = await planPull(client, { repo: 'test/split' });
    expect(plan.file.path).toBe('crafted-F32-00001-of-00002.gguf');
    expect(plan.parts.map((p) => [p.path, p.sha256])).toEqual([
      ['crafted-F32-00001-of-00002.gguf', hub.sha256('test/split', 'crafted-F32-00001-of-00002.gguf')],
      ['crafted-F32-00002-of-00002.gguf', hub.sha256('test/split', 'crafted-F32-00002-of-00002.gguf')],
    ]);
    expect(plan.probe).toMatchObject({ supported: true, architecture: 'llama', fileSize: one.byteLength + two.byteLength });
    expect(plan.probe.tensorTypes.F32).toBe(21);
  });
});

describe('probeRemoteGguf', () => {
  it('measures the piece of each tensor one GPU buffer must hold whole, as the engine uploads it', () => {
    const t = (dims: number[], byteSize: number) => ({ name: 't', type: 0, dims, offset: 0, elementCount: dims.reduce((a, b) => a * b, 1), byteSize });
    // Q4_K expert tensor of Qwen3-30B-A3B: 128 experts of 768 x 2048 -> one expert.
    expect(unsplittableBytes(t([2048, 768, 128], 128 * 768 * 2048 * 0.5625))).toBe(768 * 2048 * 0.5625);
    // Embedding 128256 x 2048 Q8_0 -> one row.
    expect(unsplittableBytes(t([2048, 128256], 128256 * 2048 * 1.0625))).toBe(2048 * 1.0625);
    // A norm vector goes up as f32.
    expect(unsplittableBytes(t([2048], 2048 * 2))).toBe(2048 * 4);
  });

  it('reads a supported header over Range and says what it found', async () => {
    const { client } = await start();
    const p = await probeRemoteGguf(client.resolveUrl(REPO, 'main', FILE));
    expect(p).toMatchObject({ supported: true, architecture: 'llama', tokenizer: 'llama', fileSize: stories.byteLength });
    expect(p.contextLength).toBeGreaterThan(0);
    expect(p.tensorTypes.F32).toBeGreaterThan(0);
    expect(p.shape!.largestUnitBytes).toBeLessThan(p.shape!.largestTensorBytes); // a row, not the whole tensor
    expect(gets().every((r) => r.status === 206)).toBe(true);
  });

  it('refuses an unsupported architecture after reading only the header', async () => {
    const { client } = await start();
    const p = await probeRemoteGguf(client.resolveUrl('test/gemma', 'main', 'TinyStories-gemma.gguf'), { firstRead: 16 * 1024 });
    expect(p.supported).toBe(false);
    expect(p.reason).toMatch(/^architecture gemma is not supported yet/);
    const sent = hub.bytesSent('test/gemma', 'TinyStories-gemma.gguf');
    expect(sent).toBe(p.bytesRead);
    expect(sent).toBeLessThanOrEqual(Math.max(2 * p.headerBytes, 16 * 1024) + 1);
    expect(sent).toBeLessThan(p.fileSize / 4);
  });
});

/** A part file opened for append as the downloader opens it, whose writes go through `writev` (a disk's faults). */
function partFileWriting(writev: (h: FileHandle, buffers: Uint8Array[]) => Promise<{ bytesWritten: number }>): (path: string) => Promise<PartFile> {
  return async (path) => {
    const h = await open(path, 'a');
    return { writev: (buffers) => writev(h, buffers), sync: () => h.sync(), close: () => h.close() };
  };
}

describe('downloadFile', () => {
  it('streams to a part file, verifies the sha256 and renames into place', async () => {
    const { client, file, dir } = await start();
    const seen: number[] = [];
    const r = await downloadFile(options(client, file, dir, { onProgress: (p) => seen.push(p.bytesDone) }));
    expect(r).toMatchObject({ bytes: stories.byteLength, sha256: hub.sha256(REPO, FILE), resumedBytes: 0, fetchedBytes: stories.byteLength, alreadyPresent: false });
    expect(readFileSync(r.path).equals(stories)).toBe(true);
    expect(existsSync(r.path + PART_SUFFIX)).toBe(false);
    expect(seen.at(-1)).toBe(stories.byteLength);
    // Again: the finished file is recognised, nothing is fetched.
    const again = await downloadFile(options(client, file, dir));
    expect(again).toMatchObject({ alreadyPresent: true, fetchedBytes: 0 });
    expect(gets()).toHaveLength(1);
  });

  it('resumes after a cut connection, fetching only the missing bytes', async () => {
    const { client, file, dir } = await start();
    hub.faults.cutAfterBytes = 300_000;
    const r = await downloadFile(options(client, file, dir));
    expect(readFileSync(r.path).equals(stories)).toBe(true);
    expect(gets().map((g) => g.range)).toEqual([null, 'bytes=300000-']);
    expect(hub.bytesSent(REPO, FILE)).toBe(stories.byteLength);
    expect(r.fetchedBytes).toBe(stories.byteLength);
  });

  it('resumes from a part file left by a pause or a crash', async () => {
    const { client, file, dir } = await start();
    writeFileSync(join(dir, FILE + PART_SUFFIX), stories.subarray(0, 123_456));
    const r = await downloadFile(options(client, file, dir));
    expect(r).toMatchObject({ resumedBytes: 123_456, fetchedBytes: stories.byteLength - 123_456 });
    expect(gets().map((g) => g.range)).toEqual(['bytes=123456-']);
    expect(readFileSync(r.path).equals(stories)).toBe(true);
  });

  it('retries 500s with backoff and 429 after its Retry-After', async () => {
    const { client, file, dir } = await start();
    hub.faults.status500 = 2;
    await downloadFile(options(client, file, dir));
    expect(gets().map((g) => g.status)).toEqual([500, 500, 200]);
    hub.requests.length = 0;
    hub.faults.status429 = 1;
    hub.faults.retryAfter = '1';
    const t0 = performance.now();
    await downloadFile(options(client, file, tempDir()));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
    expect(gets().map((g) => g.status)).toEqual([429, 200]);
    expect(retryAfterMs('Wed, 21 Oct 2099 07:28:00 GMT', Date.parse('Wed, 21 Oct 2099 07:27:00 GMT'))).toBe(60_000);
  });

  it('gives up after the retry budget, keeping the bytes it has', async () => {
    const { client, file, dir } = await start();
    hub.faults.status500 = 100;
    const e = await failure(downloadFile(options(client, file, dir, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } })));
    expect(e.code).toBe('network');
    expect(gets()).toHaveLength(3);
  });

  it('deletes the part and keeps nothing on a checksum mismatch', async () => {
    const { client, file, dir } = await start();
    hub.faults.wrongBytes = true;
    const e = await failure(downloadFile(options(client, file, dir)));
    expect(e.code).toBe('checksum-mismatch');
    expect(e.message).toMatch(/does not match the Hub's checksum/);
    expect(existsSync(join(dir, FILE))).toBe(false);
    expect(existsSync(join(dir, FILE + PART_SUFFIX))).toBe(false);
  });

  it('checks free space first and keeps the part file on ENOSPC, then resumes', async () => {
    const { client, file, dir } = await start();
    const early = await failure(downloadFile(options(client, file, dir, { freeSpace: async () => 1000 })));
    expect(early.code).toBe('no-space');
    expect(gets()).toHaveLength(0);

    let written = 0;
    const fullAt = 600_000;
    const openPart = partFileWriting(async (h, buffers) => {
      const n = buffers.reduce((s, b) => s + b.byteLength, 0);
      if (written + n > fullAt) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      written += n;
      return h.writev(buffers);
    });
    hub.faults.bytesPerSecond = 2 * 2 ** 20; // slow: writes happen every 200 ms, so some land before the disk is full
    const e = await failure(downloadFile(options(client, file, dir, { openPart })));
    expect(e.code).toBe('no-space');
    expect(e.message).toMatch(/is full: .*kept in stories260K\.gguf\.part; free some space and resume/);
    const kept = statSync(join(dir, FILE + PART_SUFFIX)).size;
    expect(kept).toBe(written);
    hub.faults.bytesPerSecond = undefined;
    hub.requests.length = 0;
    const r = await downloadFile(options(client, file, dir));
    expect(r.resumedBytes).toBe(kept);
    expect(gets().map((g) => g.range)).toEqual([`bytes=${kept}-`]);
    expect(readFileSync(r.path).equals(stories)).toBe(true);
  });

  it('writes the rest of a batch the disk took only part of, and hashes the bytes the file holds', async () => {
    const { client, file, dir } = await start();
    // A disk that takes at most 100 000 bytes per write (as writev may when a disk fills up part way).
    const shortWrites = partFileWriting((h, buffers) => {
      const all = Buffer.concat(buffers);
      return h.writev([all.subarray(0, Math.min(all.byteLength, 100_000))]);
    });
    const r = await downloadFile(options(client, file, dir, { openPart: shortWrites }));
    expect(readFileSync(r.path).equals(stories)).toBe(true);

    // A byte that reaches the disk changed is caught: the hash is of the file, not of the bytes received.
    rmSync(r.path);
    let first = true;
    const flipsAByte = partFileWriting((h, buffers) => {
      const all = Buffer.concat(buffers);
      if (first) all[7] = all[7]! ^ 1;
      first = false;
      return h.writev([all]);
    });
    const e = await failure(downloadFile(options(client, file, dir, { openPart: flipsAByte })));
    expect(e.code).toBe('checksum-mismatch');
    expect(existsSync(join(dir, FILE + PART_SUFFIX))).toBe(false);
  });

  it('stops on abort (pause) keeping the part, and resumes from it', async () => {
    const { client, file, dir } = await start();
    hub.faults.bytesPerSecond = 1 << 20;
    const pause = new AbortController();
    let done = 0;
    const e = await failure(
      downloadFile(options(client, file, dir, { signal: pause.signal, onProgress: (p) => { done = p.bytesDone; if (done > 0) pause.abort(); } })),
    );
    expect(e.code).toBe('aborted');
    const kept = statSync(join(dir, FILE + PART_SUFFIX)).size;
    expect(kept).toBeGreaterThan(0);
    hub.faults.bytesPerSecond = undefined;
    const r = await downloadFile(options(client, file, dir));
    expect(r.resumedBytes).toBe(kept);
    expect(readFileSync(r.path).equals(stories)).toBe(true);
  });

  it('starts over only when the server ignores Range', async () => {
    const { client, file, dir } = await start();
    writeFileSync(join(dir, FILE + PART_SUFFIX), stories.subarray(0, 1000));
    hub.faults.ignoreRange = true;
    const r = await downloadFile(options(client, file, dir));
    expect(readFileSync(r.path).equals(stories)).toBe(true);
    // The 200 to the ranged request is taken as the whole file from byte 0: one request, no splice.
    expect(gets().map((g) => g.status)).toEqual([200]);
  });

  it('resumes with If-Range, so a file that changed on the Hub restarts from byte 0 instead of splicing', async () => {
    const { client, file, dir } = await start();
    hub.faults.bytesPerSecond = 1 << 20;
    const pause = new AbortController();
    await failure(downloadFile(options(client, file, dir, { signal: pause.signal, onProgress: (p) => p.bytesDone > 0 && pause.abort() })));
    const part = join(dir, FILE + PART_SUFFIX);
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    const oldEtag = `"${hub.sha256(REPO, FILE)}"`;
    expect(readFileSync(part + VALIDATOR_SUFFIX, 'utf8')).toBe(oldEtag);
    // A new commit changes the file (same size); the queue re-lists it and resumes with the new sha256.
    const changed = Buffer.from(stories);
    changed[10] = changed[10]! ^ 0xff;
    changed[changed.length - 1] = changed[changed.length - 1]! ^ 0xff;
    hub.replaceFile(REPO, FILE, changed);
    hub.faults.bytesPerSecond = undefined;
    const before = gets().length;
    const r = await downloadFile(options(client, file, dir, { sha256: hub.sha256(REPO, FILE) }));
    const resumed = gets().slice(before);
    expect(resumed[0]).toMatchObject({ range: `bytes=${kept}-`, ifRange: oldEtag, status: 200 });
    expect(resumed).toHaveLength(1); // the whole new file came in that one answer, written from byte 0
    expect(readFileSync(r.path).equals(changed)).toBe(true);
    expect(existsSync(part + VALIDATOR_SUFFIX)).toBe(false);
  });

  it('sends the validator of the response that began the part file, and none without one', async () => {
    const { client, file, dir } = await start();
    hub.faults.cutAfterBytes = 200_000;
    await downloadFile(options(client, file, dir));
    expect(gets().map((g) => [g.range, g.ifRange])).toEqual([[null, null], ['bytes=200000-', `"${hub.sha256(REPO, FILE)}"`]]);
    expect(rangeValidator(new Headers({ etag: 'W/"weak"', 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' }))).toBe('Tue, 01 Dec 2026 10:00:00 GMT');
    expect(rangeValidator(new Headers({ etag: '"strong"' }))).toBe('"strong"');
    expect(rangeValidator(new Headers())).toBeNull();
  });

  it('hashes a multi-megabyte file on the worker thread to the same sha256 as a one-shot hash', async () => {
    const big = new Uint8Array(9 << 20).map((_, i) => (i * 2654435761) >>> 24);
    hub = await startHubServer({ 'test/big': [{ path: 'big.gguf', bytes: big }] });
    const client = new HubClient({ endpoint: hub.endpoint });
    const [file] = await client.listFiles('test/big');
    const dir = tempDir();
    writeFileSync(join(dir, 'big.gguf' + PART_SUFFIX), big.subarray(0, 3 << 20));
    const r = await downloadFile({ url: client.resolveUrl('test/big', 'main', 'big.gguf'), dest: join(dir, 'big.gguf'), size: file!.size, sha256: file!.sha256! });
    expect(r).toMatchObject({ sha256: hub.sha256('test/big', 'big.gguf'), resumedBytes: 3 << 20, fetchedBytes: 6 << 20 });
  });
});
