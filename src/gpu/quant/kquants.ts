// 256-element super-block formats, decoded exactly as ggml's dequantize_row_* (ggml/src/ggml-quants.c).
// Every intermediate f32 result goes through Math.fround; the Float32Array store rounds the last operation.
// Block layouts (little endian; `half` is an f16 scale):
//   Q2_K   84 B: u8 scales[16] (lo nibble scale, hi nibble min), u8 qs[64], half d, half dmin
//   Q3_K  110 B: u8 hmask[32], u8 qs[64], u8 scales[12] (16 packed 6-bit scales), half d
//   Q4_K  144 B: half d, half dmin, u8 scales[12] (8 packed 6-bit scale/min pairs), u8 qs[128]
//   Q5_K  176 B: half d, half dmin, u8 scales[12], u8 qh[32], u8 qs[128]
//   Q6_K  210 B: u8 ql[128], u8 qh[64], i8 scales[16], half d
//   IQ4_XS 136 B: half d, u16 scales_h, u8 scales_l[4], u8 qs[128]
import { viewOf, type RowDecoder } from './decoder';
import { f16ToF32 } from './half';
import { KVALUES_IQ4NL } from './legacy';

const fround = Math.fround;

/**
 * Q2_K: two halves of 128 elements, each reading 32 bytes of qs four times (2-bit fields at shift 0, 2, 4, 6);
 * each 16-element group has its own 4-bit scale and min: x = (d * sc) * q - (dmin * m).
 */
export const decodeQ2_K: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 84, o += 256) {
    const d = f16ToF32(view.getUint16(b + 80, true));
    const dmin = f16ToF32(view.getUint16(b + 82, true));
    for (let group = 0; group < 16; group++) {
      const sc = src[b + group]!;
      const dl = fround(d * (sc & 0x0f));
      const ml = fround(dmin * (sc >> 4));
      const q = b + 16 + 32 * (group >> 3) + 16 * (group & 1);
      const shift = 2 * ((group >> 1) & 3);
      const out = o + 16 * group;
      for (let l = 0; l < 16; l++) dst[out + l] = fround(dl * ((src[q + l]! >> shift) & 3)) - ml;
    }
  }
};

/** Q3_K's j-th 6-bit scale (0..63, before the -32 offset) from the 12 packed bytes at `at`. */
function q3kScale(src: Uint8Array, at: number, j: number): number {
  const low = j < 8 ? src[at + j]! & 0x0f : src[at + j - 8]! >> 4;
  const high = (src[at + 8 + (j & 3)]! >> (2 * (j >> 2))) & 3;
  return low | (high << 4);
}

/**
 * Q3_K: the Q2_K element order; the 3rd bit of element (group, l) is bit (group >> 1) of hmask[l + 16 * (group & 1)],
 * and a clear bit subtracts 4: x = (d * (scale - 32)) * (q - (hbit ? 0 : 4)).
 */
export const decodeQ3_K: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 110, o += 256) {
    const d = f16ToF32(view.getUint16(b + 108, true));
    for (let group = 0; group < 16; group++) {
      const dl = fround(d * (q3kScale(src, b + 96, group) - 32));
      const half = 16 * (group & 1);
      const q = b + 32 + 32 * (group >> 3) + half;
      const hmask = b + half;
      const shift = 2 * ((group >> 1) & 3);
      const hbit = 1 << (group >> 1);
      const out = o + 16 * group;
      for (let l = 0; l < 16; l++) {
        const low = (src[q + l]! >> shift) & 3;
        dst[out + l] = dl * (low - (src[hmask + l]! & hbit ? 0 : 4));
      }
    }
  }
};

/** ggml's get_scale_min_k4, scale half: the j-th (0..7) 6-bit scale of Q4_K/Q5_K from the 12 bytes at `at`. */
export function kScale(src: Uint8Array, at: number, j: number): number {
  if (j < 4) return src[at + j]! & 63;
  return (src[at + j + 4]! & 0x0f) | ((src[at + j - 4]! >> 6) << 4);
}

/** ggml's get_scale_min_k4, min half: the j-th (0..7) 6-bit min of Q4_K/Q5_K from the 12 bytes at `at`. */
export function kMin(src: Uint8Array, at: number, j: number): number {
  if (j < 4) return src[at + j + 4]! & 63;
  return (src[at + j + 4]! >> 4) | ((src[at + j]! >> 6) << 4);
}

/**
 * Q4_K: four 64-element chunks, each 32 bytes of qs (low nibbles: sub-block 2c, high nibbles: 2c + 1);
 * x = (d * sc) * q - (dmin * m).
 */
