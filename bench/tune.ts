// Kernel variants chosen by measuring (src/gpu/tuning): per kernel, the variant the tuner picks on this device, and
// tuned_vs_default: the fixed rule's time over the tuned variant's, timed taking turns in the same run (exactly 1
// when the tuner keeps the fixed rule). Matvec (decode) and the prefill GEMM (128 tokens) on a synthetic model's
// real matrices (re-timed on the same buffers after the choice); flash-decode (tiling: threads per key, heads per
// workgroup, keys per barrier phase; and keys per split) at two context lengths, and over a q8_0 KV pool.
// npm run -s bench -- --tune [--json] [--quick] [--budget MS] [--out FILE]
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireNodeDevice } from '../src/node/dawn-device';
import { openGgufFile } from '../src/node/file-source';
import { GgmlType, ggmlTypeName } from '../src/gpu/gguf/types';
import { KernelContext } from '../src/gpu/kernels/context';
import { defaultGemmVariant, defaultMatvecVariant, encodeMatmul, gemmVariantKey, matvecVariantKey, type MatmulOptions } from '../src/gpu/kernels/matmul';
import { destroyWeight, uploadWeight } from '../src/gpu/kernels/weights';
import { decodeDims, DEFAULT_DECODE_KEYS_PER_SPLIT } from '../src/gpu/kernels/attention';
import { defaultDecodeTiling } from '../src/gpu/kernels/attention-decode';
import { decodeChoiceKey, tuneFlashDecode } from '../src/gpu/tuning/decode-split-tuning';
import { GEMM_TUNING_TOKENS, gemmTuningMatrices, tuneGemm } from '../src/gpu/tuning/gemm-tuning';
import { matvecShapeKey, readTuningMatrices, tuneMatvec, type TuningMatrix } from '../src/gpu/tuning/matvec-tuning';
import type { TuneResult } from '../src/gpu/tuning/tuner';
import type { KvDtype } from '../src/gpu/kv/layout';
import { SHAPES, syntheticModel } from './synthetic';

