// The CPU reference sampler: exactly the algorithm of kernels/sampling.wgsl, so that the two pick the same token.
//
// Floating point appears only where every WebGPU device rounds the same way: canonicalizing logits by their bits,
// one multiply for the penalty, `vmax - v` and one multiply by log2(e)/T. The softmax weights are then fixed-point
// integers (2^31 for the most likely token) from an exp2 table shared with the GPU, and every sum is an integer
// sum, so the GPU's parallel reduction order cannot change a single bit. The result: GPU and CPU agree exactly.
//
// Per row of logits (vocab,):
//   v_i    = logit_i, NaN → -inf, -0 → +0; for distinct recent tokens: v > 0 ? v * (1/penalty) : v * penalty
//   key_i  = order-preserving u32 of v_i (thresholds compare keys, i.e. "keep logit >= threshold")
//   greedy → argmax key, lowest id on ties
//   w_i    = fixed-point exp((v_i - vmax) / T) in [0, 2^31]; 0 when it is below 2^-31 of the largest
//   top-k  → thrK = k-th largest key;   top-p → thrP = largest key whose {key >= thrP, key >= thrK} mass >= p * Z_k
//   min-p  → w_i >= ceil(minP * 2^31)
//   sample → with r = 24 random bits of (seed, step), the first kept token in id order whose cumulative weight
//            exceeds floor(Z * r / 2^24).
import { normalizeSamplingParams, type SamplingParams } from './sampling-params';

/** Fixed-point weight of the most likely token (probability ratio 1). */
export const WEIGHT_ONE = 0x80000000;

/** EXP2_TABLE[k] = round(2^31 * 2^(-k/256)), k = 0..256: the kernel reads the same table from a buffer. */
export const EXP2_TABLE: Uint32Array = Uint32Array.from({ length: 257 }, (_, k) => Math.round(WEIGHT_ONE * Math.pow(2, -k / 256)));

const F32_MAX = 3.4028234663852886e38;

/** Everything the kernel needs of SamplingParams, in the integer and f32 forms both implementations use. */
export interface SamplingEncoding {
  readonly greedy: boolean;
  /** 0 = disabled. */
  readonly topK: number;
  /** round(topP * 2^24) in [1, 2^24]; 0 = disabled. */
  readonly topPFixed: number;
  /** ceil(minP * 2^31): the smallest weight kept; 0 = disabled. */
  readonly minPWeight: number;
  /** f32: log2(e) / temperature, so that exp((v - vmax) / T) = 2^(-(vmax - v) * tempScale). */
  readonly tempScale: number;
  /** f32 penalty and its f32 reciprocal (a multiply rounds the same everywhere; a GPU divide need not). */
  readonly penalty: number;
  readonly invPenalty: number;
  readonly seed: number;
}

export function encodeSamplingParams(params: SamplingParams): SamplingEncoding {
  const greedy = params.temperature === 0;
  return {
    greedy,
    topK: params.topK,
    topPFixed: params.topP >= 1 ? 0 : Math.max(1, Math.round(params.topP * 2 ** 24)),
    minPWeight: Math.ceil(params.minP * WEIGHT_ONE),
    tempScale: greedy ? 0 : Math.fround(Math.min(Math.LOG2E / params.temperature, F32_MAX)),
    penalty: Math.fround(params.repetitionPenalty),
    invPenalty: Math.fround(1 / params.repetitionPenalty),
    seed: params.seed,
  };
}

// ---- u32 PRNG: PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering"), counter-based over (seed, step).

