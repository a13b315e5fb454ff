// f32 -> Q8_0 / Q4_0 / Q5_0 / Q4_K (src/gpu/quant/quantize.ts, quantize-k.ts): the bytes ggml writes for the same source
// (shared/models/quant-testvectors.gguf: `src`, 64 rows of 512 real weights, and ggml's w.T of it), round trips
// through our bit-exact dequantize, and Q4_K's structure on edge cases.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GgmlType } from '../../src/gpu/gguf/types';
import { dequantize, f16ToF32 } from '../../src/gpu/quant';
import { f32ToF16Bits } from '../../src/gpu/quant/half';
import { kMin, kScale } from '../../src/gpu/quant/kquants';
import { quantize, quantizedByteSize, type QuantizableType } from '../../src/gpu/quant/quantize';
import { gaussian } from '../../bench/synthetic';

const VECTORS = path.resolve(__dirname, '../../../shared/models/quant-testvectors.gguf');

/** RMS of (y - x) over RMS of x. */
function relativeRmsError(x: Float32Array, y: Float32Array): number {
  let err = 0;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    err += (y[i]! - x[i]!) ** 2;
    sum += x[i]! ** 2;
  }
  return Math.sqrt(err / sum);
}

function roundTrip(type: QuantizableType, x: Float32Array): { bytes: Uint8Array; y: Float32Array } {
  const bytes = quantize(type, x);
  expect(bytes.length).toBe(quantizedByteSize(type, x.length));
  return { bytes, y: dequantize(type, bytes, x.length) };
}

/** One Q4_K block's header: f16 d and dmin, and the 8 unpacked 6-bit scale/min pairs. */
function q4kHeader(bytes: Uint8Array, block: number): { d: number; dmin: number; scales: number[]; mins: number[] } {
  const at = 144 * block;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const scales = [...Array(8).keys()].map((j) => kScale(bytes, at + 4, j));
  const mins = [...Array(8).keys()].map((j) => kMin(bytes, at + 4, j));
  return { d: f16ToF32(view.getUint16(at, true)), dmin: f16ToF32(view.getUint16(at + 2, true)), scales, mins };
}

/**
 * Every decoded value is a nearest point of its 32-value sub-block's grid (d * sc) * q - dmin * m, q = 0..15: the
 * final requantization pass rounds (x + ml) / dl to the nearest level. A sub-block whose scale is 0 is skipped.
 */
function expectNearestGridPoints(x: Float32Array, bytes: Uint8Array, y: Float32Array): void {
  for (let b = 0; b < x.length / 256; b++) {
    const { d, dmin, scales, mins } = q4kHeader(bytes, b);
    for (let j = 0; j < 8; j++) {
      const dl = Math.fround(d * scales[j]!);
      const ml = Math.fround(dmin * mins[j]!);
      if (!dl) continue;
      for (let i = 256 * b + 32 * j; i < 256 * b + 32 * j + 32; i++) {
        let nearest = Infinity;
        for (let q = 0; q < 16; q++) nearest = Math.min(nearest, Math.abs(Math.fround(dl * q) - ml - x[i]!));
        expect(Math.abs(y[i]! - x[i]!), `value ${i}`).toBeLessThanOrEqual(nearest + 1e-6 * dl);
      }
    }
  }
}

describe('quantize writes the bytes ggml writes', () => {
  let file: GgufFile;
  let src: Float32Array;
  beforeAll(async () => {
    file = GgufFile.fromBytes(new Uint8Array(readFileSync(VECTORS)));
    src = new Float32Array((await file.tensorBytes(file.requireTensor('src'))).slice().buffer);
  });

  it.each([
    ['q8_0', GgmlType.Q8_0],
    ['q4_0', GgmlType.Q4_0],
    ['q5_0', GgmlType.Q5_0],
    ['q4_K', GgmlType.Q4_K],
  ] as const)('%s of 64 rows of 512 real weights', async (name, type) => {
    const info = file.requireTensor(`w.${name}`);
    expect(info.type).toBe(type);
    const want = await file.tensorBytes(info);
    const got = quantize(type, src);
    expect(got.length).toBe(want.length);
    const first = got.findIndex((byte, i) => byte !== want[i]);
    expect(first, `first differing byte ${first}: ${got[first]} vs ggml ${want[first]}`).toBe(-1);
  });
});

