// The downloader's GET (src/node/hub/http-get.ts) over node:http: redirects to another origin with each hop's own
// headers (the Hub token never reaches the file host), Range on every hop, a cut body surfacing as an error, an
// abort; and the injected-fetch seam the downloader keeps, through a whole verified download.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HubClient } from '../../../src/node/hub/client';
import { downloadFile } from '../../../src/node/hub/download';
import { fetchGet, nodeGet } from '../../../src/node/hub/http-get';
import { startHubServer, type HubServer } from '../../helpers/hub-server';
import { sharedModel, tempDir } from '../../helpers/temp';

const servers: Server[] = [];
let hub: HubServer | null = null;
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await hub?.close();
  hub = null;
});

async function serve(handle: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handle);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function text(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts).toString();
}

describe('nodeGet', () => {
  it('follows a redirect to another origin, asking for each hop its own headers', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const files = await serve((req, res) => {
      seen.push(req.headers);
      res.writeHead(206, { 'Content-Range': 'bytes 2-4/5', ETag: '"v1"' }).end('llo');
    });
    const endpoint = await serve((req, res) => {
      seen.push(req.headers);
      res.writeHead(302, { Location: `${files}/blob` }).end('see there');
    });
    const headers = (url: string): Record<string, string> => ({ ...(new URL(url).origin === endpoint ? { Authorization: 'Bearer hf_secret' } : {}), Range: 'bytes=2-' });
    const r = await nodeGet(`${endpoint}/repo/resolve/main/f.gguf`, { headers });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe('bytes 2-4/5');
    expect(r.headers.get('etag')).toBe('"v1"');
    expect(await text(r.body)).toBe('llo');
    expect(seen.map((h) => [h.authorization ?? null, h.range])).toEqual([
      ['Bearer hf_secret', 'bytes=2-'],
      [null, 'bytes=2-'],
    ]);
  });

  it('refuses a redirect loop and a redirect to a scheme it cannot fetch, without a retry', async () => {
    let hits = 0;
    const loop = await serve((req, res) => {
      hits++;
      res.writeHead(302, { Location: req.url === '/ftp' ? 'ftp://example.invalid/x' : '/again' }).end();
    });
    await expect(nodeGet(`${loop}/start`, { headers: () => ({}) })).rejects.toMatchObject({ code: 'bad-response', message: expect.stringMatching(/^More than 20 redirects/) });
    expect(hits).toBe(21);
    const e = downloadFile({ url: `${loop}/ftp`, dest: join(tempDir(), 'x.gguf'), size: 10, sha256: '0'.repeat(64), retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } });
    await expect(e).rejects.toMatchObject({ code: 'bad-response' });
    expect(hits).toBe(22);
  });

  it('surfaces a connection cut mid-body or gone silent as an error from the body, and stops on abort', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': 1000 });
      res.write('x'.repeat(100), () => res.socket?.destroy());
    });
    const r = await nodeGet(url, { headers: () => ({}) });
    await expect(text(r.body)).rejects.toThrow();

    // A server that goes silent mid-body: the connection is dropped, so the downloader can retry from its part file.
    const silent = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': 1000 });
      res.write('x'.repeat(100));
    });
    const stalled = await nodeGet(silent, { headers: () => ({}), stallMs: 100 });
    const t0 = performance.now();
    await expect(text(stalled.body)).rejects.toThrow();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(50); // dropped by the stall timer, not at once

    const stop = new AbortController();
    stop.abort();
    await expect(nodeGet(url, { headers: () => ({}), signal: stop.signal })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(nodeGet('ftp://example.invalid/x', { headers: () => ({}) })).rejects.toMatchObject({ code: 'bad-response', message: expect.stringMatching(/Cannot download from ftp: URLs/) });
  });

  it('gives the same answer through an injected fetch', async () => {
    const url = await serve((_req, res) => res.writeHead(200, { ETag: '"e"' }).end('hello'));
    const r = await fetchGet(fetch)(url, { headers: () => ({}) });
    expect([r.status, r.headers.get('etag'), await text(r.body)]).toEqual([200, '"e"', 'hello']);
  });
});

describe('downloadFile through an injected fetch', () => {
  it('uses it for every request, resuming after a cut as with node:http', async () => {
    const bytes = new Uint8Array(readFileSync(sharedModel('stories260K.gguf')));
    hub = await startHubServer({ 'test/stories': [{ path: 'stories260K.gguf', bytes }] });
    const client = new HubClient({ endpoint: hub.endpoint });
    const [file] = await client.listFiles('test/stories');
    hub.faults.cutAfterBytes = 200_000;
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const dir = tempDir();
    const r = await downloadFile({
      url: client.resolveUrl('test/stories', 'main', file!.path),
      dest: join(dir, file!.path),
      size: file!.size,
      sha256: file!.sha256!,
      fetch: counting,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    expect(r.sha256).toBe(hub.sha256('test/stories', 'stories260K.gguf'));
    expect(readFileSync(r.path).equals(bytes)).toBe(true);
    expect(calls).toBe(2);
    expect(hub.requests.filter((q) => q.method === 'GET').map((q) => q.range)).toEqual([null, 'bytes=200000-']);
  });
});
