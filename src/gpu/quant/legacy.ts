// Float and 32-element block formats, decoded exactly as ggml's dequantize_row_* (ggml/src/ggml-quants.c).
// Every intermediate f32 result goes through Math.fround; the Float32Array store rounds the last operation.
// Block layouts (little endian; `half` is an f16 scale):
//   Q4_0   18 B: half d, u8 qs[16]                    x = (q - 8) * d
//   Q4_1   20 B: half d, half m, u8 qs[16]            x = q * d + m
//   Q5_0   22 B: half d, u32 qh, u8 qs[16]            x = ((q | hbit << 4) - 16) * d
//   Q5_1   24 B: half d, half m, u32 qh, u8 qs[16]    x = (q | hbit << 4) * d + m
//   Q8_0   34 B: half d, i8 qs[32]                    x = q * d
//   IQ4_NL 18 B: half d, u8 qs[16]                    x = d * KVALUES_IQ4NL[q]
//   MXFP4  17 B: u8 e (E8M0), u8 qs[16] (E2M1)       x = KVALUES_MXFP4[q] * 2^(e - 128)
// In the 4- and 5-bit formats byte j holds element j (low nibble) and element j + 16 (high nibble);
// in Q5_x bit j of qh is element j's 5th bit and bit j + 16 is element j + 16's.
import { bitsOf, viewOf, type RowDecoder } from './decoder';
import { bf16ToF32Bits, f16ToF32, f16ToF32Bits } from './half';

const fround = Math.fround;

/** The 16 non-uniform levels of IQ4_NL and IQ4_XS (ggml-common.h kvalues_iq4nl). */
export const KVALUES_IQ4NL: readonly number[] = [
  -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/** E2M1 values doubled (ggml-common.h kvalues_mxfp4): the halving is folded into the scale, 2^(e - 127) / 2. */
export const KVALUES_MXFP4: readonly number[] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/**
 * ggml's GGML_E8M0_TO_FP32_HALF: 2^(e - 128) as f32 bits, subnormal below e = 2 (e = 255, NaN in the OCP spec, reads
 * as 2^127 there too).
 */
export function e8m0ToF32HalfBits(e: number): number {
  return e < 2 ? 0x00200000 << e : (e - 1) << 23;
}

const e8m0Scratch = new Float32Array(1);
const e8m0Bits = new Uint32Array(e8m0Scratch.buffer);

export function e8m0ToF32Half(e: number): number {
  e8m0Bits[0] = e8m0ToF32HalfBits(e);
  return e8m0Scratch[0]!;
}

export const decodeF32: RowDecoder = (src, dst, count) => {
  const view = viewOf(src);
  const bits = bitsOf(dst);
  for (let i = 0; i < count; i++) bits[i] = view.getUint32(4 * i, true);
};

export const decodeF16: RowDecoder = (src, dst, count) => {
  const view = viewOf(src);
  const bits = bitsOf(dst);
  for (let i = 0; i < count; i++) bits[i] = f16ToF32Bits(view.getUint16(2 * i, true));
};

export const decodeBF16: RowDecoder = (src, dst, count) => {
  const view = viewOf(src);
  const bits = bitsOf(dst);
  for (let i = 0; i < count; i++) bits[i] = bf16ToF32Bits(view.getUint16(2 * i, true));
};

export const decodeQ4_0: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 18, o += 32) {
    const d = f16ToF32(view.getUint16(b, true));
    for (let j = 0; j < 16; j++) {
      const q = src[b + 2 + j]!;
      dst[o + j] = ((q & 0x0f) - 8) * d;
      dst[o + j + 16] = ((q >> 4) - 8) * d;
    }
  }
};

export const decodeQ4_1: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 20, o += 32) {
    const d = f16ToF32(view.getUint16(b, true));
    const m = f16ToF32(view.getUint16(b + 2, true));
    for (let j = 0; j < 16; j++) {
      const q = src[b + 4 + j]!;
      dst[o + j] = fround((q & 0x0f) * d) + m;
      dst[o + j + 16] = fround((q >> 4) * d) + m;
    }
  }
};

export const decodeQ5_0: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 22, o += 32) {
    const d = f16ToF32(view.getUint16(b, true));
    const qh = view.getUint32(b + 2, true);
    for (let j = 0; j < 16; j++) {
      const q = src[b + 6 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      dst[o + j] = (((q & 0x0f) | h0) - 16) * d;
      dst[o + j + 16] = (((q >> 4) | h1) - 16) * d;
    }
  }
};

export const decodeQ5_1: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 24, o += 32) {
    const d = f16ToF32(view.getUint16(b, true));
    const m = f16ToF32(view.getUint16(b + 2, true));
    const qh = view.getUint32(b + 4, true);
    for (let j = 0; j < 16; j++) {
      const q = src[b + 8 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      dst[o + j] = fround(((q & 0x0f) | h0) * d) + m;
      dst[o + j + 16] = fround(((q >> 4) | h1) * d) + m;
    }
  }
};

export const decodeQ8_0: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 34, o += 32) {
    const d = f16ToF32(view.getUint16(b, true));
    for (let j = 0; j < 32; j++) dst[o + j] = view.getInt8(b + 2 + j) * d;
  }
};

export const decodeIQ4_NL: RowDecoder = (src, dst, blocks) => {
  const view = viewOf(src);
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 18, o += 32) {
    const d = f16ToF32(view.getUint16(b, true));
    for (let j = 0; j < 16; j++) {
      const q = src[b + 2 + j]!;
      dst[o + j] = d * KVALUES_IQ4NL[q & 0x0f]!;
      dst[o + j + 16] = d * KVALUES_IQ4NL[q >> 4]!;
    }
  }
};

/** x = KVALUES_MXFP4[q] * d with d a power of two: exact unless it leaves f32's range (ggml's own f32 product). */
export const decodeMXFP4: RowDecoder = (src, dst, blocks) => {
  for (let i = 0, b = 0, o = 0; i < blocks; i++, b += 17, o += 32) {
    const d = e8m0ToF32Half(src[b]!);
    for (let j = 0; j < 16; j++) {
      const q = src[b + 1 + j]!;
      dst[o + j] = KVALUES_MXFP4[q & 0x0f]! * d;
      dst[o + j + 16] = KVALUES_MXFP4[q >> 4]! * d;
    }
  }
};
