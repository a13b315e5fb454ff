// IEEE binary16 (f16) and bfloat16 to binary32, exact for every input: subnormals, infinities and NaN payloads.
// The *Bits forms return the f32 bit pattern, for writing through a Uint32Array where a NaN payload must survive.
// And binary32 to f16 bits, rounded to nearest even as ggml's GGML_FP32_TO_FP16 (F16C or its software path) does.

const F16_SUBNORMAL_UNIT = 2 ** -24;

/** f16 bits (low 16 bits of `bits`) → the f32 bit pattern of the same value. */
export function f16ToF32Bits(bits: number): number {
  const sign = (bits & 0x8000) << 16;
  const exponent = (bits >>> 10) & 0x1f;
  let mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal f16 is a normal f32: shift the leading 1 into the implicit bit position.
  let f32Exponent = 113;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    f32Exponent--;
  }
  return (sign | (f32Exponent << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

/** f16 bits → its value as a number (exactly representable in f32). NaN payloads are not kept. */
export function f16ToF32(bits: number): number {
  const negative = (bits & 0x8000) !== 0;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  let magnitude: number;
  if (exponent === 0x1f) magnitude = mantissa === 0 ? Infinity : NaN;
  else if (exponent === 0) magnitude = mantissa * F16_SUBNORMAL_UNIT;
  else magnitude = (mantissa + 0x400) * 2 ** (exponent - 25);
  return negative ? -magnitude : magnitude;
}

/** bf16 bits (low 16 bits of `bits`) → the f32 bit pattern: bf16 is the top half of an f32. */
export function bf16ToF32Bits(bits: number): number {
  return ((bits & 0xffff) << 16) >>> 0;
}

const scratchBits = new Uint32Array(1);
const scratchFloat = new Float32Array(scratchBits.buffer);

/** bf16 bits → its value as a number. NaN payloads are not kept. */
export function bf16ToF32(bits: number): number {
  scratchBits[0] = bf16ToF32Bits(bits);
  return scratchFloat[0]!;
}

/**
 * An f32 value (a number, rounded to f32 first) -> f16 bits, round to nearest even, overflow to infinity; the
 * encoding ggml's quantizers write their scales with. NaN becomes a quiet NaN.
 */
export function f32ToF16Bits(value: number): number {
  scratchFloat[0] = value;
  const x = scratchBits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs >= 0x477ff000) return sign | 0x7c00; // >= 65520: halfway past 65504 ties to even, which is infinity
  if (abs < 0x38800000) {
    // Below 2^-14: an f16 subnormal, a whole number of 2^-24 units (exact in f64, then rounded half to even).
    const units = Math.abs(scratchFloat[0]!) * 2 ** 24;
    let rounded = Math.round(units);
    if (rounded - units === 0.5 && rounded % 2 === 1) rounded -= 1;
    return sign | rounded;
  }
  const exponent = (abs >>> 23) - 112;
  const mantissa = abs & 0x7fffff;
  const truncated = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent.
  return sign | (rest > 0x1000 || (rest === 0x1000 && (truncated & 1) === 1) ? truncated + 1 : truncated);
}
