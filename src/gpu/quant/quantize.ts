// f32 -> Q8_0 / Q4_0 block quantization as ggml's reference quantizers (quantize_row_*_ref) do it; used to
// write synthetic models for benchmarks and tests.
import { GgmlType } from '../gguf/types';

function f32ToF16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >>> (1 - exp);
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  const rounded = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (rest > 0x1000 || (rest === 0x1000 && (rounded & 1) === 1) ? rounded + 1 : rounded);
}

/** 32 values -> 34 bytes: d = amax / 127, q = round(x / d). */
function quantizeBlockQ8_0(x: Float32Array, o: number, out: DataView, at: number): void {
  let amax = 0;
  for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[o + i]!));
  const d = amax / 127;
  const id = d ? 1 / d : 0;
  out.setUint16(at, f32ToF16Bits(d), true);
  for (let i = 0; i < 32; i++) out.setInt8(at + 2 + i, Math.round(x[o + i]! * id));
}

/** 32 values -> 18 bytes: d = max / -8 (max: the value of largest magnitude), q = x / d + 8.5 clamped to 15. */
function quantizeBlockQ4_0(x: Float32Array, o: number, out: DataView, at: number): void {
  let amax = 0;
  let max = 0;
  for (let i = 0; i < 32; i++) {
    const v = x[o + i]!;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = max / -8;
  const id = d ? 1 / d : 0;
  out.setUint16(at, f32ToF16Bits(d), true);
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(15, Math.trunc(x[o + j]! * id + 8.5));
    const q1 = Math.min(15, Math.trunc(x[o + 16 + j]! * id + 8.5));
    out.setUint8(at + 2 + j, q0 | (q1 << 4));
  }
}

export type QuantizableType = GgmlType.F32 | GgmlType.Q8_0 | GgmlType.Q4_0;

/** Quantizes `x` (a whole number of 32-value blocks) into GGUF block bytes. */
export function quantize(type: QuantizableType, x: Float32Array): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  if (x.length % 32 !== 0) throw new RangeError(`quantize: ${x.length} values are not whole 32-value blocks`);
  const blockBytes = type === GgmlType.Q8_0 ? 34 : 18;
  const out = new Uint8Array((x.length / 32) * blockBytes);
  const view = new DataView(out.buffer);
  const block = type === GgmlType.Q8_0 ? quantizeBlockQ8_0 : quantizeBlockQ4_0;
  for (let b = 0; b < x.length / 32; b++) block(x, b * 32, view, b * blockBytes);
  return out;
}
