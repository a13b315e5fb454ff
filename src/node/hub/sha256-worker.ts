// SHA-256 of a download on a worker thread (node:worker_threads), so hashing a multi-gigabyte file takes neither the
// transfer's critical path nor the main process's event loop. The worker hashes what is on disk: a whole file (the
// part file of a resumed download) or the byte range just written to it, read back from the page cache on the
// worker (a message of a few bytes per write: handing the bytes themselves over cost the receiving thread a third of
// a plain read's time, transferred or not), so the hash covers exactly the bytes the file holds. Bytes in memory can
// be handed over too (transferred, not copied).
// The worker's code is inline (eval) so it runs the same from tsx, vitest and the bundled Electron main. One thread
// serves every download (a hash state per stream): starting a thread per file costs tens of milliseconds, a real
// share of a small file's transfer. The thread keeps the process alive only while an answer is awaited.
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { createReadStream, openSync, readSync, closeSync } = require('node:fs');
const hashes = new Map();
// A range is read into this buffer, piece by piece (no allocation per write).
const scratch = Buffer.allocUnsafe(4 << 20);
// Streams whose hash no longer covers their bytes (a range could not be read): every later answer is this error,
// until a reset.
const broken = new Map();
// The file each stream reads its ranges from, kept open between ranges (opening a file per write costs more on some
// systems, e.g. under a virus scanner); closed at a digest (the file is renamed next), a reset or a drop.
const readers = new Map();
const closeReader = (stream) => { const r = readers.get(stream); if (r) { readers.delete(stream); closeSync(r.fd); } };
const readerOf = (stream, path) => {
  let r = readers.get(stream);
  if (r && r.path !== path) { closeReader(stream); r = undefined; }
  if (!r) { r = { path, fd: openSync(path, 'r') }; readers.set(stream, r); }
  return r.fd;
};
const hashOf = (stream) => { let h = hashes.get(stream); if (!h) { h = createHash('sha256'); hashes.set(stream, h); } return h; };
// Files are read in order per stream: an update that arrives while a file is read waits for it.
const queues = new Map();
// Streams whose file read was cancelled (a pause while a part file is checked): the read stops at its next chunk.
const cancelled = new Set();
parentPort.on('message', (m) => {
  if (m.kind === 'cancel') { cancelled.add(m.stream); return; }
  const run = () => handle(m).catch((e) => parentPort.postMessage({ stream: m.stream, id: m.id, error: String((e && e.message) || e) }));
  const next = (queues.get(m.stream) || Promise.resolve()).then(run);
  queues.set(m.stream, next);
});
async function handle(m) {
  const reply = (r) => parentPort.postMessage({ stream: m.stream, id: m.id, ...r });
  if (m.kind === 'reset') { closeReader(m.stream); broken.delete(m.stream); hashes.set(m.stream, createHash('sha256')); return reply({}); }
  if (m.kind === 'drop') { closeReader(m.stream); hashes.delete(m.stream); queues.delete(m.stream); cancelled.delete(m.stream); broken.delete(m.stream); return; }
  if (broken.has(m.stream)) throw new Error(broken.get(m.stream));
  if (m.kind === 'range') {
    // Not answered unless it fails: the next digest waits for it anyway.
    try { hashRange(hashOf(m.stream), readerOf(m.stream, m.path), m.path, m.start, m.end); }
    catch (e) { closeReader(m.stream); broken.set(m.stream, String((e && e.message) || e)); throw e; }
  }
  else if (m.kind === 'update') {
    let n = 0;
    for (const c of m.chunks) { hashOf(m.stream).update(c); n += c.byteLength; }
    reply({ n });
  }
  else if (m.kind === 'digest') { closeReader(m.stream); reply({ hex: hashOf(m.stream).copy().digest('hex') }); }
  else if (m.kind === 'file') {
    let done = 0;
    let last = 0;
    for await (const chunk of createReadStream(m.path, { highWaterMark: 4 << 20 })) {
      if (cancelled.has(m.stream)) throw new Error('cancelled');
      hashOf(m.stream).update(chunk);
      done += chunk.byteLength;
      if (done - last >= 64 << 20) { last = done; reply({ progress: done }); }
    }
    reply({ n: done });
  }
}
function hashRange(hash, fd, path, start, end) {
  for (let at = start; at < end; ) {
    const n = readSync(fd, scratch, 0, Math.min(scratch.length, end - at), at);
    if (n === 0) throw new Error(path + ' ends at byte ' + at + ', short of the ' + end + ' bytes written to it');
    hash.update(scratch.subarray(0, n));
    at += n;
  }
}
`;

/** Bytes handed over and not yet hashed before `update` waits (bounds the memory a slow hash can hold). */
const MAX_IN_FLIGHT = 64 << 20;

interface Reply {
  readonly stream: number;
  readonly id: number;
  readonly n?: number;
  readonly hex?: string;
  readonly progress?: number;
  readonly error?: string;
}

interface Waiter {
  resolve(r: Reply): void;
  reject(e: Error): void;
  onProgress?: (bytes: number) => void;
}

/** The hashing thread every Sha256Worker shares, started on first use (and again after a crash). */
class HashThread {
  private static current: HashThread | null = null;
  readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  readonly streams = new Map<number, Sha256Worker>();
  private nextStream = 0;
  /** Answers awaited (by every stream): the thread is ref'd while there are any. */
  private awaited = 0;

  static get(): HashThread {
    HashThread.current ??= new HashThread();
    return HashThread.current;
  }

  private constructor() {
    this.worker.unref();
    this.worker.on('message', (r: Reply) => this.streams.get(r.stream)?.receive(r));
    const fail = (e: Error): void => {
      if (HashThread.current === this) HashThread.current = null;
      for (const s of this.streams.values()) s.fail(e);
      this.streams.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the hashing thread exited (${code})`)));
  }

  hold(): void {
    if (this.awaited++ === 0) this.worker.ref();
  }

  release(): void {
    if (--this.awaited === 0) this.worker.unref();
  }

  open(s: Sha256Worker): number {
    const id = this.nextStream++;
    this.streams.set(id, s);
    return id;
  }

  close(stream: number): void {
    if (!this.streams.delete(stream)) return;
    this.worker.postMessage({ kind: 'drop', stream });
  }
}

