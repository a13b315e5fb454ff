// The resumable, verified transfer of one file. Bytes stream to `<dest>.part` beside the final place; after a dropped
// connection, a pause, a crash or a restart the transfer goes on from the part file with a Range request (the part
// is hashed first, so the SHA-256 covers every byte); drops, 5xx and 429 (Retry-After) are retried with backoff.
// The finished file is checked against the Hub's LFS sha256 before it is renamed into place (atomic): a mismatch
// deletes the part and registers nothing. A full disk keeps the part file and says so; the transfer can resume.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, statfs, truncate } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { HubError } from './errors';
import { sleep } from '../sleep';

export const PART_SUFFIX = '.part';
/** Received bytes are written in batches of about this size (fewer syscalls than one write per network chunk)... */
const WRITE_BATCH = 1 << 20;
/** ...or after this long, so a slow transfer still reports progress several times a second. */
const WRITE_INTERVAL_MS = 200;

export interface DownloadProgress {
  readonly phase: 'check-part' | 'download' | 'done';
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Bytes that were already in the part file when this call began. */
  readonly resumedBytes: number;
}

export interface RetryPolicy {
  /** Failures in a row (without a byte of progress between them) before giving up. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseDelayMs: 1000, maxDelayMs: 60_000 };

/** The part file as the downloader uses it (a FileHandle opened for append; tests may wrap it). */
export interface PartFile {
  writev(buffers: Uint8Array[]): Promise<unknown>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface DownloadOptions {
  readonly url: string;
  readonly dest: string;
  /** Bytes, from the file tree. */
  readonly size: number;
  /** The LFS oid (hex). */
  readonly sha256: string;
  readonly fetch?: typeof fetch;
  /** Extra headers per URL (authorization for the endpoint's origin only). */
  readonly headers?: (url: string) => Record<string, string>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: DownloadProgress) => void;
  readonly retry?: Partial<RetryPolicy>;
  /** Free bytes on the file system holding `dir`; statfs by default. */
  readonly freeSpace?: (dir: string) => Promise<number>;
  readonly openPart?: (path: string) => Promise<PartFile>;
}

export interface DownloadResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Bytes found in the part file (or the finished file) and not fetched again. */
  readonly resumedBytes: number;
  /** Body bytes received over the network by this call. */
  readonly fetchedBytes: number;
  readonly seconds: number;
  /** The final file was already there with the right bytes: nothing was fetched. */
  readonly alreadyPresent: boolean;
}

const freeBytes = async (dir: string): Promise<number> => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function hashInto(hash: Hash, path: string, onBytes: (n: number) => void, signal?: AbortSignal): Promise<void> {
  let done = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20, signal })) {
    hash.update(chunk as Buffer);
    onBytes((done += (chunk as Buffer).byteLength));
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}


const aborted = (signal: AbortSignal): HubError => new HubError('aborted', 'The download was stopped; its part file is kept', { cause: signal.reason });

/** A failure worth another attempt (dropped connection, 5xx, 429), with the server's wish for a delay. */
class Retryable extends Error {
  constructor(message: string, readonly delayMs: number | null = null) {
    super(message);
  }
}

