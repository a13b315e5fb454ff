// Kernel micro-benchmark of the quantized matmul on realistic shapes, each figure against a baseline run
// interleaved with it on the same buffers: prefill (128 tokens) GEMM vs the token-tiled matvec, and decode (1 token)
// with this device's threads per row vs 8 threads a row (the previous CPU-driver setting).
// npm run -s bench -- --matmul [--json] [--out FILE]
import { writeFile } from 'node:fs/promises';
import { acquireNodeDevice } from '../src/node/dawn-device';
import { GgmlType, ggmlTypeName } from '../src/gpu/gguf/types';
import { KernelContext } from '../src/gpu/kernels/context';
import { encodeMatmul, type MatmulOptions } from '../src/gpu/kernels/matmul';
import { uploadWeight } from '../src/gpu/kernels/weights';
import { quantize } from '../src/gpu/quant/quantize';

type Quant = GgmlType.Q8_0 | GgmlType.Q4_0;

export interface MatmulFigure {
  readonly quant: string;
  readonly rows: number;
  readonly cols: number;
  readonly tokens: number;
  readonly ours_ms: number;
  readonly baseline_ms: number;
  readonly baseline: string;
  readonly speedup: number;
  readonly gflops: number;
}

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 0.1;
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number): number => Math.round(x * 100) / 100;

async function timeOne(ctx: KernelContext, run: () => void): Promise<number> {
  const t0 = performance.now();
  run();
  await ctx.device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

export async function benchMatmul(cases: readonly { quant: Quant; rows: number; cols: number; tokens: number }[], reps: number): Promise<MatmulFigure[]> {
  const ctx = new KernelContext(await acquireNodeDevice());
  const out: MatmulFigure[] = [];
  for (const c of cases) {
    const w = uploadWeight(ctx, 'w', c.quant, quantize(c.quant, random(c.rows * c.cols, 7)), c.rows, c.cols);
    const x = ctx.upload(random(c.tokens * c.cols, 11), 'x');
    const y = ctx.storage(c.tokens * c.rows * 4, 'y');
    const baseline: MatmulOptions['force'] = c.tokens > 1 ? { kernel: 'tiled' } : { threadsPerRow: 8 };
    const ours: number[] = [];
    const base: number[] = [];
    // The first round compiles both pipelines; ours and the baseline then take turns.
    for (let r = 0; r <= reps; r++) {
      const a = await timeOne(ctx, () => ctx.run((pass) => encodeMatmul(ctx, pass, w, x, y, c.tokens)));
      const b = await timeOne(ctx, () => ctx.run((pass) => encodeMatmul(ctx, pass, w, x, y, c.tokens, { force: baseline })));
      if (r > 0) {
        ours.push(a);
        base.push(b);
      }
    }
    ctx.checkErrors();
    const ms = median(ours);
    const baseMs = median(base);
    out.push({
      quant: ggmlTypeName(c.quant),
      rows: c.rows,
      cols: c.cols,
      tokens: c.tokens,
      ours_ms: round(ms),
      baseline_ms: round(baseMs),
      baseline: c.tokens > 1 ? 'token-tiled matvec' : '8 threads a row',
      speedup: round(baseMs / ms),
      gflops: round((2 * c.rows * c.cols * c.tokens) / ms / 1e6),
    });
    w.parts.forEach((p) => p.buffer.destroy());
    x.destroy();
    y.destroy();
  }
  return out;
}

/** The 135M shape's matrices (and its 32K-vocabulary output projection for decode), Q8_0 and Q4_0. */
export async function runMatmulBench(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const shapes = [
    [1536, 576],
    [576, 1536],
    [576, 576],
  ];
  const cases = ([GgmlType.Q8_0, GgmlType.Q4_0] as Quant[]).flatMap((quant) => [
    ...shapes.map(([rows, cols]) => ({ quant, rows: rows!, cols: cols!, tokens: 128 })),
    ...[[32000, 576], ...shapes].map(([rows, cols]) => ({ quant, rows: rows!, cols: cols!, tokens: 1 })),
  ]);
  const figures = await benchMatmul(cases, quick ? 5 : 11);
  for (const f of figures) {
    process.stderr.write(`${f.quant} ${f.rows}x${f.cols} T=${f.tokens}: ${f.ours_ms} ms (${f.gflops} GFLOP/s) vs ${f.baseline} ${f.baseline_ms} ms: ${f.speedup}x\n`);
  }
  const speedup = (tokens: number): number => round(Math.exp(figures.filter((f) => f.tokens === tokens).reduce((s, f) => s + Math.log(f.speedup), 0) / figures.filter((f) => f.tokens === tokens).length));
  const gpu = await acquireNodeDevice();
  const result = {
    device: gpu.adapterDescription,
    date: new Date().toISOString(),
    prefill_gemm_vs_tiled_matvec: speedup(128),
    decode_vs_8_threads_a_row: speedup(1),
    figures,
  };
  const out = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : undefined;
  if (out) await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
}
