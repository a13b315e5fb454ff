// f32 -> Q8_0 / Q4_0 / Q5_0 / Q4_K block quantization as ggml's reference quantizers (quantize_row_*_ref) do it, f32
// arithmetic included, so the bytes are ggml's; used to write synthetic models for benchmarks and tests.
import { GgmlType } from '../gguf/types';
import { f32ToF16Bits } from './half';
import { Q4_K_BLOCK_BYTES, Q4_K_BLOCK_VALUES, quantizeBlockQ4_K } from './quantize-k';

const fround = Math.fround;

/** C's roundf: halfway cases away from zero (Math.round takes them up). */
function roundf(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** 32 values -> 34 bytes: d = amax / 127, q = roundf(x / d). */
function quantizeBlockQ8_0(x: Float32Array, o: number, out: Uint8Array, at: number): void {
  let amax = 0;
  for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[o + i]!));
  const d = fround(amax / 127);
  const id = d ? fround(1 / d) : 0;
  const bits = f32ToF16Bits(d);
  out[at] = bits & 0xff;
  out[at + 1] = bits >> 8;
  for (let i = 0; i < 32; i++) out[at + 2 + i] = roundf(fround(x[o + i]! * id)) & 0xff;
}

/** The value of largest magnitude among x[o .. o + 31], sign kept (the first one on ties, as ggml's loop). */
function largestMagnitude(x: Float32Array, o: number): number {
  let amax = 0;
  let max = 0;
  for (let i = 0; i < 32; i++) {
    const v = x[o + i]!;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** Q4_0 / Q5_0's scale: d = max / `levels` (max: the value of largest magnitude) as f16 at `at`; returns 1 / d (0 if d is). */
function writeScale(x: Float32Array, o: number, levels: number, out: Uint8Array, at: number): number {
  const d = fround(largestMagnitude(x, o) / levels);
  const bits = f32ToF16Bits(d);
  out[at] = bits & 0xff;
  out[at + 1] = bits >> 8;
  return d ? fround(1 / d) : 0;
}

/** 32 values -> 18 bytes: d = max / -8 (max: the value of largest magnitude), q = x / d + 8.5 clamped to 15. */
function quantizeBlockQ4_0(x: Float32Array, o: number, out: Uint8Array, at: number): void {
  const id = writeScale(x, o, -8, out, at);
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(15, Math.trunc(fround(fround(x[o + j]! * id) + 8.5)));
    const q1 = Math.min(15, Math.trunc(fround(fround(x[o + 16 + j]! * id) + 8.5)));
    out[at + 2 + j] = q0 | (q1 << 4);
  }
}

/**
 * 32 values -> 22 bytes (half d, u32 qh, u8 qs[16]): d = max / -16, q = x / d + 16.5 clamped to 31; the low 4 bits of
 * q in qs (values j and j + 16 share byte j), the 5th bit of value j in bit j of qh.
 */
function quantizeBlockQ5_0(x: Float32Array, o: number, out: Uint8Array, at: number): void {
  const id = writeScale(x, o, -16, out, at);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(31, Math.trunc(fround(fround(x[o + j]! * id) + 16.5)));
    const q1 = Math.min(31, Math.trunc(fround(fround(x[o + 16 + j]! * id) + 16.5)));
    out[at + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
    qh |= ((q0 >> 4) << j) | ((q1 >> 4) << (j + 16));
  }
  for (let k = 0; k < 4; k++) out[at + 2 + k] = (qh >>> (8 * k)) & 0xff;
}

export type QuantizableType = GgmlType.F32 | GgmlType.Q8_0 | GgmlType.Q4_0 | GgmlType.Q5_0 | GgmlType.Q4_K;

type BlockQuantizer = (x: Float32Array, o: number, out: Uint8Array, at: number) => void;

const BLOCKS: Record<Exclude<QuantizableType, GgmlType.F32>, { values: number; bytes: number; quantize: BlockQuantizer }> = {
  [GgmlType.Q8_0]: { values: 32, bytes: 34, quantize: quantizeBlockQ8_0 },
  [GgmlType.Q4_0]: { values: 32, bytes: 18, quantize: quantizeBlockQ4_0 },
  [GgmlType.Q5_0]: { values: 32, bytes: 22, quantize: quantizeBlockQ5_0 },
  [GgmlType.Q4_K]: { values: Q4_K_BLOCK_VALUES, bytes: Q4_K_BLOCK_BYTES, quantize: quantizeBlockQ4_K },
};

/** Bytes of `count` values quantized as `type`. */
export function quantizedByteSize(type: QuantizableType, count: number): number {
  if (type === GgmlType.F32) return count * 4;
  const block = BLOCKS[type];
  return (count / block.values) * block.bytes;
}

/**
 * Quantizes `x` into GGUF block bytes. Blocks run along the row, so a row's length (and so x's) must be a whole number
 * of blocks: 32 values for Q8_0 / Q4_0 / Q5_0, 256 for Q4_K.
 */
export function quantize(type: QuantizableType, x: Float32Array): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  const block = BLOCKS[type];
  if (x.length % block.values !== 0) {
    throw new RangeError(`quantize: ${x.length} values are not whole ${block.values}-value blocks`);
  }
  const out = new Uint8Array((x.length / block.values) * block.bytes);
  for (let b = 0; b < x.length / block.values; b++) block.quantize(x, b * block.values, out, b * block.bytes);
  return out;
}
