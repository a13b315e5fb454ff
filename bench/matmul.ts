// Kernel micro-benchmark: the quantized matmul (prefill, T tokens) and matvec (decode) alone, on realistic shapes.
// npm run -s bench -- --matmul [--json]  (or run this file directly with the same loaders as `npm run bench`)
import { acquireNodeDevice } from '../src/cli/node-gpu';
import { GgmlType, ggmlTypeName } from '../src/gpu/gguf/types';
import { KernelContext } from '../src/gpu/kernels/context';
import { encodeMatmul } from '../src/gpu/kernels/matmul';
import { uploadWeight } from '../src/gpu/kernels/weights';
import { quantize } from '../src/gpu/quant/quantize';

export interface MatmulFigure {
  readonly quant: string;
  readonly rows: number;
  readonly cols: number;
  readonly tokens: number;
  readonly ms: number;
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

export async function benchMatmul(
  cases: readonly { quant: GgmlType.Q8_0 | GgmlType.Q4_0; rows: number; cols: number; tokens: number }[],
  reps = Number(process.env.REPS ?? 5),
): Promise<MatmulFigure[]> {
  const gpu = await acquireNodeDevice();
  const ctx = new KernelContext(gpu);
  const out: MatmulFigure[] = [];
  for (const c of cases) {
    const w = uploadWeight(ctx, 'w', c.quant, quantize(c.quant, random(c.rows * c.cols, 7)), c.rows, c.cols);
    const x = ctx.upload(random(c.tokens * c.cols, 11), 'x');
    const y = ctx.storage(c.tokens * c.rows * 4, 'y');
    const times: number[] = [];
    for (let r = 0; r < reps + 1; r++) {
      const t0 = performance.now();
      ctx.run((pass) => encodeMatmul(ctx, pass, w, x, y, c.tokens));
      await ctx.device.queue.onSubmittedWorkDone();
      if (r > 0) times.push(performance.now() - t0);
    }
    ctx.checkErrors();
    const ms = process.env.MIN ? Math.min(...times) : median(times);
    out.push({ quant: ggmlTypeName(c.quant), rows: c.rows, cols: c.cols, tokens: c.tokens, ms: Math.round(ms * 100) / 100, gflops: Math.round(((2 * c.rows * c.cols * c.tokens) / ms / 1e6) * 100) / 100 });
    x.destroy();
    y.destroy();
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const tokens = Number(process.env.T ?? 128);
  const cases = [GgmlType.Q8_0, GgmlType.Q4_0].flatMap((quant) => [
    ...(tokens === 1 ? [{ quant, rows: 32000, cols: 576, tokens }] : []),
    { quant, rows: 1536, cols: 576, tokens },
    { quant, rows: 576, cols: 1536, tokens },
    { quant, rows: 576, cols: 576, tokens },
    ...(process.env.BIG ? [{ quant, rows: 8192, cols: 2048, tokens }, { quant, rows: 2048, cols: 8192, tokens }] : []),
  ]) as { quant: GgmlType.Q8_0 | GgmlType.Q4_0; rows: number; cols: number; tokens: number }[];
  for (const f of await benchMatmul(cases)) console.log(JSON.stringify(f));
  process.exit(0);
}
