// node --import tsx --import ./scripts/wgsl-hooks.mjs bench/resume-io-run.ts [--contexts 1024,4096,16384] [--reps 3] [--json]
// resume_vs_io_bound alone (bench/resume.ts resumeIoBenchmark) on the 135M shape, each context run `reps` times in
// one process, after one more run at the first context: that one finds the restore's code cold (as the app's first
// resume after start) and is reported apart as `cold`. The machine may be shared, so the median of the `reps` runs
// (warm code, as every later resume) is the figure.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireNodeDevice } from '../src/node/dawn-device';
import { GgmlType } from '../src/gpu/gguf/types';
import { resumeIoBenchmark, type ResumeIoFigures } from './resume';
import { SHAPES, syntheticModel } from './synthetic';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string): string => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const contexts = option('--contexts', '1024,4096,16384').split(',').map(Number);
const reps = Number(option('--reps', '3'));

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const gpu = await acquireNodeDevice();
  process.stderr.write(`device: ${gpu.adapterDescription} (f16: ${gpu.caps.f16})\n`);
  const model = await syntheticModel(join(tmpdir(), 'kvchat-bench-models'), SHAPES['135M']!, GgmlType.Q8_0);
  const out: Record<number, { cold?: ResumeIoFigures; runs: ResumeIoFigures[]; restore_ms: number; io_bound_ms: number; resume_vs_io_bound: number; cpu_ratio: number }> = {};
  for (const context of contexts) {
    const runs: ResumeIoFigures[] = [];
    let cold: ResumeIoFigures | undefined;
    // Only the process's first resume finds the code cold.
    for (let r = context === contexts[0] ? 0 : 1; r <= reps; r++) {
      const f = await resumeIoBenchmark(gpu, model, context);
      process.stderr.write(`resume io @${context} ${r === 0 ? 'cold run' : `run ${r}`}: restore ${f.restore_ms} ms vs read + upload ${f.io_bound_ms} ms (${f.resume_vs_io_bound}); CPU ${f.restore_cpu_ms} vs ${f.io_bound_cpu_ms} ms; ${f.reused_tokens} tokens, ${f.bytes} bytes\n`);
      if (r === 0) cold = f;
      else runs.push(f);
    }
    const cpuRatio = median(runs.map((f) => f.io_bound_cpu_ms / f.restore_cpu_ms));
    out[context] = { ...(cold ? { cold } : {}), runs, restore_ms: median(runs.map((f) => f.restore_ms)), io_bound_ms: median(runs.map((f) => f.io_bound_ms)), resume_vs_io_bound: median(runs.map((f) => f.resume_vs_io_bound)), cpu_ratio: cpuRatio };
    process.stderr.write(`resume io @${context}: median restore ${out[context]!.restore_ms} ms, io ${out[context]!.io_bound_ms} ms, ratio ${out[context]!.resume_vs_io_bound} (CPU-time ratio ${cpuRatio.toFixed(3)})\n`);
  }
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ device: gpu.adapterDescription, resume_io: out })}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
