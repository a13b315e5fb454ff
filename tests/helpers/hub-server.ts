// A loopback Hugging Face Hub for tests and bench/: exactly the documented subset the app uses.
//   GET  /api/models?search=&filter=gguf&sort=downloads&limit=
//   GET  /api/models/{repo}/tree/{revision}?recursive=true   files with size and lfs.oid (sha256)
//   GET|HEAD /{repo}/resolve/{revision}/{path}               302 to a second loopback origin (the "CDN"), with
//                                                            x-linked-etag and x-linked-size, as the Hub does
//   GET|HEAD {cdn}/blobs/{sha256}                            the bytes, Range -> 206, ETag "sha256"; If-Range with
//                                                            another validator -> 200 with the whole file
// Fault modes on the CDN (mutable between requests): a cut connection after N body bytes, 500, 429 with Retry-After,
// wrong bytes (checksum mismatch), a slow server, a server that ignores Range. Every CDN request is logged.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFileSpec {
  readonly path: string;
  readonly bytes: Uint8Array;
}

export interface HubFaults {
  /** The next `cuts` GETs of bytes are cut (the socket destroyed) after this many body bytes. */
  cutAfterBytes?: number;
  cuts?: number;
  /** The next N GETs of bytes answer 500. */
  status500?: number;
  /** The next N GETs of bytes answer 429 with this Retry-After. */
  status429?: number;
  retryAfter?: string;
  /** Every GET of bytes sends one flipped byte (at the middle of the file). */
  wrongBytes?: boolean;
  /** Body bytes per second (written in 16 KiB slices). */
  bytesPerSecond?: number;
  /** Answers 200 with the whole file whatever the Range. */
  ignoreRange?: boolean;
}

export interface CdnRequest {
  readonly method: string;
  readonly sha256: string;
  readonly range: string | null;
  readonly ifRange: string | null;
  status: number;
  /** Body bytes written before the answer ended (or the socket was cut). */
  bytesSent: number;
}

export interface HubServer {
  /** The Hub endpoint (HF_ENDPOINT). */
  readonly endpoint: string;
  readonly cdnOrigin: string;
  readonly faults: HubFaults;
  readonly requests: CdnRequest[];
  /** Every request path (and query) the Hub origin received. */
  readonly hubRequests: string[];
  sha256(repo: string, path: string): string;
  /** Changes a file on the Hub (a new commit on main): new bytes, new sha256, new ETag. */
  replaceFile(repo: string, path: string, bytes: Uint8Array): void;
  /** Body bytes the CDN sent for this file (all requests). */
  bytesSent(repo: string, path: string): number;
  close(): Promise<void>;
}

