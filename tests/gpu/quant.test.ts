// CPU dequantization and matvec against ggml's own output (shared/models/quant-testvectors.gguf):
// for each type T, w.T (64 rows of 512), w.T.deq (ggml's dequantize_row_*), y.T.deq64 (w.T.deq @ x in f64).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GgufError } from '../../src/gpu/gguf/errors';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GgmlType } from '../../src/gpu/gguf/types';
import {
  assertDequantizable,
  bf16ToF32,
  bf16ToF32Bits,
  DEQUANTIZABLE_TYPES,
  dequantize,
  f16ToF32,
  f16ToF32Bits,
  isDequantizable,
  matvecRows,
} from '../../src/gpu/quant';

const VECTORS = path.resolve(__dirname, '../../../shared/models/quant-testvectors.gguf');
const ROWS = 64;
const COLS = 512;

const TYPES: ReadonlyArray<[name: string, type: GgmlType]> = [
  ['f16', GgmlType.F16],
  ['bf16', GgmlType.BF16],
  ['q8_0', GgmlType.Q8_0],
  ['q4_0', GgmlType.Q4_0],
  ['q4_1', GgmlType.Q4_1],
  ['q5_0', GgmlType.Q5_0],
  ['q5_1', GgmlType.Q5_1],
  ['q2_K', GgmlType.Q2_K],
  ['q3_K', GgmlType.Q3_K],
  ['q4_K', GgmlType.Q4_K],
  ['q5_K', GgmlType.Q5_K],
  ['q6_K', GgmlType.Q6_K],
  ['iq4_nl', GgmlType.IQ4_NL],
  ['iq4_xs', GgmlType.IQ4_XS],
];

let file: GgufFile;

beforeAll(() => {
  file = GgufFile.fromBytes(new Uint8Array(readFileSync(VECTORS)));
});

async function rawTensor(name: string): Promise<{ type: number; bytes: Uint8Array }> {
  const info = file.requireTensor(name);
  return { type: info.type, bytes: await file.tensorBytes(info) };
}

/** An F32 tensor copied into its own (aligned) buffer. */
async function f32Tensor(name: string): Promise<Float32Array> {
  const { type, bytes } = await rawTensor(name);
  expect(type).toBe(GgmlType.F32);
  return new Float32Array(bytes.slice().buffer);
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Index of the first element whose bits differ, or -1. */
function firstMismatch(a: Float32Array, b: Float32Array): number {
  const ab = bitsOf(a);
  const bb = bitsOf(b);
  if (ab.length !== bb.length) return Math.min(ab.length, bb.length);
  for (let i = 0; i < ab.length; i++) if (ab[i] !== bb[i]) return i;
  return -1;
}

function describeMismatch(a: Float32Array, b: Float32Array, i: number): string {
  if (i < 0) return 'identical';
  const hex = (v: number | undefined): string => (v ?? 0).toString(16).padStart(8, '0');
  const where = `first mismatch at ${i} (row ${Math.floor(i / COLS)}, col ${i % COLS})`;
  return `${where}: got ${a[i]} (0x${hex(bitsOf(a)[i])}), ggml ${b[i]} (0x${hex(bitsOf(b)[i])})`;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/** Largest |got - want| / max(|want|, 1e-3 * max|want|): relative error, floored near zero crossings. */
function normalizedError(got: Float32Array, want: Float32Array): number {
  const floor = 1e-3 * maxAbs(want);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(Math.abs(want[i]!), floor));
  }
  return worst;
}

/** `bytes` copied so that it starts at an odd offset of a larger buffer. */
function atOddOffset(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array(bytes.length + 4);
  padded.set(bytes, 3);
  return padded.subarray(3, 3 + bytes.length);
}

