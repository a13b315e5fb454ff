// npm run -s bench -- --download [--quick] [--json] [--mib N] [--runs N] [--hub-thread]
// Loopback download throughput of the resumable, verified downloader (src/node/hub/download.ts: part file, sha256 on
// a worker thread, background and final fsync, rename) against a plain HTTP read of the same file through the same
// redirect (node:http, as the downloader receives, body discarded): the ratio, target >= 0.8. Beside it, in
// the same runs, the bounds a download that must verify and fsync before its rename cannot beat:
// - the disk: the same read with the bytes written and made durable as the downloader does (no hash);
// - the hash: one SHA-256 stream (node:crypto, in memory, one thread), which cannot be split across cores;
// - the CPU: the plain read's wall time against the download's CPU seconds spread over every core (CPU seconds are
//   the whole process's, every thread: the loopback Hub, the client, the hashing thread, libuv's file writes; this
//   bound means something only on an otherwise idle machine);
// - the essential CPU: the same against the least any verified, durable download must spend (the disk row's CPU plus
//   one SHA-256 stream), spread over every core: below 0.8, no design reaches the target on this machine.
// A plain read with fetch is shown too (the baseline before the downloader moved from fetch to node:http).
// Each run times them back to back (interleaved), --runs N of them (default 7); ratios are medians of the runs' own
// ratios, so load drifting between runs moves both sides alike.
// --stages breaks the time down stage by stage instead (download-stages.ts).
// --hub-thread serves the loopback Hub from its own thread (download-hub-thread.ts), as a real Hub is another
// machine; by default the Hub shares the bench's event loop, as in the tests.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubClient } from '../src/node/hub/client';
import { downloadFile } from '../src/node/hub/download';
import { startHubServer } from '../tests/helpers/hub-server';
import { startHubThread } from './download-hub-thread';
import { fetchRead, read, readWriting, runDownloadStagesBench } from './download-stages';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

interface Timed {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

/** Times `run`; what it returns (a clean-up, such as deleting the file it wrote) runs after the clock stops. */
async function timed(run: () => Promise<(() => Promise<void>) | void>): Promise<Timed> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const cleanUp = await run();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  await cleanUp?.();
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}