interface Blob {
  readonly bytes: Uint8Array;
  readonly sha256: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** [start, end] inclusive from `bytes=a-b` / `bytes=a-` / `bytes=-n`, or 'bad', or null without a Range. */
function parseRange(header: string | undefined, size: number): [number, number] | 'bad' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  if (m[1] === '') return [Math.max(0, size - Number(m[2])), size - 1];
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || end < start ? 'bad' : [start, end];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startHubServer(repos: Readonly<Record<string, readonly HubFileSpec[]>>, downloads: Readonly<Record<string, number>> = {}): Promise<HubServer> {
  const blobs = new Map<string, Blob>();
  const files = new Map<string, Map<string, Blob>>();
  const addBlob = (bytes: Uint8Array): Blob => {
    const blob = { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
    blobs.set(blob.sha256, blob);
    return blob;
  };
  for (const [repo, list] of Object.entries(repos)) {
    const m = new Map<string, Blob>();
    for (const f of list) m.set(f.path, addBlob(f.bytes));
    files.set(repo, m);
  }
  const faults: HubFaults = {};
  const requests: CdnRequest[] = [];
  const hubRequests: string[] = [];

  const cdn = createServer((req, res) => void serveBytes(req, res));
  const cdnOrigin = await listen(cdn);

  async function serveBytes(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sha = /^\/blobs\/([0-9a-f]{64})$/.exec(new URL(req.url!, cdnOrigin).pathname)?.[1];
    const blob = sha ? blobs.get(sha) : undefined;
    if (!blob) return json(res, 404, { error: 'Entry not found' });
    const size = blob.bytes.byteLength;
    const ifRange = (req.headers['if-range'] as string | undefined) ?? null;
    const entry: CdnRequest = { method: req.method!, sha256: blob.sha256, range: req.headers.range ?? null, ifRange, status: 0, bytesSent: 0 };
    requests.push(entry);
    const answer = (status: number, headers: Record<string, string | number> = {}): void => {
      entry.status = status;
      res.writeHead(status, { 'Accept-Ranges': 'bytes', ETag: `"${blob.sha256}"`, ...headers });
    };
    if (req.method === 'GET' && faults.status500) {
      faults.status500--;
      answer(500, { 'Content-Type': 'text/plain' });
      return void res.end('Internal Server Error');
    }
    if (req.method === 'GET' && faults.status429) {
      faults.status429--;
      answer(429, { 'Retry-After': faults.retryAfter ?? '1', 'Content-Type': 'text/plain' });
      return void res.end('Too Many Requests');
    }
    // RFC 9110 13.1.5: a Range whose If-Range names another version of the file is ignored (the whole file, 200).
    const stale = ifRange !== null && ifRange !== `"${blob.sha256}"`;
    const range = faults.ignoreRange || stale ? null : parseRange(req.headers.range, size);
    if (range === 'bad') {
      answer(416, { 'Content-Range': `bytes */${size}` });
      return void res.end();
    }
    const [start, end] = range ?? [0, size - 1];
    const length = end - start + 1;
    answer(range ? 206 : 200, {
      'Content-Length': length,
      'Content-Type': 'application/octet-stream',
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    let body = blob.bytes.subarray(start, end + 1);
    if (faults.wrongBytes) {
      const flipped = Buffer.from(body);
      const at = Math.floor(size / 2) - start;
      if (at >= 0 && at < flipped.length) flipped[at]! ^= 0xff;
      body = flipped;
    }
    let limit = length;
    const cut = faults.cutAfterBytes !== undefined && (faults.cuts ?? 1) > 0;
    if (cut) {
      limit = Math.min(length, faults.cutAfterBytes!);
      faults.cuts = (faults.cuts ?? 1) - 1;
    }
    const slice = faults.bytesPerSecond ? 16 * 1024 : limit;
    for (let at = 0; at < limit && !res.destroyed; at += slice) {
      const piece = body.subarray(at, Math.min(limit, at + slice));
      entry.bytesSent += piece.byteLength;
      if (!res.write(piece)) {
        await new Promise<void>((r) => {
          const go = (): void => {
            res.off('drain', go).off('close', go);
            r();
          };
          res.on('drain', go).on('close', go);
        });
      }
      if (faults.bytesPerSecond) await sleep((piece.byteLength / faults.bytesPerSecond) * 1000);
    }
    if (cut && limit < length) {
      // Let the bytes already written leave, then drop the connection mid-body.
      await new Promise<void>((r) => (res.writableLength === 0 ? r() : res.once('drain', r)));
      res.socket?.destroy();
      return;
    }
    res.end();
  }

  const hub = createServer((req, res) => {
    const url = new URL(req.url!, 'http://hub');
    hubRequests.push(`${req.method} ${url.pathname}${url.search}`);
    const path = decodeURIComponent(url.pathname);
    if (req.method === 'GET' && path === '/api/models') {
      const search = (url.searchParams.get('search') ?? '').toLowerCase();
      if (url.searchParams.get('filter') !== 'gguf') return json(res, 400, { error: 'this test Hub only lists gguf models' });
      const limit = Number(url.searchParams.get('limit') ?? '1000');
      const found = [...files.keys()]
        .filter((id) => id.toLowerCase().includes(search))
        .map((id) => ({ id, modelId: id, downloads: downloads[id] ?? 0, likes: 0, tags: ['gguf'] }))
        .sort((a, b) => b.downloads - a.downloads)
        .slice(0, limit);
      return json(res, 200, found);
    }
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && tree) {
      const list = files.get(tree[1]!);
      if (!list || tree[2] !== 'main' || url.searchParams.get('recursive') !== 'true') return json(res, 404, { error: 'Repository not found' });
      return json(res, 200, [...list].map(([p, b]) => ({
        type: 'file', oid: createHash('sha1').update(p).digest('hex'), size: b.bytes.byteLength, path: p,
        lfs: { oid: b.sha256, size: b.bytes.byteLength, pointerSize: 134 },
      })));
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if ((req.method === 'GET' || req.method === 'HEAD') && resolve) {
      const blob = resolve[2] === 'main' ? files.get(resolve[1]!)?.get(resolve[3]!) : undefined;
      if (!blob) return json(res, 404, { error: 'Entry not found' });
      res.writeHead(302, {
        Location: `${cdnOrigin}/blobs/${blob.sha256}`,
        'x-linked-etag': `"${blob.sha256}"`,
        'x-linked-size': blob.bytes.byteLength,
        'Content-Length': 0,
      });
      return void res.end();
    }
    json(res, 404, { error: 'not in the documented subset' });
  });
  const endpoint = await listen(hub);

  const blobOf = (repo: string, path: string): Blob => {
    const b = files.get(repo)?.get(path);
    if (!b) throw new Error(`no ${repo}/${path}`);
    return b;
  };
  return {
    endpoint,
    cdnOrigin,
    faults,
    requests,
    hubRequests,
    sha256: (repo, path) => blobOf(repo, path).sha256,
    replaceFile: (repo, path, bytes) => {
      blobOf(repo, path);
      files.get(repo)!.set(path, addBlob(bytes));
    },
    bytesSent: (repo, path) => {
      const sha = blobOf(repo, path).sha256;
      return requests.filter((r) => r.sha256 === sha).reduce((n, r) => n + r.bytesSent, 0);
    },
    close: async () => {
      for (const s of [hub, cdn]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
