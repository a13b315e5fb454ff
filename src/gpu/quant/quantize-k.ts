// f32 -> Q4_K, ported from ggml's quantize_row_q4_K_ref and make_qkx2_quants (ggml/src/ggml-quants.c), the path
// ggml_quantize_chunk takes without an importance matrix. ggml computes in f32: every intermediate here goes
// through Math.fround in the same order of operations, so the bytes match ggml's for the same input.
// Block layout (144 B): half d, half dmin, u8 scales[12] (8 packed 6-bit scale/min pairs), u8 qs[128]; see kquants.ts.
import { f16ToF32, f32ToF16Bits } from './half';
import { kMin, kScale } from './kquants';

const fround = Math.fround;

export const Q4_K_BLOCK_VALUES = 256;
export const Q4_K_BLOCK_BYTES = 144;

/** ggml's nearest_int: adding 1.5 * 2^23 in f32 rounds to an integer, ties to even (for |v| < 2^22). */
function nearestInt(v: number): number {
  return fround(v + 12582912) - 12582912;
}

interface ScaleMin {
  readonly scale: number;
  /** Subtracted after scaling: x ~ scale * L - min; never negative. */
  readonly min: number;
}

/**
 * ggml's make_qkx2_quants over x[xo .. xo + n): levels L in 0..nmax with x ~ scale * L - min, minimising the
 * weighted squared (or absolute, useMad) error. Starts from the plain [min(x, 0), max(x)] range, then tries nstep + 1
 * inverse scales (nmax + rmin + rdelta * is) / (max - min), refitting scale and min by weighted least squares for
 * each and keeping the best. Writes the levels to L[lo .. lo + n); laux (n bytes) is scratch.
 */
function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array, L: Uint8Array, lo: number,
  laux: Uint8Array, rmin: number, rdelta: number, nstep: number, useMad: boolean,
): ScaleMin {
  let min = x[xo]!;
  let max = min;
  let sumW = weights[0]!;
  let sumX = fround(sumW * min);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i]!;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i]!;
    sumW = fround(sumW + w);
    sumX = fround(sumX + fround(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    return { scale: 0, min: -min };
  }
  let iscale = fround(nmax / fround(max - min));
  let scale = fround(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = Math.max(0, Math.min(nmax, nearestInt(fround(iscale * fround(xi - min)))));
    L[lo + i] = l;
    const diff = fround(fround(fround(scale * l) + min) - xi);
    bestError = fround(bestError + fround(weights[i]! * (useMad ? Math.abs(diff) : fround(diff * diff))));
  }
  if (nstep < 1) return { scale, min: -min };
  for (let is = 0; is <= nstep; is++) {
    // `min` may have moved to an earlier step's fit: ggml rescales from the current one.
    iscale = fround(fround(fround(rmin + fround(rdelta * is)) + nmax) / fround(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const l = Math.max(0, Math.min(nmax, nearestInt(fround(iscale * fround(xi - min)))));
      laux[i] = l;
      const wl = fround(weights[i]! * l);
      sumL = fround(sumL + wl);
      sumL2 = fround(sumL2 + fround(wl * l));
      sumXL = fround(sumXL + fround(wl * xi));
    }
    const D = fround(fround(sumW * sumL2) - fround(sumL * sumL));
    if (!(D > 0)) continue;
    let thisScale = fround(fround(fround(sumW * sumXL) - fround(sumX * sumL)) / D);
    let thisMin = fround(fround(fround(sumL2 * sumX) - fround(sumL * sumXL)) / D);
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = fround(sumXL / sumL2);
    }
    let curError = 0;
    for (let i = 0; i < n; i++) {
      const diff = fround(fround(fround(thisScale * laux[i]!) + thisMin) - x[xo + i]!);
      curError = fround(curError + fround(weights[i]! * (useMad ? Math.abs(diff) : fround(diff * diff))));
    }
    if (curError < bestError) {
      L.set(laux.subarray(0, n), lo);
      bestError = curError;
      scale = thisScale;
      min = thisMin;
    }
  }
  return { scale, min: -min };
}