describe('f32ToF16Bits', () => {
  it('is the inverse of f16ToF32 on every non-NaN f16', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0) continue;
      expect(f32ToF16Bits(f16ToF32(bits))).toBe(bits);
    }
  });

  it('rounds halfway cases to even, subnormals included, and overflows to infinity', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway 1 .. 1 + 2^-10: to even 1
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 1 + 2^-10 .. 1 + 2^-9: to even
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // past halfway
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // half the smallest subnormal: to even 0
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(f32ToF16Bits(2 ** -25 + 2 ** -40)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the smallest normal
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(NaN) & 0x7e00).toBe(0x7e00);
  });
});

describe('quantize Q4_K', () => {
  it('round trips Gaussian data within 7.5% relative RMS error (ggml: 7.1%; 7.1% on the real weights too)', () => {
    // 4 bits over the range of 32 Gaussian values, about 4 sigma: a step of about 0.27 sigma, so ~0.078 sigma of
    // uniform rounding error, a little less after the weighted least-squares fit. Measured: 0.0713.
    const x = gaussian(256 * 64, 7, 0.02);
    const { bytes, y } = roundTrip(GgmlType.Q4_K, x);
    expect(relativeRmsError(x, y)).toBeLessThan(0.075);
    expectNearestGridPoints(x, bytes, y);
  });

  it('encodes an all-zero block as all-zero bytes', () => {
    const { bytes, y } = roundTrip(GgmlType.Q4_K, new Float32Array(512));
    expect(bytes.every((b) => b === 0)).toBe(true);
    expect(y.every((v) => v === 0)).toBe(true);
  });

  it.each([0.75, -0.75])('reproduces a constant block of %d', (c) => {
    const x = new Float32Array(256).fill(c);
    const { y } = roundTrip(GgmlType.Q4_K, x);
    // d (c > 0) or dmin (c < 0) carries |c| / 945 or |c| / 63 in f16, 11 significant bits.
    for (const v of y) expect(Math.abs(v - c)).toBeLessThan(2 ** -10 * Math.abs(c));
  });

  it('loses precision as ggml does where d falls to an f16 subnormal', () => {
    // c / (15 * 63) = 3.2e-6 is below f16's smallest normal (6.1e-5): d keeps steps of 2^-24 only.
    const c = 3e-3;
    const { bytes, y } = roundTrip(GgmlType.Q4_K, new Float32Array(256).fill(c));
    expect(q4kHeader(bytes, 0).d).toBeLessThan(2 ** -14);
    for (const v of y) expect(Math.abs(v - c)).toBeLessThan(15 * 63 * 2 ** -25);
  });

  it('keeps a single outlier and the nearest grid point for every other value', () => {
    const x = gaussian(256, 11, 0.02);
    x[77] = 1; // 50 sigma, in sub-block 2
    const { bytes, y } = roundTrip(GgmlType.Q4_K, x);
    // The outlier's sub-block spans about [-0.05, 1] in 15 steps: within half a step of 0.07.
    expect(Math.abs(y[77]! - 1)).toBeLessThan(0.035);
    expectNearestGridPoints(x, bytes, y);
    // The other sub-blocks keep their own (6-bit) scales: far better than the outlier's step.
    const rest = [...Array(8).keys()].filter((j) => j !== 2).flatMap((j) => [...Array(32).keys()].map((i) => 32 * j + i));
    expect(relativeRmsError(Float32Array.from(rest, (i) => x[i]!), Float32Array.from(rest, (i) => y[i]!))).toBeLessThan(0.1);
  });

  it('handles negative-only values through the min', () => {
    const x = gaussian(512, 5, 0.1).map((v) => -0.5 - Math.abs(v));
    const { bytes, y } = roundTrip(GgmlType.Q4_K, x);
    expect(y.every((v) => v < 0)).toBe(true);
    expect(relativeRmsError(x, y)).toBeLessThan(0.02);
    expectNearestGridPoints(x, bytes, y);
    for (let b = 0; b < 2; b++) expect(q4kHeader(bytes, b).dmin).toBeGreaterThan(0);
  });

  it('fits values far above zero from a grid that starts near 0', () => {
    // make_qkx2_quants starts from [min(x, 0), max] and clamps a fitted positive offset back to 0, so values in
    // [1.05, 1.95] get steps of about 1.95 / 15, not 0.9 / 15 (the fit may still pick a small negative offset).
    const x = gaussian(256 * 4, 3, 0.1).map((v) => 1.5 + Math.min(0.45, Math.max(-0.45, v)));
    const { bytes, y } = roundTrip(GgmlType.Q4_K, x);
    expectNearestGridPoints(x, bytes, y);
    expect(relativeRmsError(x, y)).toBeLessThan(0.03);
    for (let b = 0; b < 4; b++) {
      const { d, dmin, scales, mins } = q4kHeader(bytes, b);
      for (let j = 0; j < 8; j++) {
        expect(d * scales[j]! * 15).toBeGreaterThan(1.5);
        expect(dmin * mins[j]!).toBeLessThan(0.5);
      }
    }
  });

  it('stores f16 d and dmin with the largest sub-block scale and min at 63', () => {
    const x = gaussian(256 * 16, 9, 0.05);
    const bytes = quantize(GgmlType.Q4_K, x);
    expect(bytes.length).toBe(16 * 144);
    for (let b = 0; b < 16; b++) {
      const { d, dmin, scales, mins } = q4kHeader(bytes, b);
      expect(Number.isFinite(d) && d > 0).toBe(true);
      expect(Number.isFinite(dmin) && dmin > 0).toBe(true);
      expect(Math.max(...scales)).toBe(63);
      expect(Math.max(...mins)).toBe(63);
      expect([...scales, ...mins].every((s) => Number.isInteger(s) && s >= 0 && s < 64)).toBe(true);
      // d = max scale / 63: the largest sub-block step covers its 32 values' range in 15 levels.
      let range = 0;
      for (let j = 0; j < 8; j++) {
        const sub = x.subarray(256 * b + 32 * j, 256 * b + 32 * j + 32);
        range = Math.max(range, Math.max(...sub) - Math.min(0, ...sub));
      }
      expect(d * 63 * 15).toBeGreaterThan(0.7 * range);
      expect(d * 63 * 15).toBeLessThan(1.2 * range);
    }
  });

  it('uses every 4-bit level on Gaussian data, low nibbles and high nibbles alike', () => {
    const bytes = quantize(GgmlType.Q4_K, gaussian(256 * 8, 13));
    const low = new Set<number>();
    const high = new Set<number>();
    for (let b = 0; b < 8; b++) {
      for (const byte of bytes.subarray(144 * b + 16, 144 * b + 144)) {
        low.add(byte & 0x0f);
        high.add(byte >> 4);
      }
    }
    expect(low.size).toBe(16);
    expect(high.size).toBe(16);
  });

  it('refuses a length that is not whole 256-value super-blocks', () => {
    expect(() => quantize(GgmlType.Q4_K, new Float32Array(576))).toThrow(RangeError);
    expect(() => quantize(GgmlType.Q4_K, new Float32Array(576))).toThrow(/576 values are not whole 256-value blocks/);
    expect(() => quantize(GgmlType.Q4_0, new Float32Array(40))).toThrow(/whole 32-value blocks/);
  });
});

describe('quantize Q8_0 / Q4_0 / Q5_0', () => {
  it.each([
    [GgmlType.Q8_0, 0.006],
    [GgmlType.Q4_0, 0.09],
    [GgmlType.Q5_0, 0.045],
  ] as const)('type %d round trips Gaussian data within %d relative RMS error', (type, bound) => {
    const x = gaussian(32 * 256, 21, 0.02);
    expect(relativeRmsError(x, roundTrip(type, x).y)).toBeLessThan(bound);
  });

  it('Q8_0 rounds halfway quants away from zero, as C roundf', () => {
    const x = new Float32Array(32);
    x[0] = 127; // d = 1
    x[1] = 2.5;
    x[2] = -2.5;
    const bytes = quantize(GgmlType.Q8_0, x);
    expect(new Int8Array(bytes.buffer, 2, 3)).toEqual(Int8Array.of(127, 3, -3));
  });
});