export async function runDownloadBench(argv: readonly string[]): Promise<void> {
  if (argv.includes('--stages')) return runDownloadStagesBench(argv);
  const arg = (name: string, fallback: number): number => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
  const mib = arg('--mib', argv.includes('--quick') ? 64 : 256);
  const runs = arg('--runs', 7);
  const hubThread = argv.includes('--hub-thread');
  const hub = hubThread
    ? await startHubThread('bench/blob', 'model.gguf', mib)
    : await startHubServer({ 'bench/blob': [{ path: 'model.gguf', bytes: randomBytes(mib * 2 ** 20) }] });
  const dir = await mkdtemp(join(tmpdir(), 'kvchat-bench-download-'));
  try {
    const client = new HubClient({ endpoint: hub.endpoint });
    const [file] = await client.listFiles('bench/blob');
    const url = client.resolveUrl('bench/blob', 'main', 'model.gguf');
    // SHA-256 of as many bytes in memory, one thread (node:crypto, 1 MiB updates): one stream's hash cannot be split
    // across cores, so a verified download cannot beat it either.
    const sample = randomBytes(Math.min(file!.size, 64 << 20));
    const sha256 = async (): Promise<void> => {
      const h = createHash('sha256');
      for (let done = 0; done < file!.size; done += sample.byteLength) {
        for (let at = 0; at < sample.byteLength; at += 1 << 20) h.update(sample.subarray(at, at + (1 << 20)));
      }
      h.digest();
    };
    const kinds = {
      plain: () => read(url),
      sha256,
      fetch: () => fetchRead(url),
      disk: () => readWriting(url, dir, true),
      download: async () => {
        const dest = join(dir, 'model.gguf');
        await downloadFile({ url, dest, size: file!.size, sha256: file!.sha256! });
        return () => rm(dest);
      },
    };
    const times: Record<keyof typeof kinds, Timed[]> = { plain: [], sha256: [], fetch: [], disk: [], download: [] };
    for (let i = 0; i < runs; i++) {
      for (const k of Object.keys(kinds) as (keyof typeof kinds)[]) times[k].push(await timed(kinds[k]));
    }
    const mbs = (k: keyof typeof kinds): number => round(file!.size / 1e6 / median(times[k].map((t) => t.seconds)), 1);
    const ratio = (k: keyof typeof kinds, to: keyof typeof kinds): number => round(median(times[k].map((t, i) => times[to][i]!.seconds / t.seconds)));
    const cpu = (k: keyof typeof kinds): number => round(median(times[k].map((t) => t.cpuSeconds)));
    const result = {
      bytes: file!.size,
      plain_http_mb_per_s: mbs('plain'),
      download_mb_per_s: mbs('download'),
      download_throughput_ratio: ratio('download', 'plain'),
      // What the disk allows: the same read written and fsynced as the downloader does, against the plain read...
      read_write_fsync_mb_per_s: mbs('disk'),
      read_write_fsync_ratio: ratio('disk', 'plain'),
      // ...and the download against it (1.0: everything left is the disk's).
      download_vs_read_write_fsync: ratio('download', 'disk'),
      // One SHA-256 stream against the plain read (above 1.0 it leaves room; below, it alone bounds the ratio).
      sha256_mb_per_s: mbs('sha256'),
      sha256_ratio: ratio('sha256', 'plain'),
      plain_fetch_mb_per_s: mbs('fetch'),
      download_vs_plain_fetch: ratio('download', 'fetch'),
      cpu_seconds: { plain_http: cpu('plain'), read_write_fsync: cpu('disk'), download: cpu('download') },
      // The best ratio the download's CPU allows, were it spread perfectly over every core: the plain read's wall time
      // against the download's CPU seconds per core.
      download_cpu_bound_ratio: round(median(times.plain.map((t) => t.seconds)) / (cpu('download') / availableParallelism())),
      // The best ratio any verified, durable download could reach here, however it is built: it must at least receive,
      // write and fsync the bytes (the disk row's CPU, the loopback Hub's share included, as in the plain read's wall
      // time) and hash them once (one SHA-256 stream's time), with that work spread perfectly over every core.
      essential_cpu_bound_ratio: round(median(times.plain.map((t) => t.seconds)) / ((cpu('disk') + median(times.sha256.map((t) => t.seconds))) / availableParallelism())),
      cores: availableParallelism(),
      runs,
      hub: hubThread ? 'own thread' : 'same event loop',
    };
    process.stderr.write(
      `download ${mib} MiB over loopback (hub: ${result.hub}, ${result.cores} cores, median of ${runs}):\n` +
        `  plain HTTP read (node:http)   ${String(result.plain_http_mb_per_s).padStart(7)} MB/s  cpu ${result.cpu_seconds.plain_http.toFixed(3)} s\n` +
        `  read + write + fsync (disk)   ${String(result.read_write_fsync_mb_per_s).padStart(7)} MB/s  cpu ${result.cpu_seconds.read_write_fsync.toFixed(3)} s  ratio ${result.read_write_fsync_ratio}\n` +
        `  sha256, one thread, in memory ${String(result.sha256_mb_per_s).padStart(7)} MB/s  ratio ${result.sha256_ratio}\n` +
        `  downloadFile                  ${String(result.download_mb_per_s).padStart(7)} MB/s  cpu ${result.cpu_seconds.download.toFixed(3)} s  ratio ${result.download_throughput_ratio} (${result.download_vs_read_write_fsync} of read + write + fsync; its CPU allows at most ${result.download_cpu_bound_ratio})\n` +
        `  any verified, durable download: receive + write + fsync + one SHA-256 on ${result.cores} cores allow at most ${result.essential_cpu_bound_ratio}\n` +
        `  plain HTTP read (fetch)       ${String(result.plain_fetch_mb_per_s).padStart(7)} MB/s  (download / fetch read ${result.download_vs_plain_fetch})\n`,
    );
    if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  }
}