/** One running SHA-256 on the shared hashing thread. Call `close()` when done. */
export class Sha256Worker {
  private readonly thread = HashThread.get();
  private readonly stream = this.thread.open(this);
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 0;
  private inFlight = 0;
  private drained: (() => void) | null = null;
  private failure: Error | null = null;

  /**
   * Hashes `chunks` next, in order, in one message. A chunk that owns its whole ArrayBuffer (as fetch's body
   * chunks do) is transferred, detached here, never copied; a view into a larger buffer is copied. Resolves once the
   * bytes are accepted, which waits only while more than MAX_IN_FLIGHT bytes are still unhashed.
   */
  async update(chunks: readonly Uint8Array[]): Promise<void> {
    this.check();
    const owned = chunks.map((c) => (c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && c.buffer instanceof ArrayBuffer ? c : c.slice()));
    const bytes = owned.reduce((n, c) => n + c.byteLength, 0);
    const id = this.nextId++;
    this.inFlight += bytes;
    this.wait(id, { resolve: (r) => this.settled(r.n ?? 0), reject: () => undefined });
    this.thread.worker.postMessage({ kind: 'update', stream: this.stream, id, chunks: owned }, owned.map((c) => c.buffer as ArrayBuffer));
    while (this.inFlight > MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => (this.drained = r));
    this.check();
  }

  /**
   * Hashes the file at `path` next (the worker reads it); `onProgress` gets the bytes read so far. An abort stops
   * the read (rejecting) and leaves this hash unusable: close it.
   */
  updateFromFile(path: string, onProgress?: (bytes: number) => void, signal?: AbortSignal): Promise<number> {
    const cancel = (): void => this.thread.worker.postMessage({ kind: 'cancel', stream: this.stream });
    signal?.addEventListener('abort', cancel, { once: true });
    if (signal?.aborted) cancel();
    return this.request({ kind: 'file', path }, onProgress)
      .then((r) => r.n ?? 0)
      .finally(() => signal?.removeEventListener('abort', cancel));
  }

  /**
   * Hashes bytes `start` to `end` (exclusive) of the file at `path` next: bytes just written there, which the worker
   * reads back (from the page cache) in order with everything else handed over. Nothing is awaited; a range that
   * cannot be read (the file is shorter) makes the next digest fail, not return a wrong hash.
   */
  updateFromFileRange(path: string, start: number, end: number): void {
    this.check();
    if (end > start) this.thread.worker.postMessage({ kind: 'range', stream: this.stream, id: -1, path, start, end });
  }

  /** Starts over from an empty hash (after everything handed over so far). */
  async reset(): Promise<void> {
    await this.request({ kind: 'reset' });
  }

  /** Lowercase hex of every byte handed over so far (waits for the worker to catch up). */
  async digest(): Promise<string> {
    return (await this.request({ kind: 'digest' })).hex!;
  }

  close(): Promise<void> {
    this.thread.close(this.stream);
    this.fail(new Error('this hash was closed'));
    return Promise.resolve();
  }

  private request(message: Record<string, unknown>, onProgress?: (bytes: number) => void): Promise<Reply> {
    this.check();
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.wait(id, { resolve, reject, ...(onProgress ? { onProgress } : {}) });
      this.thread.worker.postMessage({ ...message, stream: this.stream, id });
    });
  }

  /** A reply from the thread (HashThread routes it here). */
  receive(r: Reply): void {
    const w = this.waiters.get(r.id);
    if (!w) return;
    if (r.progress !== undefined) return w.onProgress?.(r.progress);
    this.waiters.delete(r.id);
    this.thread.release();
    if (r.error !== undefined) {
      const e = new Error(`hashing failed: ${r.error}`);
      this.failure ??= e;
      w.reject(e);
    } else {
      if (r.n !== undefined) w.onProgress?.(r.n);
      w.resolve(r);
    }
  }

  private settled(n: number): void {
    this.inFlight -= n;
    if (this.inFlight <= MAX_IN_FLIGHT) this.wake();
  }

  private wake(): void {
    const d = this.drained;
    this.drained = null;
    d?.();
  }

  private wait(id: number, w: Waiter): void {
    this.waiters.set(id, w);
    this.thread.hold();
  }

  fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters.values()) {
      this.thread.release();
      w.reject(e);
    }
    this.waiters.clear();
    this.wake();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}