/** Downloads `url` to `dest` as described at the top of this file. */
export async function downloadFile(o: DownloadOptions): Promise<DownloadResult> {
  const started = performance.now();
  const expected = o.sha256.toLowerCase();
  const name = basename(o.dest);
  const part = o.dest + PART_SUFFIX;
  const policy = { ...DEFAULT_RETRY, ...o.retry };
  const report = (phase: DownloadProgress['phase'], bytesDone: number, resumedBytes: number): void =>
    o.onProgress?.({ phase, bytesDone, bytesTotal: o.size, resumedBytes });
  const finish = (hex: string, resumedBytes: number, fetchedBytes: number, alreadyPresent: boolean): DownloadResult => {
    report('done', o.size, resumedBytes);
    return { path: o.dest, bytes: o.size, sha256: hex, resumedBytes, fetchedBytes, seconds: (performance.now() - started) / 1000, alreadyPresent };
  };
  await mkdir(dirname(o.dest), { recursive: true });

  if ((await sizeOf(o.dest)) === o.size) {
    const hash = createHash('sha256');
    await hashInto(hash, o.dest, (n) => report('check-part', n, 0), o.signal);
    const hex = hash.digest('hex');
    if (hex === expected) return finish(hex, o.size, 0, true);
  }

  let have = (await sizeOf(part)) ?? 0;
  if (have > o.size) {
    await rm(part, { force: true });
    have = 0;
  }
  let hash = createHash('sha256');
  if (have > 0) await hashInto(hash, part, (n) => report('check-part', n, have), o.signal);
  const resumedBytes = have;

  const free = await (o.freeSpace ?? freeBytes)(dirname(o.dest));
  if (free < o.size - have) {
    throw new HubError('no-space', `Not enough free space for ${name} in ${dirname(o.dest)}: ${o.size - have} bytes needed, ${free} free`);
  }

  const file = await (o.openPart ?? ((p: string) => open(p, 'a')))(part);
  let fetchedBytes = 0;
  try {
    let failures = 0;
    while (have < o.size) {
      if (o.signal?.aborted) throw aborted(o.signal);
      const before = have;
      try {
        const got = await fetchFrom(have, file, hash, (n) => {
          have += n;
          fetchedBytes += n;
          report('download', have, resumedBytes);
        });
        if (got === 'restart') {
          // The server ignored Range (200 for a ranged request): the only way on is from byte 0.
          await truncate(part, 0);
          hash = createHash('sha256');
          have = 0;
        }
      } catch (e) {
        if (!(e instanceof Retryable)) throw e;
        failures = have > before ? 1 : failures + 1;
        if (failures > policy.attempts) {
          throw new HubError('network', `Gave up on ${name} after ${policy.attempts} failed attempts (${e.message}); ${have} of ${o.size} bytes are kept in ${part}`);
        }
        const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - 1)) * (0.75 + Math.random() / 2);
        await sleep(e.delayMs ?? backoff, o.signal, aborted);
      }
    }
    await file.sync();
  } finally {
    await file.close();
  }

  const hex = hash.digest('hex');
  if (hex !== expected) {
    await rm(part, { force: true });
    throw new HubError('checksum-mismatch', `${name} does not match the Hub's checksum (sha256 ${hex}, expected ${expected}); the download was deleted and nothing was registered`);
  }
  await rename(part, o.dest);
  return finish(hex, resumedBytes, fetchedBytes, false);

  /** One request from byte `from` to the end; every received byte is written and hashed before this returns. */
  async function fetchFrom(from: number, file: PartFile, h: Hash, onBytes: (n: number) => void): Promise<'ok' | 'restart'> {
    let r: Response;
    try {
      r = await (o.fetch ?? fetch)(o.url, {
        headers: { ...o.headers?.(o.url), ...(from > 0 ? { Range: `bytes=${from}-` } : {}) },
        signal: o.signal,
      });
    } catch (e) {
      if (o.signal?.aborted) throw aborted(o.signal);
      throw new Retryable((e as Error).message);
    }
    if (r.status === 416 && from === o.size) return 'ok';
    if (r.status === 429 || r.status >= 500) {
      await r.body?.cancel();
      throw new Retryable(`the server answered ${r.status}`, retryAfterMs(r.headers.get('retry-after')));
    }
    if (r.status === 404) {
      await r.body?.cancel();
      throw new HubError('not-found', `${o.url} is not there (404)`, { status: 404 });
    }
    if (r.status !== 200 && r.status !== 206) {
      await r.body?.cancel();
      throw new HubError('http', `${o.url} answered ${r.status}`, { status: r.status });
    }
    if (r.status === 200 && from > 0) {
      await r.body?.cancel();
      return 'restart';
    }
    if (r.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(r.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== from || (m[3] !== '*' && Number(m[3]) !== o.size)) {
        await r.body?.cancel();
        throw new HubError('bad-response', `${o.url} sent ${r.headers.get('content-range') ?? 'no Content-Range'} for bytes ${from}- of ${o.size} (did the file change on the Hub?)`);
      }
    }
    if (!r.body) throw new Retryable('an empty answer');
    await pump(r.body, file, h, onBytes, from);
    return 'ok';
  }

  async function pump(body: ReadableStream<Uint8Array>, file: PartFile, h: Hash, onBytes: (n: number) => void, from: number): Promise<void> {
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    let received = from;
    let flushedAt = performance.now();
    // One write may be in flight while the next batch arrives and is hashed; its failure is raised at the next
    // flush (kept in writeError, so no rejection is ever left unhandled).
    let pending: Promise<void> = Promise.resolve();
    let writeError: unknown = null;
    const settle = async (): Promise<void> => {
      await pending;
      if (writeError === null) return;
      const e = writeError;
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new HubError('no-space', `The disk holding ${dirname(o.dest)} is full: ${name} stopped, and the bytes so far are kept in ${basename(part)}; free some space and resume`, { cause: e });
      }
      throw e;
    };
    const flush = async (): Promise<void> => {
      await settle();
      if (batchBytes === 0) return;
      const buffers = batch;
      const n = batchBytes;
      batch = [];
      batchBytes = 0;
      flushedAt = performance.now();
      pending = file.writev(buffers).then(
        () => onBytes(n),
        (e: unknown) => {
          writeError = e;
        },
      );
    };
    const drain = async (): Promise<void> => {
      await flush();
      await settle();
    };
    const reader = body.getReader();
    try {
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (e) {
          await drain();
          if (o.signal?.aborted) throw aborted(o.signal);
          throw new Retryable(`the connection dropped at byte ${received}: ${(e as Error).message}`);
        }
        if (next.done) break;
        const chunk = next.value;
        if (received + chunk.byteLength > o.size) {
          await drain();
          throw new HubError('bad-response', `${o.url} sent more than the ${o.size} bytes the Hub lists`);
        }
        h.update(chunk);
        received += chunk.byteLength;
        batch.push(chunk);
        batchBytes += chunk.byteLength;
        if (batchBytes >= WRITE_BATCH || performance.now() - flushedAt >= WRITE_INTERVAL_MS) await flush();
      }
      await drain();
    } catch (e) {
      await pending;
      await reader.cancel().catch(() => undefined);
      throw e;
    } finally {
      reader.releaseLock();
    }
    if (received < o.size) throw new Retryable(`the answer ended at byte ${received} of ${o.size}`);
  }
}
