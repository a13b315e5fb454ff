// The resumable, verified transfer of one file. Bytes stream to `<dest>.part` beside the final place; after a dropped
// connection, a pause, a crash or a restart the transfer goes on from the part file with a Range request (the part
// is hashed first, so the SHA-256 covers every byte); drops, 5xx and 429 (Retry-After) are retried with backoff.
// The finished file is checked against the Hub's LFS sha256 before it is renamed into place (atomic): a mismatch
// deletes the part and registers nothing. A full disk keeps the part file and says so; the transfer can resume.
// Hashing runs on a worker thread as the bytes are written (sha256-worker.ts), off the transfer's critical path; the
// bytes arrive through node:http (http-get.ts, cheaper per byte than fetch) and the part file is fsynced in the
// background as it grows, so the sync that must precede the rename has little left to do.
// A resumed request carries If-Range with the validator (strong ETag, else Last-Modified) of the response that began
// the part file, kept beside it in `<part>.validator` across restarts: a file that changed on the server comes back
// whole (200) and the transfer restarts from byte 0 instead of splicing two versions.
import { mkdir, open, readFile, rename, rm, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { HubError } from './errors';
import { fetchGet, nodeGet, type HttpAnswer } from './http-get';
import { Sha256Worker } from './sha256-worker';
import { sleep } from '../sleep';

export const PART_SUFFIX = '.part';
/** Beside the part file: the If-Range validator of the response that wrote its first byte. */
export const VALIDATOR_SUFFIX = '.validator';
/** Received bytes are written in batches of about this size (fewer syscalls than one write per network chunk)... */
export const WRITE_BATCH = 1 << 20;
/** ...or after this long, so a slow transfer still reports progress several times a second. */
const WRITE_INTERVAL_MS = 200;
/**
 * Written bytes that start a background fsync: the disk takes the data while the network still sends, so the sync
 * before the rename has little left to flush (one final fsync of a whole file costs about half the transfer on
 * loopback). One sync at a time: bytes written meanwhile wait for the next, so a slow disk gets fewer, larger syncs.
 */
export const SYNC_EVERY = 8 << 20;

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
  writev(buffers: Uint8Array[]): Promise<{ bytesWritten: number }>;
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
  /** Receive through this fetch instead of node:http/https (http-get.ts), e.g. a test's or an app's own network stack. */
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

/** The If-Range value a response offers: its strong ETag, else its Last-Modified date (weak ETags may not be used). */
export function rangeValidator(headers: Headers): string | null {
  const etag = headers.get('etag');
  if (etag && !etag.startsWith('W/')) return etag;
  return headers.get('last-modified');
}

async function readValidator(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim() || null;
  } catch {
    return null;
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

/**
 * Appends every byte of `buffers`: writev may write fewer (a disk filling up part way through a batch) and says so
 * only in its count; the rest is written again, so a full disk fails with ENOSPC instead of leaving a gap.
 */
async function writeAll(file: PartFile, buffers: readonly Uint8Array[]): Promise<void> {
  let left = [...buffers];
  for (;;) {
    const { bytesWritten } = await file.writev(left);
    let skip = bytesWritten;
    while (left.length > 0 && skip >= left[0]!.byteLength) skip -= left.shift()!.byteLength;
    if (left.length === 0) return;
    if (bytesWritten === 0) throw new Error('the part file took none of the bytes written to it');
    left = [left[0]!.subarray(skip), ...left.slice(1)];
  }
}

/** Downloads `url` to `dest` as described at the top of this file. */
export async function downloadFile(o: DownloadOptions): Promise<DownloadResult> {
  const hasher = new Sha256Worker();
  try {
    return await transfer(o, hasher);
  } finally {
    await hasher.close();
  }
}

async function transfer(o: DownloadOptions, hasher: Sha256Worker): Promise<DownloadResult> {
  const started = performance.now();
  const expected = o.sha256.toLowerCase();
  const name = basename(o.dest);
  const part = o.dest + PART_SUFFIX;
  const validatorPath = part + VALIDATOR_SUFFIX;
  const policy = { ...DEFAULT_RETRY, ...o.retry };
  const report = (phase: DownloadProgress['phase'], bytesDone: number, resumedBytes: number): void =>
    o.onProgress?.({ phase, bytesDone, bytesTotal: o.size, resumedBytes });
  const finish = (hex: string, resumedBytes: number, fetchedBytes: number, alreadyPresent: boolean): DownloadResult => {
    report('done', o.size, resumedBytes);
    return { path: o.dest, bytes: o.size, sha256: hex, resumedBytes, fetchedBytes, seconds: (performance.now() - started) / 1000, alreadyPresent };
  };
  const hashFile = async (path: string, resumed: number): Promise<void> => {
    try {
      await hasher.updateFromFile(path, (n) => report('check-part', n, resumed), o.signal);
    } catch (e) {
      if (o.signal?.aborted) throw aborted(o.signal);
      throw e;
    }
    if (o.signal?.aborted) throw aborted(o.signal);
  };
  await mkdir(dirname(o.dest), { recursive: true });

  if ((await sizeOf(o.dest)) === o.size) {
    await hashFile(o.dest, 0);
    const hex = await hasher.digest();
    if (hex === expected) return finish(hex, o.size, 0, true);
    await hasher.reset();
  }

  let have = (await sizeOf(part)) ?? 0;
  if (have > o.size) {
    await rm(part, { force: true });
    have = 0;
  }
  // Without a part file a validator left over from an earlier file means nothing.
  let validator = have > 0 ? await readValidator(validatorPath) : null;
  if (have > 0) await hashFile(part, have);
  const resumedBytes = have;

  const free = await (o.freeSpace ?? freeBytes)(dirname(o.dest));
  if (free < o.size - have) {
    throw new HubError('no-space', `Not enough free space for ${name} in ${dirname(o.dest)}: ${o.size - have} bytes needed, ${free} free`);
  }

  const file = await (o.openPart ?? ((p: string) => open(p, 'a')))(part);
  let fetchedBytes = 0;
  let hex: string;
  try {
    let failures = 0;
    while (have < o.size) {
      if (o.signal?.aborted) throw aborted(o.signal);
      const before = have;
      try {
        await fetchFrom(have, file, (n) => {
          have += n;
          fetchedBytes += n;
          report('download', have, resumedBytes);
        }, async () => {
          // The part file holds another version of the file (or the server will not resume it): the only way on is
          // from byte 0, never a splice of two versions. The reset waits for the hashing thread to finish the ranges
          // it was given, so it never reads the file while it is cut.
          await hasher.reset();
          await truncate(part, 0);
          have = 0;
        });
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
    // The bytes are on stable storage before the rename below; the background syncs left this one little to flush,
    // and it overlaps the hashing thread's last bytes.
    [hex] = await Promise.all([hasher.digest(), file.sync()]);
  } finally {
    await file.close();
  }

  await rm(validatorPath, { force: true });
  if (hex !== expected) {
    await rm(part, { force: true });
    throw new HubError('checksum-mismatch', `${name} does not match the Hub's checksum (sha256 ${hex}, expected ${expected}); the download was deleted and nothing was registered`);
  }
  await rename(part, o.dest);
  return finish(hex, resumedBytes, fetchedBytes, false);

  /** One request from byte `from` to the end; every received byte is written (and handed to the hasher) before this returns. */
  async function fetchFrom(from: number, file: PartFile, onBytes: (n: number) => void, startOver: () => Promise<void>): Promise<void> {
    const ranged = from > 0 ? { Range: `bytes=${from}-`, ...(validator ? { 'If-Range': validator } : {}) } : {};
    let r: HttpAnswer;
    try {
      r = await (o.fetch ? fetchGet(o.fetch) : nodeGet)(o.url, { headers: (url) => ({ ...o.headers?.(url), ...ranged }), ...(o.signal ? { signal: o.signal } : {}) });
    } catch (e) {
      if (o.signal?.aborted) throw aborted(o.signal);
      if (e instanceof HubError) throw e; // a URL that no retry can fetch
      throw new Retryable((e as Error).message);
    }
    if (r.status === 416 && from === o.size) return void (await r.cancel());
    if (r.status === 429 || r.status >= 500) {
      await r.cancel();
      throw new Retryable(`the server answered ${r.status}`, retryAfterMs(r.headers.get('retry-after')));
    }
    if (r.status === 404) {
      await r.cancel();
      throw new HubError('not-found', `${o.url} is not there (404)`, { status: 404 });
    }
    if (r.status !== 200 && r.status !== 206) {
      await r.cancel();
      throw new HubError('http', `${o.url} answered ${r.status}`, { status: r.status });
    }
    const offered = rangeValidator(r.headers);
    if (r.status === 206 && validator !== null && offered !== null && offered !== validator) {
      // A 206 of another version than the part file's, whatever If-Range said: ask again for the whole file.
      await r.cancel();
      await startOver();
      validator = null;
      return;
    }
    if (r.status === 200 && from > 0) {
      // The whole file for a ranged request (If-Range saw a changed file, or Range is not supported): take it from 0.
      await startOver();
      from = 0;
    }
    if (r.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(r.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== from || (m[3] !== '*' && Number(m[3]) !== o.size)) {
        await r.cancel();
        throw new HubError('bad-response', `${o.url} sent ${r.headers.get('content-range') ?? 'no Content-Range'} for bytes ${from}- of ${o.size} (did the file change on the Hub?)`);
      }
    }
    if (from === 0) {
      validator = offered;
      if (validator) await writeFile(validatorPath, validator);
      else await rm(validatorPath, { force: true });
    }
    await pump(r, file, onBytes, from);
  }

  async function pump(r: HttpAnswer, file: PartFile, onBytes: (n: number) => void, from: number): Promise<void> {
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    let received = from;
    /** Bytes in the part file once the writes handed out so far are done. */
    let written = from;
    let flushedAt = performance.now();
    // One write may be in flight while the next batch arrives; once written, a batch goes to the hashing thread.
    // A failure is raised at the next flush (kept in writeError, so no rejection is ever left unhandled).
    let pending: Promise<void> = Promise.resolve();
    let writeError: unknown = null;
    let unsynced = 0;
    /** The background sync in flight, if any. */
    let syncing: Promise<void> | null = null;
    const syncInBackground = (): void => {
      if (syncing !== null || unsynced < SYNC_EVERY) return;
      unsynced = 0;
      syncing = file.sync().then(
        () => {
          syncing = null;
          syncInBackground();
        },
        (e: unknown) => {
          syncing = null;
          writeError ??= e;
        },
      );
    };
    const synced = async (): Promise<void> => {
      while (syncing !== null) await syncing;
    };
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
      // Written as received (no copy); then the hashing thread reads the same range back from the page cache.
      const buffers = batch;
      const n = batchBytes;
      const at = written;
      written += n;
      batch = [];
      batchBytes = 0;
      flushedAt = performance.now();
      pending = writeAll(file, buffers).then(
        () => {
          onBytes(n);
          hasher.updateFromFileRange(part, at, at + n);
          // Not awaited by the next write; the final drain waits for it.
          unsynced += n;
          syncInBackground();
        },
        (e: unknown) => {
          writeError = e;
        },
      ).catch((e: unknown) => {
        writeError ??= e;
      });
    };
    const drain = async (): Promise<void> => {
      await flush();
      await pending;
      await synced();
      await settle();
    };
    const chunks = r.body[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await chunks.next();
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
        received += chunk.byteLength;
        batch.push(chunk);
        batchBytes += chunk.byteLength;
        if (batchBytes >= WRITE_BATCH || performance.now() - flushedAt >= WRITE_INTERVAL_MS) await flush();
      }
      await drain();
    } catch (e) {
      await pending;
      await synced();
      await r.cancel();
      throw e;
    }
    if (received < o.size) throw new Retryable(`the answer ended at byte ${received} of ${o.size}`);
  }
}