export interface TunedKernelFigure {
  readonly kernel: string;
  readonly model: string;
  readonly shape: string;
  readonly chosen: string;
  readonly default: string;
  readonly tuned_ms: number;
  readonly default_ms: number;
  readonly tuned_vs_default: number;
  readonly tuning_ms: number;
  readonly candidates: readonly { readonly variant: string; readonly ms?: number; readonly skipped?: string }[];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

type Force = MatmulOptions['force'];

/** Median ms of one matmul of `tokens` tokens over every matrix, forced to `a` and to `b` taking turns (the first round compiles). */
async function interleaved(ctx: KernelContext, matrices: readonly TuningMatrix[], tokens: number, a: Force, b: Force, reps: number): Promise<[number, number]> {
  const mats = matrices.map((m) => ({
    w: uploadWeight(ctx, m.name, m.type, m.bytes, m.rows, m.cols),
    x: ctx.upload(new Float32Array(tokens * m.cols).fill(0.5), 'x'),
    y: ctx.storage(tokens * m.rows * 4, 'y'),
  }));
  const time = async (force: Force): Promise<number> => {
    const t0 = performance.now();
    ctx.run((pass) => mats.forEach((m) => encodeMatmul(ctx, pass, m.w, m.x, m.y, tokens, { force })));
    await ctx.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r <= reps; r++) {
    const x = await time(a);
    const y = await time(b);
    if (r > 0) {
      ta.push(x);
      tb.push(y);
    }
  }
  ctx.checkErrors();
  for (const m of mats) {
    destroyWeight(m.w);
    m.x.destroy();
    m.y.destroy();
  }
  return [median(ta), median(tb)];
}

/** A matvec or GEMM figure: the choice re-timed against the fixed rule on the same buffers, taking turns. */
function figure(kernel: string, model: string, shape: string, chosen: string, fixed: string, [tunedMs, defaultMs]: [number, number], tuningMs: number, r: TuneResult): TunedKernelFigure {
  const f: TunedKernelFigure = {
    kernel,
    model,
    shape,
    chosen,
    default: fixed,
    tuned_ms: round(tunedMs),
    default_ms: round(defaultMs),
    // The same variant is one measurement, not two noisy ones: exactly 1.
    tuned_vs_default: chosen === fixed ? 1 : round(defaultMs / tunedMs, 2),
    tuning_ms: Math.round(tuningMs),
    candidates: r.timings.map((c) => ({ variant: c.key, ...(c.ms !== undefined ? { ms: round(c.ms) } : {}), ...(c.skipped ? { skipped: c.skipped } : {}) })),
  };
  process.stderr.write(`${f.model} ${kernel}: ${f.chosen} (default ${f.default}) ${f.tuned_ms} vs ${f.default_ms} ms: ${f.tuned_vs_default}x, tuned in ${f.tuning_ms} ms\n`);
  return f;
}

export async function runTuneBench(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const json = argv.includes('--json');
  // Enough for every candidate on a CPU driver, where compiling dominates (the app and the CLI spend about 2 s).
  const budgetMs = argv.includes('--budget') ? Number(argv[argv.indexOf('--budget') + 1]) : 30_000;
  const gpu = await acquireNodeDevice();
  const ctx = new KernelContext(gpu);
  process.stderr.write(`device: ${gpu.adapterDescription}\n`);
  const figures: TunedKernelFigure[] = [];
  for (const quant of [GgmlType.Q8_0, GgmlType.Q4_0] as const) {
    const path = await syntheticModel(join(tmpdir(), 'kvchat-bench-models'), SHAPES.tiny!, quant);
    const { file, close } = await openGgufFile(path);
    try {
      const matrices = await readTuningMatrices(file);
      const model = `${SHAPES.tiny!.name}-${ggmlTypeName(quant)}`;
      let t0 = performance.now();
      const mv = await tuneMatvec(ctx, matrices, { budgetMs, repeats: quick ? 3 : 5 });
      const fixed = defaultMatvecVariant(ctx.caps);
      const mvTimes = await interleaved(ctx, matrices, 1, { matvec: mv.variant }, { matvec: fixed }, quick ? 5 : 15);
      figures.push(figure('matvec', model, matvecShapeKey('llama', matrices), matvecVariantKey(mv.variant), matvecVariantKey(fixed), mvTimes, performance.now() - t0, mv));
      // The prefill GEMM at the engine's batch of 128 tokens, on the first layer's matrices.
      const gemmMatrices = gemmTuningMatrices(matrices);
      t0 = performance.now();
      const gm = await tuneGemm(ctx, gemmMatrices, { budgetMs, repeats: quick ? 3 : 5 });
      const fixedTile = defaultGemmVariant(GEMM_TUNING_TOKENS);
      const gmTimes = await interleaved(ctx, gemmMatrices, GEMM_TUNING_TOKENS, { kernel: 'gemm', gemm: gm.variant }, { kernel: 'gemm', gemm: fixedTile }, quick ? 3 : 9);
      figures.push(figure('gemm', model, `${matvecShapeKey('llama', gemmMatrices)} t${GEMM_TUNING_TOKENS}`, gemmVariantKey(gm.variant), gemmVariantKey(fixedTile), gmTimes, performance.now() - t0, gm));
    } finally {
      await close();
    }
  }
  // Flash-decode at the 135M shape (GQA 9:3, head dim 64) in the engine's default KV type, and over a q8_0 pool (the
  // KV type that halves its memory). Its figure is the tuner's own last round: the winner (tiling and keys per split)
  // and the fixed rule timed taking turns in the same run.
  const defaultKv: KvDtype = gpu.caps.f16 ? 'f16' : 'f32';
  const decodeRuns: { dtype: KvDtype; context: number }[] = quick ? [{ dtype: defaultKv, context: 2048 }] : [{ dtype: defaultKv, context: 1024 }, { dtype: defaultKv, context: 4096 }, { dtype: 'q8_0', context: 4096 }];
  for (const { dtype, context } of decodeRuns) {
    const s = { nHeads: 9, nKvHeads: 3, headDim: 64, dtype, context } as const;
    const t0 = performance.now();
    const r = await tuneFlashDecode(ctx, s, { budgetMs, repeats: quick ? 5 : 9 });
    const fixedTiling = defaultDecodeTiling(decodeDims({ ...s, maxBlocksPerSeq: 1 }), gpu.caps.softwareAdapter, gpu.caps.maxComputeWorkgroupStorageSize);
    const fixed = decodeChoiceKey({ tiling: fixedTiling, keysPerSplit: DEFAULT_DECODE_KEYS_PER_SPLIT });
    const same = r.chosen === fixed;
    const f: TunedKernelFigure = {
      kernel: 'flash-decode',
      model: `${dtype} KV, 9/3 heads x 64, ${context} keys`,
      shape: `9/3x64 ${dtype} ctx${context}`,
      chosen: r.chosen,
      default: fixed,
      tuned_ms: round(r.chosenMs ?? NaN),
      default_ms: round(r.defaultMs ?? NaN),
      tuned_vs_default: same ? 1 : round((r.defaultMs ?? NaN) / (r.chosenMs ?? NaN), 2),
      tuning_ms: Math.round(performance.now() - t0),
      candidates: r.timings.map((c) => ({ variant: c.key, ...(c.ms !== undefined ? { ms: round(c.ms) } : {}), ...(c.skipped ? { skipped: c.skipped } : {}) })),
    };
    figures.push(f);
    process.stderr.write(`${f.model} flash-decode: ${f.chosen} (default ${f.default}) ${f.tuned_ms} vs ${f.default_ms} ms: ${f.tuned_vs_default}x\n`);
  }
  const result = { device: gpu.adapterDescription, date: new Date().toISOString(), budget_ms: budgetMs, kernels: figures };
  const out = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : undefined;
  if (out) await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
}