// Scratch for one super-block (quantization is synchronous, so one set serves every call).
const levels = new Uint8Array(256); // (256) chosen level 0..15 of each value
const levelsAux = new Uint8Array(32); // (32) make_qkx2_quants' candidate levels
const weights = new Float32Array(32); // (32) per-value error weight of one sub-block
const subScales = new Float32Array(8); // (8) f32 scale of each 32-value sub-block
const subMins = new Float32Array(8); // (8) f32 min of each sub-block

/** The 8 sub-block fits of the super-block at x[o .. o + 256); returns the largest scale and the largest min. */
function fitSubBlocks(x: Float32Array, o: number): { maxScale: number; maxMin: number } {
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const xo = o + 32 * j;
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fround(sumX2 + fround(x[xo + l]! * x[xo + l]!));
    const avX = fround(Math.sqrt(fround(sumX2 / 32))); // f64 sqrt rounded to f32 is sqrtf, correctly rounded
    for (let l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[xo + l]!);
    const fit = makeQkx2Quants(32, 15, x, xo, weights, levels, 32 * j, levelsAux, -1, fround(0.1), 20, false);
    subScales[j] = fit.scale;
    subMins[j] = fit.min;
    if (fit.scale > maxScale) maxScale = fit.scale;
    if (fit.min > maxMin) maxMin = fit.min;
  }
  return { maxScale, maxMin };
}

/** The 8 sub-block scales and mins as 6-bit fractions of the largest, packed into 12 bytes at out[at ..]. */
function packScales(maxScale: number, maxMin: number, out: Uint8Array, at: number): void {
  const invScale = maxScale > 0 ? fround(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fround(63 / maxMin) : 0;
  for (let j = 0; j < 8; j++) {
    // ggml stores nearest_int into a uint8_t before clamping to 63.
    const ls = Math.min(63, nearestInt(fround(invScale * subScales[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(fround(invMin * subMins[j]!)) & 0xff);
    if (j < 4) {
      out[at + j] = ls;
      out[at + j + 4] = lm;
    } else {
      out[at + j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
      out[at + j - 4] = out[at + j - 4]! | ((ls >> 4) << 6);
      out[at + j] = out[at + j]! | ((lm >> 4) << 6);
    }
  }
}

/** 256 values at x[o ..] -> one 144-byte Q4_K block at out[at ..], as ggml's quantize_row_q4_K_ref. */
export function quantizeBlockQ4_K(x: Float32Array, o: number, out: Uint8Array, at: number): void {
  const { maxScale, maxMin } = fitSubBlocks(x, o);
  packScales(maxScale, maxMin, out, at + 4);
  const dBits = f32ToF16Bits(fround(maxScale / 63));
  const dminBits = f32ToF16Bits(fround(maxMin / 63));
  out[at] = dBits & 0xff;
  out[at + 1] = dBits >> 8;
  out[at + 2] = dminBits & 0xff;
  out[at + 3] = dminBits >> 8;
  // Requantize against the stored (rounded) scales; a sub-block whose scale rounds to 0 keeps its fitted levels.
  const d = f16ToF32(dBits);
  const dmin = f16ToF32(dminBits);
  for (let j = 0; j < 8; j++) {
    const dl = fround(d * kScale(out, at + 4, j));
    if (!dl) continue;
    const ml = fround(dmin * kMin(out, at + 4, j));
    for (let i = 0; i < 32; i++) {
      const l = nearestInt(fround(fround(x[o + 32 * j + i]! + ml) / dl));
      levels[32 * j + i] = Math.max(0, Math.min(15, l));
    }
  }
  // Each 64-value chunk c: byte l holds value 64c + l in its low nibble and 64c + 32 + l in its high nibble.
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) out[at + 16 + 32 * c + l] = levels[64 * c + l]! | (levels[64 * c + 32 + l]! << 4);
  }
}