describe('dequantize matches ggml bit for bit', () => {
  it.each(TYPES)('%s', async (name, type) => {
    const w = await rawTensor(`w.${name}`);
    expect(w.type).toBe(type);
    const want = await f32Tensor(`w.${name}.deq`);
    const got = dequantize(type, w.bytes, ROWS * COLS);
    expect(got.length).toBe(want.length);
    const i = firstMismatch(got, want);
    expect(i, describeMismatch(got, want, i)).toBe(-1);
  });

  it('f32 is copied bit for bit', async () => {
    const { bytes } = await rawTensor('src');
    const want = await f32Tensor('src');
    const got = dequantize(GgmlType.F32, bytes, ROWS * COLS);
    const i = firstMismatch(got, want);
    expect(i, describeMismatch(got, want, i)).toBe(-1);
  });

  it.each(TYPES)('%s at an odd byte offset decodes the same', async (name, type) => {
    const w = await rawTensor(`w.${name}`);
    const aligned = dequantize(type, w.bytes, ROWS * COLS);
    const odd = dequantize(type, atOddOffset(w.bytes), ROWS * COLS);
    const i = firstMismatch(odd, aligned);
    expect(i, describeMismatch(odd, aligned, i)).toBe(-1);
  });

  it('writes into a caller-provided array', async () => {
    const w = await rawTensor('w.q4_K');
    const out = new Float32Array(ROWS * COLS + 8);
    expect(dequantize(GgmlType.Q4_K, w.bytes, ROWS * COLS, out)).toBe(out);
    const want = await f32Tensor('w.q4_K.deq');
    const i = firstMismatch(out.subarray(0, ROWS * COLS), want);
    expect(i).toBe(-1);
  });
});

describe('matvecRows', () => {
  // f64 accumulation of the bit-exact rows: the only difference from y.T.deq64 is summation order and the
  // final rounding to f32, so 1e-5 relative (floored at 1e-3 of max|y| for outputs near zero) is generous.
  it.each(TYPES)('%s matches the f64 product of ggml-dequantized weights to 1e-5', async (name, type) => {
    const w = await rawTensor(`w.${name}`);
    const x = await f32Tensor('x');
    const want = await f32Tensor(`y.${name}.deq64`);
    const got = matvecRows(type, w.bytes, ROWS, COLS, x);
    expect(got.length).toBe(ROWS);
    expect(normalizedError(got, want)).toBeLessThanOrEqual(1e-5);
  });

  it.each(TYPES)('%s is near ggml own matvec, which also quantizes x', async (name, type) => {
    const w = await rawTensor(`w.${name}`);
    const x = await f32Tensor('x');
    const ggml = await f32Tensor(`y.${name}.ggml`);
    const got = matvecRows(type, atOddOffset(w.bytes), ROWS, COLS, x);
    let worst = 0;
    for (let r = 0; r < ROWS; r++) worst = Math.max(worst, Math.abs(got[r]! - ggml[r]!));
    expect(worst / maxAbs(ggml)).toBeLessThan(0.05);
  });

  it('writes into a caller-provided array and checks shapes', async () => {
    const w = await rawTensor('w.q8_0');
    const x = await f32Tensor('x');
    const out = new Float32Array(ROWS);
    expect(matvecRows(GgmlType.Q8_0, w.bytes, ROWS, COLS, x, out)).toBe(out);
    expect(() => matvecRows(GgmlType.Q8_0, w.bytes, ROWS, COLS, x.subarray(1))).toThrow(RangeError);
    expect(() => matvecRows(GgmlType.Q8_0, w.bytes, ROWS + 1, COLS, x)).toThrow(GgufError);
    expect(() => matvecRows(GgmlType.Q4_K, w.bytes, 1, 100, x.subarray(0, 100))).toThrow(/blocks of 256/);
  });
});

