// CPU references for the attention kernels: plain loops in f64 over a contiguous KV, and f32 -> f16 rounding.

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary16 bits of `x` rounded to nearest, ties to even (what pack2x16float is specified to produce). */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mantissa | 0x800000; // subnormal half: shift the implicit 1 in
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1) === 1) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? 1 : 0));
}

/** `x` rounded to the nearest f16 value, as a number. */
export function roundToHalf(x: number): number {
  const h = f32ToF16Bits(x);
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  const magnitude = exponent === 0 ? mantissa * 2 ** -24 : exponent === 0x1f ? (mantissa ? NaN : Infinity) : (mantissa + 0x400) * 2 ** (exponent - 25);
  return h & 0x8000 ? -magnitude : magnitude;
}

/**
 * Causal attention of one token over `n` contiguous keys: q (nHeads * headDim), keys and values
 * (>= n, nKvHeads * headDim). Returns (nHeads * headDim); query head h reads kv head floor(h / group).
 */
export function attendRef(q: ArrayLike<number>, keys: ArrayLike<number>, values: ArrayLike<number>, n: number, nHeads: number, nKvHeads: number, headDim: number, scale = 1 / Math.sqrt(headDim)): Float64Array {
  const group = nHeads / nKvHeads;
  const row = nKvHeads * headDim;
  const out = new Float64Array(nHeads * headDim);
  const scores = new Float64Array(n);
  for (let h = 0; h < nHeads; h++) {
    const kv = Math.floor(h / group) * headDim;
    let max = -Infinity;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let d = 0; d < headDim; d++) s += q[h * headDim + d]! * keys[j * row + kv + d]!;
      scores[j] = s * scale;
      max = Math.max(max, scores[j]!);
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += scores[j] = Math.exp(scores[j]! - max);
    for (let d = 0; d < headDim; d++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += scores[j]! * values[j * row + kv + d]!;
      out[h * headDim + d] = acc / sum;
    }
  }
  return out;
}

/** max |got - want| / max(1e-6, max |want|): the error measure every attention kernel test bounds. */
export function normalizedError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
  }
  return maxDiff / Math.max(1e-6, maxRef);
}

/** `n` values uniform in (-amplitude, amplitude) from `rand` (a [0, 1) stream such as mulberry32). */
export function uniformArray(rand: () => number, n: number, amplitude = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * amplitude);
}
