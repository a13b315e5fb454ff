// Tuning the prefill GEMM's tile (rows x tokens, register block) on the model's own weights: the first layer's
// matrices, one prefill batch of tokens, every tile the device's workgroup memory and invocation limit allow, each
// checked against the CPU matmul (f64) before it may be timed. Kept per device, kernel version and model shape.
import { withErrorScopes, type GpuContext } from '../device';
import type { GgufFile } from '../gguf/reader';
import type { KernelContext } from '../kernels/context';
import { defaultGemmVariant, encodeMatmul, GEMM_TUNED_MIN_TOKENS, gemmVariantKey, gemmVariants, parseGemmVariant, type GemmVariant } from '../kernels/matmul';
import { destroyWeight, rowBytes, uploadWeight, type WeightTensor } from '../kernels/weights';
import { dequantize } from '../quant';
import { EXACT_NORMALIZED_ERROR, matvecShapeKey, readTuningMatrices, tuningShapes, type TuningMatrix } from './matvec-tuning';
import { normalizedError, seededValues, tuneWithin, withFallback, type TuneBudget, type TuneCandidate, type TuneResult } from './tuner';
import { storedOrMeasured, tuningKey, type ChoiceSource, type KeepOptions } from './tuning-store';

/** Tokens a timed run multiplies: the engine's prefill batch (EngineOptions.maxBatchTokens' default). */
export const GEMM_TUNING_TOKENS = 128;
/**
 * The exactness check's slice: partial row tiles (96 rows: 1.5 tiles of 64) and partial token tiles (72 tokens), small
 * enough that the CPU reference stays well under a second on a 4096-wide model.
 */
const CHECK_ROWS = 96;
const CHECK_TOKENS = 72;

/** The matrices a prefill multiplies (the output projection runs on one token a sequence, not a batch). */
export function gemmTuningMatrices<M extends { readonly name: string }>(matrices: readonly M[]): M[] {
  return matrices.filter((m) => m.name !== 'output.weight');
}

/** Y (tokens, rows) = X (tokens, cols) @ W^T in f64, W dequantized once: the CPU reference a tile must equal. */
function referenceMatmul(m: TuningMatrix, rows: number, x: Float32Array, tokens: number): Float32Array {
  const w = dequantize(m.type, m.bytes.subarray(0, rows * rowBytes(m.type, m.cols)), rows * m.cols);
  const y = new Float32Array(tokens * rows);
  for (let t = 0; t < tokens; t++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < m.cols; c++) s += w[r * m.cols + c]! * x[t * m.cols + c]!;
      y[t * rows + r] = s;
    }
  }
  return y;
}

interface Product {
  readonly w: WeightTensor;
  readonly tokens: number;
  readonly x: GPUBuffer; // (tokens, cols) f32
  readonly y: GPUBuffer; // (tokens, rows) f32
}

interface Checked extends Product {
  readonly want: Float32Array; // (tokens, rows) CPU reference
}

function product(ctx: KernelContext, m: TuningMatrix, rows: number, tokens: number, seed: number): Product & { readonly xs: Float32Array } {
  const xs = seededValues(tokens * m.cols, seed);
  return {
    w: uploadWeight(ctx, m.name, m.type, m.bytes.subarray(0, rows * rowBytes(m.type, m.cols)), rows, m.cols),
    tokens,
    xs,
    x: ctx.upload(xs, `tune.gemm.x.${m.name}`),
    y: ctx.storage(tokens * rows * 4, `tune.gemm.y.${m.name}`),
  };
}

function candidate(ctx: KernelContext, timed: readonly Product[], checked: readonly Checked[], gemm: GemmVariant): TuneCandidate {
  const key = gemmVariantKey(gemm);
  const encode = (ps: readonly Product[]) => (pass: GPUComputePassEncoder) => ps.forEach((p) => encodeMatmul(ctx, pass, p.w, p.x, p.y, p.tokens, { force: { kernel: 'gemm', gemm } }));
  const run = async (): Promise<void> => {
    await withErrorScopes(ctx.device, `gemm ${key}`, () => ctx.run(encode(timed)));
    await ctx.device.queue.onSubmittedWorkDone();
  };
  const exact = async (): Promise<boolean> => {
    for (const p of checked) ctx.device.queue.writeBuffer(p.y, 0, new Float32Array(p.want.length)); // no stale pass
    await withErrorScopes(ctx.device, `gemm ${key}`, () => ctx.run(encode(checked)));
    for (const p of checked) {
      if (!(normalizedError(new Float32Array(await ctx.read(p.y, p.want.length * 4)), p.want) < EXACT_NORMALIZED_ERROR)) return false;
    }
    return true;
  };
  return { key, run, exact };
}