describe('f16ToF32', () => {
  it.each([
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x8001, -(2 ** -24)],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])('bits %d → %s', (bits, value) => {
    expect(f16ToF32(bits)).toBe(value);
  });

  it('keeps the sign of zero and decodes NaN', () => {
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32Bits(0x8000)).toBe(0x80000000);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f16ToF32(0xfc01)).toBeNaN();
  });

  it('keeps NaN payloads in the bit form', () => {
    expect(f16ToF32Bits(0x7e00)).toBe(0x7fc00000);
    expect(f16ToF32Bits(0x7c01)).toBe(0x7f802000);
    expect(f16ToF32Bits(0xfe01)).toBe(0xffc02000);
  });

  it('agrees with the bit form on all 65536 inputs', () => {
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    for (let h = 0; h < 0x10000; h++) {
      bits[0] = f16ToF32Bits(h);
      const value = f16ToF32(h);
      if (Number.isNaN(value)) expect(asFloat[0]).toBeNaN();
      else if (!Object.is(asFloat[0], value)) expect(`0x${h.toString(16)} → ${asFloat[0]}`).toBe(String(value));
    }
  });
});

describe('bf16ToF32', () => {
  it.each([
    [0x0000, 0],
    [0x3f80, 1],
    [0xbf80, -1],
    [0x4049, 3.140625],
    [0x7f7f, 3.3895313892515355e38],
    [0x0080, 2 ** -126],
    [0x0001, 2 ** -133],
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ])('bits %d → %s', (bits, value) => {
    expect(bf16ToF32(bits)).toBe(value);
  });

  it('keeps the sign of zero, NaN, and NaN payloads in the bit form', () => {
    expect(Object.is(bf16ToF32(0x8000), -0)).toBe(true);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
    expect(bf16ToF32(0xff81)).toBeNaN();
    expect(bf16ToF32Bits(0x7f81)).toBe(0x7f810000);
  });

  it('decodes NaN payloads bit for bit in dequantize', () => {
    const bytes = new Uint8Array([0x81, 0x7f, 0x01, 0x7c]);
    expect(Array.from(bitsOf(dequantize(GgmlType.BF16, bytes, 2)))).toEqual([0x7f810000, 0x7c010000]);
    expect(Array.from(bitsOf(dequantize(GgmlType.F16, bytes, 2)))).toEqual([0x7ff02000, 0x7f802000]);
  });
});

describe('unsupported and malformed input', () => {
  it('lists what it can decode', () => {
    for (const [, type] of TYPES) expect(isDequantizable(type)).toBe(true);
    expect(isDequantizable(GgmlType.F32)).toBe(true);
    expect(DEQUANTIZABLE_TYPES).toContain(GgmlType.IQ4_XS);
    expect(DEQUANTIZABLE_TYPES).toContain(GgmlType.MXFP4);
    for (const type of [GgmlType.IQ2_XXS, GgmlType.Q8_K, GgmlType.I32, 999]) {
      expect(isDequantizable(type)).toBe(false);
    }
  });

  it('names the type, and the tensor when given', () => {
    const bytes = new Uint8Array(66);
    const thrown = (() => {
      try {
        dequantize(GgmlType.IQ2_XXS, bytes, 256, undefined, 'blk.0.ffn_down.weight');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(GgufError);
    expect((thrown as GgufError).code).toBe('unsupported-tensor-type');
    expect((thrown as GgufError).message).toMatch(/IQ2_XXS/);
    expect((thrown as GgufError).message).toMatch(/blk\.0\.ffn_down\.weight/);
    expect(() => assertDequantizable(999)).toThrow(/type#999/);
    expect(() => matvecRows(GgmlType.TQ1_0, bytes, 1, 256, new Float32Array(256))).toThrow(/TQ1_0/);
  });

  it('rejects partial blocks and short data', () => {
    expect(() => dequantize(GgmlType.Q4_0, new Uint8Array(18), 31)).toThrow(/blocks of 32/);
    expect(() => dequantize(GgmlType.Q4_0, new Uint8Array(17), 32)).toThrow(/needs 18 bytes/);
    expect(() => dequantize(GgmlType.Q4_0, new Uint8Array(18), 32, new Float32Array(16))).toThrow(RangeError);
  });
});