export function pcgHash(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** 24 uniformly random bits for decode step `step` of a sequence seeded `seed`. */
export function samplingRandom24(seed: number, step: number): number {
  return pcgHash((pcgHash(seed) + (step >>> 0)) >>> 0) >>> 8;
}

/** The uniform draw in [0, 1) as an f32 (exactly representable: 24 bits). */
export function samplingUniform(seed: number, step: number): number {
  return samplingRandom24(seed, step) / 2 ** 24;
}

// ---- f32 bits

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

function floatOf(bits: number): number {
  u32[0] = bits;
  return f32[0]!;
}

/** NaN → -inf, -0 → +0: every value then has one bit pattern, and the key order is the float order. */
export function canonicalBits(bits: number): number {
  if ((bits & 0x7fffffff) >>> 0 > 0x7f800000) return 0xff800000;
  return bits === 0x80000000 ? 0 : bits;
}

/** u32 whose unsigned order is the float order of the (canonical) f32 `bits`. */
export function orderKey(bits: number): number {
  return (bits & 0x80000000 ? ~bits : bits ^ 0x80000000) >>> 0;
}

/** The penalized logit's bits: llama.cpp's rule, the divide done as a multiply by the f32 reciprocal. */
function penalizedBits(logitBits: number, enc: SamplingEncoding): number {
  const l = floatOf(logitBits);
  return canonicalBits(bitsOf(l > 0 ? l * enc.invPenalty : l * enc.penalty));
}

/** Fixed-point exp((v - vmax) / T) in [0, 2^31]: f32 steps that round identically on every device, then integers. */
export function samplingWeight(bits: number, maxBits: number, vmax: number, tempScale: number): number {
  if (bits === maxBits) return WEIGHT_ONE;
  const d = Math.fround(vmax - floatOf(bits));
  const e = Math.fround(d * tempScale); // log2 of the probability ratio, >= 0
  if (!(e < 31)) return 0;
  const fx = Math.trunc(e * 65536); // 16.16 fixed point, exact: e * 2^16 is an f32
  const j = fx & 0xffff;
  const t0 = EXP2_TABLE[j >>> 8]!;
  const t1 = EXP2_TABLE[(j >>> 8) + 1]!;
  return (t0 - (((t0 - t1) * (j & 0xff)) >>> 8)) >>> (fx >>> 16);
}

/** floor(z * r / 2^24) for integers z < 2^53, r <= 2^24 (the kernel does it in 96-bit u32 arithmetic). */
export function mulShr24(z: number, r: number): number {
  return Number((BigInt(z) * BigInt(r)) >> 24n);
}

/** The last `repetitionWindow` tokens of `recent`, each checked to be a token id of this vocabulary. */
export function repetitionWindowOf(recent: readonly number[], params: SamplingParams, vocab: number): number[] {
  if (params.repetitionPenalty === 1 || params.repetitionWindow === 0) return [];
  const window = recent.slice(-params.repetitionWindow);
  for (const t of window) {
    if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new RangeError(`recent token ${t} is not a token id of a ${vocab}-token vocabulary`);
  }
  return window;
}

/** Canonical, penalized logit bits of a row (vocab,). */
function valueBits(logits: Float32Array, recent: readonly number[], params: SamplingParams, enc: SamplingEncoding): Uint32Array {
  const bits = new Uint32Array(logits.length);
  const raw = new Uint32Array(logits.buffer, logits.byteOffset, logits.length);
  for (let i = 0; i < bits.length; i++) bits[i] = canonicalBits(raw[i]!);
  for (const t of new Set(repetitionWindowOf(recent, params, logits.length))) bits[t] = penalizedBits(canonicalBits(raw[t]!), enc);
  return bits;
}

function argmaxKey(keys: Uint32Array): number {
  let best = 0;
  for (let i = 1; i < keys.length; i++) if (keys[i]! > keys[best]!) best = i;
  return best;
}

/** The k-th largest key (k < vocab). */
function topKThreshold(keys: Uint32Array, k: number): number {
  const sorted = Uint32Array.from(keys).sort();
  return sorted[keys.length - k]!;
}

/** The largest key τ such that the weight of {key >= τ, key >= floor} reaches max(1, floor(Z * pFixed / 2^24)). */
function topPThreshold(keys: Uint32Array, weights: Uint32Array, floor: number, pFixed: number): number {
  const ids: number[] = [];
  let total = 0;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i]! >= floor) {
      ids.push(i);
      total += weights[i]!;
    }
  }
  const target = Math.max(1, mulShr24(total, pFixed));
  ids.sort((a, b) => keys[b]! - keys[a]!);
  let mass = 0;
  for (let n = 0; n < ids.length; ) {
    const key = keys[ids[n]!]!;
    for (; n < ids.length && keys[ids[n]!] === key; n++) mass += weights[ids[n]!]!;
    if (mass >= target) return key;
  }
  return floor; // unreachable: the whole set holds mass total >= target
}

interface Support {
  /** 1 where a token may be drawn. */
  readonly kept: Uint8Array;
  /** Fixed-point weights (vocab,); only kept entries matter. */
  readonly weights: Uint32Array;
  readonly argmax: number;
}

function support(logits: Float32Array, recent: readonly number[], params: SamplingParams): Support {
  const enc = encodeSamplingParams(params);
  const vocab = logits.length;
  const bits = valueBits(logits, recent, params, enc);
  const keys = bits.map(orderKey);
  const argmax = argmaxKey(keys);
  const kept = new Uint8Array(vocab);
  const weights = new Uint32Array(vocab);
  if (enc.greedy) {
    kept[argmax] = 1;
    return { kept, weights, argmax };
  }
  const maxBits = bits[argmax]!;
  const vmax = floatOf(maxBits);
  for (let i = 0; i < vocab; i++) weights[i] = samplingWeight(bits[i]!, maxBits, vmax, enc.tempScale);
  const thrK = enc.topK > 0 && enc.topK < vocab ? topKThreshold(keys, enc.topK) : 0;
  const thrP = enc.topPFixed > 0 ? topPThreshold(keys, weights, thrK, enc.topPFixed) : 0;
  const thr = Math.max(thrK, thrP);
  for (let i = 0; i < vocab; i++) kept[i] = keys[i]! >= thr && weights[i]! >= enc.minPWeight ? 1 : 0;
  return { kept, weights, argmax };
}

/** 1 for each token that `sampleCpu` can return for these logits, recent tokens and params, whatever the step. */
export function keptTokensCpu(logits: Float32Array, recent: readonly number[], params: SamplingParams): Uint8Array {
  const s = support(logits, recent, normalizeSamplingParams(params));
  // A kept token of weight 0 is never drawn.
  return params.temperature === 0 ? s.kept : s.kept.map((k, i) => (k && s.weights[i]! > 0 ? 1 : 0));
}

/** The token the GPU kernel picks for logits (vocab,), the tokens generated so far, and decode step `step`. */
export function sampleCpu(logits: Float32Array, recent: number[], params: SamplingParams, step: number): number {
  const p = normalizeSamplingParams(params);
  const { kept, weights, argmax } = support(logits, recent, p);
  if (p.temperature === 0) return argmax;
  let total = 0;
  for (let i = 0; i < kept.length; i++) if (kept[i]) total += weights[i]!;
  const target = mulShr24(total, samplingRandom24(p.seed, step));
  let cumulative = 0;
  for (let i = 0; i < kept.length; i++) {
    if (!kept[i]) continue;
    cumulative += weights[i]!;
    if (cumulative > target) return i;
  }
  return argmax; // unreachable: target < total
}
