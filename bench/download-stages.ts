// npm run -s bench -- --download --stages [--json] [--mib N] [--runs N]
// Where a verified download's time goes: the same loopback file read plainly (node:http, as the downloader receives;
// fetch for comparison), then with each stage of the downloader added (src/node/hub/download.ts): the part file's
// writes (1 MiB writev), its background fsyncs (every SYNC_EVERY bytes, then a final one), the SHA-256 on the hashing
// thread of the ranges written (read back from the page cache, as the downloader hashes), or of the bytes received
// (handed to the hashing thread, or hashed on the receiving thread; no write), and the whole downloader. Each stage reports its wall time and the CPU
// seconds of the whole process (every thread: the loopback Hub, the client, the hashing thread, libuv's file writes),
// the median of --runs, interleaved. Plus single-thread SHA-256 (node:crypto, OpenSSL) in memory and the cores:
// a stream's hash cannot be split across cores, so where it is slower than the plain read, it bounds the ratio.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubClient } from '../src/node/hub/client';
import { downloadFile, SYNC_EVERY, WRITE_BATCH } from '../src/node/hub/download';
import { nodeGet } from '../src/node/hub/http-get';
import { Sha256Worker } from '../src/node/hub/sha256-worker';
import { startHubServer } from '../tests/helpers/hub-server';

interface Stage {
  readonly name: string;
  /** Resolves to a clean-up to run once the clock has stopped, if any. */
  readonly run: (url: string, dir: string) => Promise<(() => Promise<void>) | void>;
}

/** Reads the body with fetch (web streams), discarding it. */
export async function fetchRead(url: string): Promise<void> {
  const reader = (await fetch(url)).body!.getReader();
  for (;;) if ((await reader.read()).done) return;
}

/** Reads the body as the downloader does (node:http); `onBatch` gets each ~1 MiB of it, as the downloader batches its writes. */
export async function read(url: string, onBatch?: (batch: Uint8Array[], bytes: number) => Promise<void>): Promise<void> {
  const answer = await nodeGet(url, { headers: () => ({}) });
  let batch: Uint8Array[] = [];
  let bytes = 0;
  for await (const value of answer.body) {
    if (!onBatch) continue;
    batch.push(value);
    bytes += value.byteLength;
    if (bytes >= WRITE_BATCH) {
      await onBatch(batch, bytes);
      batch = [];
      bytes = 0;
    }
  }
  if (onBatch && bytes > 0) await onBatch(batch, bytes);
}

/**
 * Reads the body into a file as the downloader writes its part file (one write in flight while the next batch
 * arrives) and, if `sync`, makes it durable as the downloader does (a background fsync once SYNC_EVERY bytes are
 * written, one at a time, then a final one): what the disk allows a downloader that must not rename before the bytes
 * are on stable storage.
 */
export async function readWriting(url: string, dir: string, sync: boolean, onWritten?: (path: string, start: number, end: number) => void): Promise<() => Promise<void>> {
  const path = join(dir, 'stage.part');
  let written = 0;
  const file = await open(path, 'a');
  let unsynced = 0;
  let writing: Promise<void> = Promise.resolve();
  let syncing: Promise<void> | null = null;
  const syncInBackground = (): void => {
    if (!sync || syncing !== null || unsynced < SYNC_EVERY) return;
    unsynced = 0;
    syncing = file.sync().then(() => {
      syncing = null;
      syncInBackground();
    });
  };
  try {
    await read(url, async (batch, bytes) => {
      await writing;
      const at = written;
      written += bytes;
      writing = file.writev(batch).then(() => {
        onWritten?.(path, at, at + bytes);
        unsynced += bytes;
        syncInBackground();
      });
    });
    await writing;
    while (syncing !== null) await syncing;
    if (sync) await file.sync();
  } catch (e) {
    await file.close();
    await rm(path, { force: true });
    throw e;
  }
  await file.close();
  // Deleting the file is left to the caller, after its clock stops.
  return () => rm(path);
}

