// Tuning the quantized matvec (decode) on the model's own weights: a few representative matrices of the first
// layer and the output projection, every variant this device can run timed on all of them together, each checked
// against the CPU matvec. The choice is kept per device, kernel version and model shape, and reused.
import { withErrorScopes, type GpuContext } from '../device';
import type { GgufFile } from '../gguf/reader';
import { ggmlTypeName, type GgufTensorInfo } from '../gguf/types';
import type { KernelContext } from '../kernels/context';
import { defaultMatvecVariant, encodeMatmul, matvecVariantKey, matvecVariants, parseMatvecVariant, hasWideLoads, type MatvecVariant } from '../kernels/matmul';
import { destroyWeight, GPU_WEIGHT_TYPES, pairable, rowBytes, uploadWeight, type WeightTensor } from '../kernels/weights';
import { matvecRows } from '../quant';
import { normalizedError, seededValues, tuneWithin, withFallback, type TuneBudget, type TuneCandidate, type TuneResult } from './tuner';
import { storedOrMeasured, tuningKey, type ChoiceSource, type KeepOptions } from './tuning-store';

/** A matrix to tune on: raw GGUF bytes of `rows` rows of `cols`. */
export interface TuningMatrix {
  readonly name: string;
  readonly type: number;
  readonly rows: number;
  readonly cols: number;
  readonly bytes: Uint8Array;
}

/** Largest normalized error (max |gpu - cpu| / max |cpu|) a variant may have; the kernel tests' bound. */
export const EXACT_NORMALIZED_ERROR = 1e-5;
/** Rows of a matrix tuned on at most this many bytes: a 128K-vocabulary output matrix is timed on a slice. */
const MAX_TUNING_BYTES = 8 * 2 ** 20;
const TUNED_TENSORS = ['blk.0.attn_q.weight', 'blk.0.attn_output.weight', 'blk.0.ffn_up.weight', 'blk.0.ffn_down.weight', 'output.weight'];

/** The decode matrices of `file` the matvec is tuned on (2-D, a GPU type, whole 32-element chunks). */
export function tuningTensors(file: GgufFile): GgufTensorInfo[] {
  return TUNED_TENSORS.map((n) => file.tensor(n)).filter((t): t is GgufTensorInfo => !!t && t.dims.length === 2 && GPU_WEIGHT_TYPES.has(t.type) && t.dims[0]! % 32 === 0);
}

export type TuningShape = Omit<TuningMatrix, 'bytes'>;

/** The matrices tuned on, without their bytes: rows capped at MAX_TUNING_BYTES. */
export function tuningShapes(file: GgufFile): TuningShape[] {
  return tuningTensors(file).map((t) => {
    const cols = t.dims[0]!;
    return { name: t.name, type: t.type, cols, rows: Math.max(1, Math.min(t.dims[1]!, Math.floor(MAX_TUNING_BYTES / rowBytes(t.type, cols)))) };
  });
}

export async function readTuningMatrices(file: GgufFile, shapes: readonly TuningShape[] = tuningShapes(file)): Promise<TuningMatrix[]> {
  const out: TuningMatrix[] = [];
  for (const s of shapes) {
    out.push({ ...s, bytes: (await file.tensorBytes(file.requireTensor(s.name))).subarray(0, s.rows * rowBytes(s.type, s.cols)) });
  }
  return out;
}

/** `llama q8_0:576x1536,…`: what a measurement depends on in the model. */
export function matvecShapeKey(architecture: string, matrices: readonly TuningShape[]): string {
  return `${architecture} ${matrices.map((m) => `${ggmlTypeName(m.type).toLowerCase()}:${m.rows}x${m.cols}`).join(',')}`;
}

interface OnDevice {
  readonly w: WeightTensor;
  readonly x: GPUBuffer; // (cols) f32
  readonly y: GPUBuffer; // (rows) f32
  readonly want: Float32Array; // (rows) CPU reference
}

