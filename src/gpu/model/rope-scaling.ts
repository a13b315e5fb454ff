// RoPE scalings read as llama.cpp reads them (llama-model.cpp's rope hparams, llama-context.cpp's yarn_attn_factor)
// and the rotary angles they give, as ggml's CPU rope computes them (ops.cpp rope_yarn / ggml_rope_cache_init):
//
//   theta_extrap = pos * base^(-2i / ropeDim) / factor[i]            (factor: rope_freqs or LongRoPE short/long, else 1)
//   theta_interp = freqScale * theta_extrap                          (freqScale = 1 / rope.scaling.factor)
//   YaRN:  ramp = 1 - clamp((i - low) / max(0.001, high - low), 0, 1);  theta = interp * (1 - ramp) + extrap * ramp
//   else:  theta = theta_interp
//   (cos, sin) = (cos theta, sin theta) * attnFactor
//
// Angles are computed in double precision (ggml: f32); the difference is far below the fixtures' 1e-3.
import { GgufError } from '../gguf/errors';
import { optionalNumber, optionalString, type Metadata } from '../gguf/metadata';

export interface YarnRamp {
  /** Pair indices below `low` keep the unscaled angle, above `high` the interpolated one (ggml_rope_yarn_corr_dims). */
  readonly low: number;
  readonly high: number;
}

export interface RopeScaling {
  /** llama.cpp's freq_scale: 1 / rope.scaling.factor (linear and YaRN); 1 for none. */
  readonly freqScale: number;
  /** YaRN's mix of extrapolated and interpolated angles per pair; absent for other scalings. */
  readonly yarn?: YarnRamp;
  /**
   * Multiplies cos and sin, so attention scores by its square: `rope.scaling.attn_factor` (LongRoPE files carry
   * sqrt(1 + ln(s) / ln(L))) times YaRN's magnitude 1 + 0.1 ln(factor).
   */
  readonly attnFactor: number;
  /**
   * LongRoPE (Phi-3): `rope_factors_long.weight` divides the angles when the context the model is loaded with
   * exceeds this, `rope_factors_short.weight` otherwise (llama_model::get_rope_factors).
   */
  readonly longRopeOriginalContext?: number;
}

/** The model-level inputs of the angle (a subset of ModelConfig). */
export interface RopeAngleConfig {
  readonly ropeBase: number;
  readonly ropeDim: number;
  /** Positions are divided by this (linear scaling); 1 when none. */
  readonly ropeLinearScale: number;
  readonly ropeScaling?: RopeScaling;
}

// llama_hparams defaults; llama.cpp reads yarn_beta_* from the file only for a few architectures (grok, mistral3).
const YARN_BETA_FAST = 32;
const YARN_BETA_SLOW = 1;

/** ggml_rope_yarn_corr_dim: the pair index whose wavelength spans `rotations` turns over the original context. */
const corrDim = (ropeDim: number, originalContext: number, rotations: number, base: number): number =>
  (ropeDim * Math.log(originalContext / (rotations * 2 * Math.PI))) / (2 * Math.log(base));

export function yarnRamp(ropeDim: number, originalContext: number, base: number): YarnRamp {
  return {
    low: Math.max(0, Math.floor(corrDim(ropeDim, originalContext, YARN_BETA_FAST, base))),
    high: Math.min(ropeDim - 1, Math.ceil(corrDim(ropeDim, originalContext, YARN_BETA_SLOW, base))),
  };
}

/** llama.cpp's get_mscale(scale, 1). */
const yarnMagnitude = (factor: number): number => (factor <= 1 ? 1 : 0.1 * Math.log(factor) + 1);

export interface RopeScalingRead {
  readonly ropeLinearScale: number;
  readonly ropeScaling?: RopeScaling;
}

/**
 * The file's RoPE scaling. `longRope`: the architecture carries LongRoPE factor tensors (Phi-3). Any scaling we do
 * not compute exactly is refused with its name.
 */