export interface GemmTuneOptions extends TuneBudget {
  /** Restrict the candidates (tests); default: every tile of gemmVariants for this device. */
  readonly variants?: readonly GemmVariant[];
  /** Tokens of a timed run; default GEMM_TUNING_TOKENS. */
  readonly tokens?: number;
}

export interface GemmTuneResult extends TuneResult {
  readonly variant: GemmVariant;
}

/** Times every GEMM tile on `matrices` (one prefill batch each) and returns the fastest exact one. */
export async function tuneGemm(ctx: KernelContext, matrices: readonly TuningMatrix[], opts: GemmTuneOptions): Promise<GemmTuneResult> {
  const tokens = Math.max(GEMM_TUNED_MIN_TOKENS, opts.tokens ?? GEMM_TUNING_TOKENS);
  const fallback = defaultGemmVariant(tokens);
  const timed = matrices.map((m, i) => product(ctx, m, m.rows, tokens, 31 + i));
  const checked: Checked[] = matrices.map((m, i) => {
    const rows = Math.min(m.rows, CHECK_ROWS);
    const p = product(ctx, m, rows, CHECK_TOKENS, 61 + i);
    return { ...p, want: referenceMatmul(m, rows, p.xs, CHECK_TOKENS) };
  });
  try {
    const variants = opts.variants ?? gemmVariants(ctx.caps);
    const all = withFallback(variants, fallback, gemmVariantKey);
    const result = await tuneWithin(all.map((v) => candidate(ctx, timed, checked, v)), gemmVariantKey(fallback), opts);
    return { ...result, variant: parseGemmVariant(result.chosen) ?? fallback };
  } finally {
    for (const p of [...timed, ...checked]) {
      destroyWeight(p.w);
      p.x.destroy();
      p.y.destroy();
    }
  }
}

export interface TunedGemmOptions extends GemmTuneOptions, KeepOptions {
  /** The matvec tuner's matrices, when the caller reads them once for both (output.weight is left out here). */
  readonly matrices?: () => Promise<readonly TuningMatrix[]>;
}

export interface TunedGemm {
  readonly variant: GemmVariant;
  readonly source: ChoiceSource;
  readonly key: string;
  readonly result?: GemmTuneResult;
}

/** The GEMM tile for `file`'s prefills on this device: stored, or measured and then stored (as tunedMatvecVariant). */
export async function tunedGemmVariant(gpu: GpuContext, ctx: KernelContext, file: GgufFile, architecture: string, opts: TunedGemmOptions): Promise<TunedGemm> {
  const shapes = gemmTuningMatrices(tuningShapes(file));
  const tokens = Math.max(GEMM_TUNED_MIN_TOKENS, opts.tokens ?? GEMM_TUNING_TOKENS);
  const key = tuningKey({ adapter: gpu.adapterDescription, kernel: 'gemm', modelShape: `${matvecShapeKey(architecture, shapes)} t${tokens}` });
  const fallback = defaultGemmVariant(tokens);
  if (shapes.length === 0) return { variant: fallback, source: 'default', key };
  const kept = { store: opts.store, key, parse: parseGemmVariant, serialize: gemmVariantKey, fallback, retune: opts.retune, measure: opts.measure };
  const measure = async () => tuneGemm(ctx, opts.matrices ? gemmTuningMatrices(await opts.matrices()) : await readTuningMatrices(file, shapes), opts);
  const { choice, source, result } = await storedOrMeasured(kept, measure, (r) => r.variant);
  return { variant: choice, source, key, ...(result ? { result } : {}) };
}