function candidate(ctx: KernelContext, mats: readonly OnDevice[], variant: MatvecVariant): TuneCandidate {
  const force = { matvec: variant };
  const run = async (): Promise<void> => {
    await withErrorScopes(ctx.device, `matvec ${matvecVariantKey(variant)}`, () => ctx.run((pass) => mats.forEach((m) => encodeMatmul(ctx, pass, m.w, m.x, m.y, 1, { force }))));
    await ctx.device.queue.onSubmittedWorkDone();
  };
  const exact = async (): Promise<boolean> => {
    for (const m of mats) {
      ctx.device.queue.writeBuffer(m.y, 0, new Float32Array(m.w.rows)); // a variant that writes nothing must not pass on stale results
    }
    await run();
    for (const m of mats) {
      if (!(normalizedError(new Float32Array(await ctx.read(m.y, m.w.rows * 4)), m.want) < EXACT_NORMALIZED_ERROR)) return false;
    }
    return true;
  };
  return { key: matvecVariantKey(variant), run, exact };
}

export interface MatvecTuneOptions extends TuneBudget {
  /** Restrict the candidates (tests); default: every variant of matvecVariants (wide loads where a type has them). */
  readonly variants?: readonly MatvecVariant[];
}

export interface MatvecTuneResult extends TuneResult {
  readonly variant: MatvecVariant;
}

/** Times every matvec variant on `matrices` (one decode matvec each) and returns the fastest exact one. */
export async function tuneMatvec(ctx: KernelContext, matrices: readonly TuningMatrix[], opts: MatvecTuneOptions): Promise<MatvecTuneResult> {
  const fallback = defaultMatvecVariant(ctx.caps);
  const mats: OnDevice[] = matrices.map((m, i) => {
    const x = seededValues(m.cols, 17 + i);
    return {
      w: uploadWeight(ctx, m.name, m.type, m.bytes, m.rows, m.cols),
      x: ctx.upload(x, `tune.x.${m.name}`),
      y: ctx.storage(m.rows * 4, `tune.y.${m.name}`),
      want: matvecRows(m.type, m.bytes, m.rows, m.cols, x),
    };
  });
  try {
    const subgroupMinSize = ctx.device.adapterInfo?.subgroupMinSize ?? 4;
    // Wide-load layouts only where a matrix has a type they read differently (others would time a duplicate).
    const variants = opts.variants ?? matvecVariants(ctx.caps, subgroupMinSize, matrices.some((m) => hasWideLoads({ type: m.type, paired: pairable(m.type, m.cols) })));
    const all = withFallback(variants, fallback, matvecVariantKey);
    const result = await tuneWithin(all.map((v) => candidate(ctx, mats, v)), matvecVariantKey(fallback), opts);
    return { ...result, variant: parseMatvecVariant(result.chosen) ?? fallback };
  } finally {
    for (const m of mats) {
      destroyWeight(m.w);
      m.x.destroy();
      m.y.destroy();
    }
  }
}

export interface TunedVariantOptions extends MatvecTuneOptions, KeepOptions {
  /** The tuning matrices' bytes, when the caller reads them once for several kernels; default readTuningMatrices. */
  readonly matrices?: () => Promise<readonly TuningMatrix[]>;
}

/** Where a matvec choice came from: the store, a fresh measurement, or nothing to measure on. */
export interface TunedMatvec {
  readonly variant: MatvecVariant;
  readonly source: ChoiceSource;
  readonly key: string;
  readonly result?: MatvecTuneResult;
}

/**
 * The matvec variant for `file` on this device: the stored choice for its key, or (none stored, or `retune`)
 * a measurement that is then stored. A stored value that no longer parses is measured again.
 */
export async function tunedMatvecVariant(gpu: GpuContext, ctx: KernelContext, file: GgufFile, architecture: string, opts: TunedVariantOptions): Promise<TunedMatvec> {
  const shapes = tuningShapes(file);
  const key = tuningKey({ adapter: gpu.adapterDescription, kernel: 'matvec', modelShape: matvecShapeKey(architecture, shapes) });
  if (shapes.length === 0) return { variant: defaultMatvecVariant(ctx.caps), source: 'default', key };
  const kept = { store: opts.store, key, parse: parseMatvecVariant, serialize: matvecVariantKey, fallback: defaultMatvecVariant(ctx.caps), retune: opts.retune, measure: opts.measure };
  const measure = async () => tuneMatvec(ctx, await (opts.matrices?.() ?? readTuningMatrices(file, shapes)), opts);
  const { choice, source, result } = await storedOrMeasured(kept, measure, (r) => r.variant);
  return { variant: choice, source, key, ...(result ? { result } : {}) };
}
