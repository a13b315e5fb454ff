// npm run -s bench -- --download [--json] [--mib N]
// Loopback download throughput of the resumable, verified downloader (src/node/hub/download.ts: part file, sha256,
// fsync, rename; sha256 on a worker thread) against a plain HTTP read of the same file through the same redirect
// (fetch, body discarded), interleaved pairs (--runs N, default 7). The ratio is the median of the pairs' ratios, so
// load from other processes drifting between pairs moves both sides of a pair alike. Target: ratio >= 0.8.
// --stages breaks the time down stage by stage instead (download-stages.ts).
// --hub-thread serves the loopback Hub from its own thread (download-hub-thread.ts), as a real Hub is another
// machine: the plain read then runs at loopback speed and the ratio shows the downloader's own ceiling (sha256 of
// one stream, the disk behind fsync); by default the Hub shares the bench's event loop, as in the tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubClient } from '../src/node/hub/client';
import { downloadFile } from '../src/node/hub/download';
import { startHubServer } from '../tests/helpers/hub-server';
import { randomBytes } from 'node:crypto';
import { startHubThread } from './download-hub-thread';
import { runDownloadStagesBench } from './download-stages';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function plainRead(url: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(url);
  const reader = r.body!.getReader();
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
  }
  if (n === 0) throw new Error('empty body');
  return (performance.now() - t0) / 1000;
}

export async function runDownloadBench(argv: readonly string[]): Promise<void> {
  if (argv.includes('--stages')) return runDownloadStagesBench(argv);
  const mibArg = argv.indexOf('--mib');
  const mib = mibArg >= 0 ? Number(argv[mibArg + 1]) : argv.includes('--quick') ? 64 : 256;
  const hub = argv.includes('--hub-thread')
    ? await startHubThread('bench/blob', 'model.gguf', mib)
    : await startHubServer({ 'bench/blob': [{ path: 'model.gguf', bytes: randomBytes(mib * 2 ** 20) }] });
  const dir = await mkdtemp(join(tmpdir(), 'kvchat-bench-download-'));
  try {
    const client = new HubClient({ endpoint: hub.endpoint });
    const [file] = await client.listFiles('bench/blob');
    const url = client.resolveUrl('bench/blob', 'main', 'model.gguf');
    const plain: number[] = [];
    const ours: number[] = [];
    const runsArg = argv.indexOf('--runs');
    const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : 7;
    for (let i = 0; i < runs; i++) {
      plain.push(await plainRead(url));
      const dest = join(dir, `model-${i}.gguf`);
      const r = await downloadFile({ url, dest, size: file!.size, sha256: file!.sha256! });
      ours.push(r.seconds);
      await rm(dest);
    }
    const plainMbs = file!.size / 1e6 / median(plain);
    const oursMbs = file!.size / 1e6 / median(ours);
    const result = {
      bytes: file!.size,
      plain_http_mb_per_s: round(plainMbs, 1),
      download_mb_per_s: round(oursMbs, 1),
      download_throughput_ratio: round(median(ours.map((t, i) => plain[i]! / t))),
      runs,
      hub: argv.includes('--hub-thread') ? 'own thread' : 'same event loop',
    };
    process.stderr.write(`download ${mib} MiB over loopback: ${result.download_mb_per_s} MB/s (part file + sha256 + fsync) vs plain HTTP read ${result.plain_http_mb_per_s} MB/s: ratio ${result.download_throughput_ratio}\n`);
    if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  }
}