export function readRopeScaling(
  meta: Metadata,
  arch: string,
  s: { ropeDim: number; ropeBase: number; contextLength: number; longRope: boolean },
): RopeScalingRead {
  const type = optionalString(meta, `${arch}.rope.scaling.type`) ?? 'linear';
  const rawFactor = optionalNumber(meta, `${arch}.rope.scaling.factor`) ?? optionalNumber(meta, `${arch}.rope.scale_linear`) ?? 0;
  const factor = type === 'none' || rawFactor === 0 ? 1 : rawFactor;
  const fileAttnFactor = optionalNumber(meta, `${arch}.rope.scaling.attn_factor`) ?? 1;
  const originalContext = optionalNumber(meta, `${arch}.rope.scaling.original_context_length`) ?? s.contextLength;
  if (!(factor > 0) || !Number.isFinite(factor)) throw new GgufError('corrupt', `${arch}.rope.scaling.factor is ${rawFactor}, not a positive number`);
  if (type === 'yarn') {
    if (!Number.isInteger(originalContext) || originalContext < 1) throw new GgufError('corrupt', `${arch}.rope.scaling.original_context_length is ${originalContext}`);
    // llama-context.cpp: yarn_attn_factor = get_mscale(f) / (1 + 0.1 ln f), then rope_yarn multiplies by 1 + 0.1 ln f.
    const attnFactor = (yarnMagnitude(factor) / (1 + 0.1 * Math.log(factor))) * (1 + 0.1 * Math.log(factor)) * fileAttnFactor;
    return { ropeLinearScale: 1, ropeScaling: { freqScale: 1 / factor, yarn: yarnRamp(s.ropeDim, originalContext, s.ropeBase), attnFactor } };
  }
  if (type !== 'linear' && type !== 'none' && !(type === 'longrope' && s.longRope)) {
    throw new GgufError('unknown-architecture', `RoPE scaling "${type}" is not supported (supported: linear, yarn, Llama 3 frequency factors, Phi-3 LongRoPE)`);
  }
  // Linear scaling divides positions, which is freq_scale applied to the angle.
  if (!s.longRope && fileAttnFactor === 1) return { ropeLinearScale: factor };
  return {
    ropeLinearScale: factor,
    ropeScaling: { freqScale: 1, attnFactor: fileAttnFactor, ...(s.longRope ? { longRopeOriginalContext: originalContext } : {}) },
  };
}

/** LongRoPE's choice for a model loaded with `contextLength` positions: the long factors past the original context. */
export const usesLongRopeFactors = (c: { contextLength: number; ropeScaling?: RopeScaling }): boolean =>
  c.ropeScaling?.longRopeOriginalContext !== undefined && c.contextLength > c.ropeScaling.longRopeOriginalContext;

/** The tensor whose values divide the angles, if any: Llama 3's rope_freqs, or LongRoPE's short/long factors. */
export function ropeFactorTensor(c: { contextLength: number; hasRopeFreqs: boolean; ropeScaling?: RopeScaling }): string | undefined {
  if (c.hasRopeFreqs) return 'rope_freqs.weight';
  if (c.ropeScaling?.longRopeOriginalContext === undefined) return undefined;
  return usesLongRopeFactors(c) ? 'rope_factors_long.weight' : 'rope_factors_short.weight';
}

/** Writes (cos, sin) of pair `i` at position `pos` into out[0], out[1]. */
export function ropeCosSin(c: RopeAngleConfig, factors: Float32Array | undefined, pos: number, i: number, out: Float64Array | Float32Array): void {
  const extrap = (pos * Math.pow(c.ropeBase, (-2 * i) / c.ropeDim)) / (factors ? factors[i]! : 1);
  const s = c.ropeScaling;
  let theta = extrap / c.ropeLinearScale;
  if (s) {
    const interp = s.freqScale * theta;
    theta = interp;
    if (s.yarn) {
      const y = (i - s.yarn.low) / Math.max(0.001, s.yarn.high - s.yarn.low);
      const ramp = 1 - Math.min(1, Math.max(0, y));
      theta = interp * (1 - ramp) + extrap * ramp;
    }
  }
  const m = s ? s.attnFactor : 1;
  out[0] = Math.cos(theta) * m;
  out[1] = Math.sin(theta) * m;
}