const STAGES: readonly Stage[] = [
  { name: 'plain read', run: (url) => read(url) },
  { name: 'plain read (fetch)', run: (url) => fetchRead(url) },
  { name: 'read + write', run: (url, dir) => readWriting(url, dir, false) },
  { name: 'read + write + fsync', run: (url, dir) => readWriting(url, dir, true) },
  {
    // As the downloader hashes: the hashing thread reads each written range back from the page cache.
    name: 'read + write + sha256',
    run: async (url, dir) => {
      const hash = new Sha256Worker();
      try {
        const cleanUp = await readWriting(url, dir, false, (path, start, end) => hash.updateFromFileRange(path, start, end));
        await hash.digest();
        return cleanUp;
      } finally {
        await hash.close();
      }
    },
  },
  {
    name: 'read + sha256 thread',
    run: async (url) => {
      const hash = new Sha256Worker();
      try {
        await read(url, (batch) => hash.update(batch));
        await hash.digest();
      } finally {
        await hash.close();
      }
    },
  },
  {
    name: 'read + sha256 here',
    run: async (url) => {
      const hash = createHash('sha256');
      await read(url, async (batch) => void batch.forEach((c) => hash.update(c)));
      hash.digest();
    },
  },
];

/** MB/s of node:crypto's SHA-256 on one thread, over `mib` MiB in memory (1 MiB updates). */
function sha256Rate(mib: number): number {
  const bytes = randomBytes(mib << 20);
  const t0 = performance.now();
  const h = createHash('sha256');
  for (let at = 0; at < bytes.byteLength; at += 1 << 20) h.update(bytes.subarray(at, at + (1 << 20)));
  h.digest();
  return bytes.byteLength / 1e6 / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

export async function runDownloadStagesBench(argv: readonly string[]): Promise<void> {
  const arg = (name: string, fallback: number): number => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
  const mib = arg('--mib', argv.includes('--quick') ? 64 : 256);
  const runs = arg('--runs', 5);
  const hub = await startHubServer({ 'bench/blob': [{ path: 'model.gguf', bytes: randomBytes(mib * 2 ** 20) }] });
  const dir = await mkdtemp(join(tmpdir(), 'kvchat-bench-download-stages-'));
  try {
    const client = new HubClient({ endpoint: hub.endpoint });
    const [file] = await client.listFiles('bench/blob');
    const url = client.resolveUrl('bench/blob', 'main', 'model.gguf');
    const whole: Stage = {
      name: 'downloadFile',
      run: async () => {
        const dest = join(dir, 'model.gguf');
        await downloadFile({ url, dest, size: file!.size, sha256: file!.sha256! });
        return () => rm(dest);
      },
    };
    const stages = [...STAGES, whole];
    const wall = stages.map(() => [] as number[]);
    const cpu = stages.map(() => [] as number[]);
    for (let i = 0; i < runs; i++) {
      for (const [k, stage] of stages.entries()) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const cleanUp = await stage.run(url, dir);
        wall[k]!.push((performance.now() - t0) / 1000);
        const c = process.cpuUsage(c0);
        cpu[k]!.push((c.user + c.system) / 1e6);
        await cleanUp?.();
      }
    }
    const plain = median(wall[0]!);
    const rows = stages.map((s, k) => ({
      stage: s.name,
      mb_per_s: round(file!.size / 1e6 / median(wall[k]!), 1),
      ratio_to_plain: round(plain / median(wall[k]!)),
      cpu_seconds: round(median(cpu[k]!)),
    }));
    const result = { bytes: file!.size, runs, cores: availableParallelism(), sha256_mb_per_s: round(median([1, 2, 3].map(() => sha256Rate(64))), 1), stages: rows };
    process.stderr.write(`${mib} MiB over loopback, ${result.cores} cores, node:crypto sha256 ${result.sha256_mb_per_s} MB/s on one thread\n`);
    for (const r of rows) process.stderr.write(`  ${r.stage.padEnd(22)} ${String(r.mb_per_s).padStart(7)} MB/s  ratio ${r.ratio_to_plain.toFixed(3)}  cpu ${r.cpu_seconds.toFixed(3)} s\n`);
    if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  }
}