export const decodeQ4_K: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 144, o += 256) {
    const d = f16ToF32(view.getUint16(b, true));
    const dmin = f16ToF32(view.getUint16(b + 2, true));
    for (let chunk = 0; chunk < 4; chunk++) {
      const d1 = fround(d * kScale(src, b + 4, 2 * chunk));
      const m1 = fround(dmin * kMin(src, b + 4, 2 * chunk));
      const d2 = fround(d * kScale(src, b + 4, 2 * chunk + 1));
      const m2 = fround(dmin * kMin(src, b + 4, 2 * chunk + 1));
      const q = b + 16 + 32 * chunk;
      const out = o + 64 * chunk;
      for (let l = 0; l < 32; l++) {
        const byte = src[q + l]!;
        dst[out + l] = fround(d1 * (byte & 0x0f)) - m1;
        dst[out + 32 + l] = fround(d2 * (byte >> 4)) - m2;
      }
    }
  }
};

/** Q5_K: Q4_K plus a 5th bit, bit 2c of qh[l] for the low nibble and bit 2c + 1 for the high nibble. */
export const decodeQ5_K: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 176, o += 256) {
    const d = f16ToF32(view.getUint16(b, true));
    const dmin = f16ToF32(view.getUint16(b + 2, true));
    for (let chunk = 0; chunk < 4; chunk++) {
      const d1 = fround(d * kScale(src, b + 4, 2 * chunk));
      const m1 = fround(dmin * kMin(src, b + 4, 2 * chunk));
      const d2 = fround(d * kScale(src, b + 4, 2 * chunk + 1));
      const m2 = fround(dmin * kMin(src, b + 4, 2 * chunk + 1));
      const u1 = 1 << (2 * chunk);
      const u2 = 2 << (2 * chunk);
      const q = b + 48 + 32 * chunk;
      const out = o + 64 * chunk;
      for (let l = 0; l < 32; l++) {
        const byte = src[q + l]!;
        const high = src[b + 16 + l]!;
        dst[out + l] = fround(d1 * ((byte & 0x0f) + (high & u1 ? 16 : 0))) - m1;
        dst[out + 32 + l] = fround(d2 * ((byte >> 4) + (high & u2 ? 16 : 0))) - m2;
      }
    }
  }
};

/**
 * Q6_K: two halves of 128 elements. Element l + 32k (l < 32) of a half takes its low 4 bits from ql[l] (k = 0, 2)
 * or ql[l + 32] (k = 1, 3), low nibble for k < 2 and high nibble otherwise, and its top 2 bits from qh[l] at shift 2k;
 * x = (d * scale) * (q - 32), one int8 scale per 16 elements.
 */
export const decodeQ6_K: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 210, o += 256) {
    const d = f16ToF32(view.getUint16(b + 208, true));
    for (let half = 0; half < 2; half++) {
      const ql = b + 64 * half;
      const qh = b + 128 + 32 * half;
      const sc = b + 192 + 8 * half;
      const out = o + 128 * half;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const lo = src[ql + l]!;
        const hi = src[ql + l + 32]!;
        const h = src[qh + l]!;
        dst[out + l] = fround(d * view.getInt8(sc + is)) * (((lo & 0x0f) | ((h & 3) << 4)) - 32);
        dst[out + l + 32] = fround(d * view.getInt8(sc + is + 2)) * (((hi & 0x0f) | (((h >> 2) & 3) << 4)) - 32);
        dst[out + l + 64] = fround(d * view.getInt8(sc + is + 4)) * (((lo >> 4) | (((h >> 4) & 3) << 4)) - 32);
        dst[out + l + 96] = fround(d * view.getInt8(sc + is + 6)) * (((hi >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
    }
  }
};

/** IQ4_XS: eight 32-element IQ4_NL-style sub-blocks, each with a 6-bit scale: x = (d * (ls - 32)) * KVALUES[q]. */
export const decodeIQ4_XS: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 136, o += 256) {
    const d = f16ToF32(view.getUint16(b, true));
    const scalesHigh = view.getUint16(b + 2, true);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((src[b + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 0x0f) | (((scalesHigh >> (2 * ib)) & 3) << 4);
      const dl = fround(d * (ls - 32));
      const q = b + 8 + 16 * ib;
      const out = o + 32 * ib;
      for (let j = 0; j < 16; j++) {
        const byte = src[q + j]!;
        dst[out + j] = dl * KVALUES_IQ4NL[byte & 0x0f]!;
        dst[out + j + 16] = dl * KVALUES_IQ4NL[byte >> 4]!;
      }
    }
  }
};
