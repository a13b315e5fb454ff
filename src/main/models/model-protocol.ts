// Serves model files to the renderer's engine on `kvchat-model://<modelId>`, with HTTP Range support, streamed
// from the file (a multi-GB model is never read whole). Part k of a split model is `kvchat-model://<modelId>?part=k`
// (the engine's splitPartUrl); the bare URL is the first part. Plain Node: src/main/index.ts hands Electron's
// protocol.handle requests here and turns the answer into a Response.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { MODEL_URL_SCHEME } from '../../shared/api';
import { ModelLibraryError } from './errors';
import type { ServedFile } from './library';

export interface ModelRequest {
  readonly url: string;
  readonly method?: string;
  /** A fetch Headers object or a plain record (any case). */
  readonly headers: { get(name: string): string | null } | Readonly<Record<string, string>>;
}

export interface ModelResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: ReadableStream<Uint8Array> | null;
}

/** Inclusive byte offsets. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export interface ModelFileSource {
  servedFile(id: string, part?: number): Promise<ServedFile>;
}

const CHUNK_BYTES = 1 << 20;
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, ETag',
};

/**
 * The range a `Range` header asks for in a file of `size` bytes: a range, 'unsatisfiable' (answer 416), or null
 * when the header is absent, malformed or asks for several ranges (RFC 9110 lets a server ignore it: answer 200).
 */
export function parseRange(header: string | null | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (last < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) };
}

function headerOf(headers: ModelRequest['headers'], name: string): string | null {
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name);
  const record = headers as Readonly<Record<string, string>>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? null : (record[key] ?? null);
}

function textResponse(status: number, message: string, extra: Record<string, string> = {}): ModelResponse {
  return {
    status,
    headers: { ...CORS, 'Content-Type': 'text/plain; charset=utf-8', ...extra },
    body: new Blob([message]).stream(),
  };
}

function fileStream(path: string, range: ByteRange): ReadableStream<Uint8Array> {
  const stream = createReadStream(path, { start: range.start, end: range.end, highWaterMark: CHUNK_BYTES });
  return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
}

/** The 1-based part a `?part=k` asks for (1 when absent), or null when it is no whole number. */
export function modelPartOf(url: string): number | null {
  const part = new URL(url).searchParams.get('part');
  if (part === null) return 1;
  return /^[1-9]\d{0,4}$/.test(part) ? Number(part) : null;
}

/** The model id of a `kvchat-model://<id>` URL, or null. */
export function modelIdOf(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${MODEL_URL_SCHEME}:` || !u.hostname) return null;
  return decodeURIComponent(u.hostname);
}

export async function handleModelRequest(library: ModelFileSource, request: ModelRequest): Promise<ModelResponse> {
  const method = (request.method ?? 'GET').toUpperCase();
  if (method === 'OPTIONS') {
    return { status: 204, headers: { ...CORS, 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': 'Range' }, body: null };
  }
  if (method !== 'GET' && method !== 'HEAD') return textResponse(405, `${method} is not supported; models are read-only`, { Allow: 'GET, HEAD' });
  const id = modelIdOf(request.url);
  if (id === null) return textResponse(400, `Not a model URL: ${request.url} (expected ${MODEL_URL_SCHEME}://<model id>)`);

  const part = modelPartOf(request.url);
  if (part === null) return textResponse(400, `Not a model part: ${request.url} (expected ?part=<1-based index>)`);

  let file: ServedFile;
  try {
    file = await library.servedFile(id, part);
  } catch (e) {
    if (e instanceof ModelLibraryError && e.code === 'model-not-found') return textResponse(404, e.message);
    if (e instanceof ModelLibraryError && e.code === 'model-unavailable') return textResponse(410, e.message);
    throw e;
  }

  const common = { ...CORS, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', ETag: `"${file.partCount > 1 ? `${file.fingerprint}-${file.part}` : file.fingerprint}"` };
  const range = parseRange(headerOf(request.headers, 'range'), file.size);
  if (range === 'unsatisfiable') {
    return textResponse(416, `Range ${headerOf(request.headers, 'range')} is outside the ${file.size}-byte model file`, {
      'Content-Range': `bytes */${file.size}`,
    });
  }
  const served = range ?? { start: 0, end: file.size - 1 };
  const length = file.size === 0 ? 0 : served.end - served.start + 1;
  const headers: Record<string, string> = { ...common, 'Content-Length': String(length) };
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${file.size}`;
  const body = method === 'HEAD' || length === 0 ? null : fileStream(file.path, served);
  return { status: range ? 206 : 200, headers, body };
}
