// kvchat-model://<id>: HTTP Range over the model file (full, partial, open-ended, suffix, unsatisfiable),
// streamed; unknown, unavailable and malformed requests answered with a status and a readable message.
import { readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelUrl } from '../../src/shared/api';
import { ModelLibrary } from '../../src/main/models/library';
import { handleModelRequest, parseRange, type ModelResponse } from '../../src/main/models/model-protocol';
import { copyOf } from './helpers/model-files';
import { sharedModel, tempDb, tempDir } from '../helpers/temp';

async function served() {
  const { db, dir } = tempDb();
  const library = new ModelLibrary(db, `${dir}/models`);
  const path = copyOf('stories260K.gguf', tempDir());
  const model = await library.importModel(path, { copy: false });
  const bytes = readFileSync(path);
  const get = (range?: string, method = 'GET', url = modelUrl(model.id)) =>
    handleModelRequest(library, { url, method, headers: new Headers(range === undefined ? {} : { Range: range }) });
  return { library, model, bytes, path, get };
}

const body = async (r: ModelResponse): Promise<Buffer> => Buffer.from(await new Response(r.body).arrayBuffer());

describe('handleModelRequest', () => {
  it('serves the whole file with 200', async () => {
    const { get, bytes, model } = await served();
    const r = await get();
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({ 'Content-Length': String(bytes.length), 'Accept-Ranges': 'bytes', ETag: `"${model.fingerprint}"` });
    expect(r.headers['Content-Range']).toBeUndefined();
    expect((await body(r)).equals(bytes)).toBe(true);
  });

  it('serves a range with 206 and Content-Range', async () => {
    const { get, bytes } = await served();
    const r = await get('bytes=100-4195');
    expect(r.status).toBe(206);
    expect(r.headers).toMatchObject({ 'Content-Range': `bytes 100-4195/${bytes.length}`, 'Content-Length': '4096' });
    expect((await body(r)).equals(bytes.subarray(100, 4196))).toBe(true);
  });

  it('serves an open-ended range and clamps an end past the file', async () => {
    const { get, bytes } = await served();
    const n = bytes.length;
    const open = await get(`bytes=${n - 10}-`);
    expect(open.headers['Content-Range']).toBe(`bytes ${n - 10}-${n - 1}/${n}`);
    expect((await body(open)).equals(bytes.subarray(n - 10))).toBe(true);
    const past = await get(`bytes=0-${n * 10}`);
    expect(past.status).toBe(206);
    expect((await body(past)).length).toBe(n);
  });

  it('serves a suffix range (the last N bytes)', async () => {
    const { get, bytes } = await served();
    const r = await get('bytes=-500');
    expect(r.status).toBe(206);
    expect(r.headers['Content-Range']).toBe(`bytes ${bytes.length - 500}-${bytes.length - 1}/${bytes.length}`);
    expect((await body(r)).equals(bytes.subarray(bytes.length - 500))).toBe(true);
    expect((await body(await get(`bytes=-${bytes.length * 2}`))).equals(bytes)).toBe(true);
  });

  it('answers 416 with the size for an unsatisfiable range', async () => {
    const { get, bytes } = await served();
    for (const range of [`bytes=${bytes.length}-`, `bytes=${bytes.length + 5}-${bytes.length + 9}`, 'bytes=-0']) {
      const r = await get(range);
      expect(r.status, range).toBe(416);
      expect(r.headers['Content-Range']).toBe(`bytes */${bytes.length}`);
      expect((await body(r)).toString()).toMatch(/outside the \d+-byte model file/);
    }
  });

  it('ignores a malformed or multi-part Range and serves the whole file', async () => {
    const { get, bytes } = await served();
    for (const range of ['bytes=abc', 'items=0-10', 'bytes=10-5', 'bytes=0-1,5-6', 'bytes=-']) {
      const r = await get(range);
      expect(r.status, range).toBe(200);
      expect(r.headers['Content-Length']).toBe(String(bytes.length));
      await r.body?.cancel();
    }
  });

  it('HEAD has the headers and no body; plain-record headers work in any case', async () => {
    const { library, model, get } = await served();
    const head = await get('bytes=0-9', 'HEAD');
    expect(head).toMatchObject({ status: 206, body: null });
    expect(head.headers['Content-Length']).toBe('10');
    const r = await handleModelRequest(library, { url: modelUrl(model.id), headers: { rAnGe: 'bytes=0-3' } });
    expect((await body(r)).toString('latin1')).toBe('GGUF');
  });

  it('answers 404 for an unknown model, 400 for another URL, 405 for writes', async () => {
    const { get } = await served();
    const unknown = await get(undefined, 'GET', modelUrl('00000000-0000-0000-0000-000000000000'));
    expect(unknown.status).toBe(404);
    expect((await body(unknown)).toString()).toMatch(/No model with id 00000000/);
    expect((await get(undefined, 'GET', 'https://example.com/model.gguf')).status).toBe(400);
    expect((await get(undefined, 'GET', 'not a url')).status).toBe(400);
    const post = await get(undefined, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.Allow).toBe('GET, HEAD');
    expect((await get(undefined, 'OPTIONS')).status).toBe(204);
  });

  it('answers 410 once the file is gone, and never streams a changed file', async () => {
    const { get, path } = await served();
    rmSync(path);
    const r = await get('bytes=0-9');
    expect(r.status).toBe(410);
    expect((await body(r)).toString()).toMatch(/missing or changed since import/);
  });
});

describe('parseRange', () => {
  it.each([
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    [' bytes = 2 - 4 ', 10, { start: 2, end: 4 }],
    ['bytes=9-', 10, { start: 9, end: 9 }],
    ['bytes=-3', 10, { start: 7, end: 9 }],
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=5-2', 10, null],
    [undefined, 10, null],
  ] as const)('%j of %i bytes -> %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('the shared models serve whole', () => {
  it('TinyStories-656K-Q4_0 byte for byte', async () => {
    const { db, dir } = tempDb();
    const library = new ModelLibrary(db, `${dir}/models`);
    const m = await library.importModel(sharedModel('TinyStories-656K-Q4_0.gguf'), { copy: true });
    const r = await handleModelRequest(library, { url: modelUrl(m.id), headers: {} });
    expect((await body(r)).equals(readFileSync(sharedModel('TinyStories-656K-Q4_0.gguf')))).toBe(true);
  });
});
