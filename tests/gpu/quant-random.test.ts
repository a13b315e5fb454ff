// CPU dequantization against ggml's reference (gguf-py) on random blocks: tests/fixtures/quant-random-blocks.gguf,
// written by scripts/make-quant-vectors.py. For each type T, w.T (16 rows of 512, every scale finite, subnormal f16
// and E8M0 scales included) and w.T.deq (ggml's dequantization, F32). Bit-for-bit, like quant.test.ts on real weights.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GgmlType } from '../../src/gpu/gguf/types';
import { dequantize, KVALUES_MXFP4 } from '../../src/gpu/quant';
import { e8m0ToF32Half } from '../../src/gpu/quant/legacy';

const FIXTURE = path.resolve(__dirname, '../fixtures/quant-random-blocks.gguf');
const file = GgufFile.fromBytes(new Uint8Array(readFileSync(FIXTURE)));

const TYPES: ReadonlyArray<[name: string, type: GgmlType]> = [
  ['q2_K', GgmlType.Q2_K],
  ['q3_K', GgmlType.Q3_K],
  ['iq4_nl', GgmlType.IQ4_NL],
  ['iq4_xs', GgmlType.IQ4_XS],
  ['mxfp4', GgmlType.MXFP4],
];

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

describe('dequantize matches ggml bit for bit on random blocks', () => {
  it.each(TYPES)('%s', async (name, type) => {
    const info = file.requireTensor(`w.${name}`);
    expect(info.type).toBe(type);
    expect(info.dims).toEqual([512, 16]);
    const want = new Float32Array((await file.tensorBytes(file.requireTensor(`w.${name}.deq`))).slice().buffer);
    const got = dequantize(type, await file.tensorBytes(info), info.elementCount);
    const [g, w] = [bitsOf(got), bitsOf(want)];
    const i = g.findIndex((bits, k) => bits !== w[k]);
    expect(i, i < 0 ? '' : `element ${i}: got ${got[i]}, ggml ${want[i]}`).toBe(-1);
  });
});

describe('MXFP4 scale and values', () => {
  it('E8M0 scale e is 2^(e - 128), subnormal for e < 2', () => {
    expect(e8m0ToF32Half(128)).toBe(1);
    expect(e8m0ToF32Half(127)).toBe(0.5);
    expect(e8m0ToF32Half(2)).toBe(2 ** -126);
    expect(e8m0ToF32Half(1)).toBe(2 ** -127);
    expect(e8m0ToF32Half(0)).toBe(2 ** -128);
    expect(e8m0ToF32Half(254)).toBe(2 ** 126);
  });

  it('decodes a hand-made block: low nibbles are elements 0..15, high nibbles 16..31', () => {
    const block = new Uint8Array(17);
    block[0] = 129; // d = 2
    for (let j = 0; j < 16; j++) block[1 + j] = j | ((15 - j) << 4);
    const got = dequantize(GgmlType.MXFP4, block, 32);
    for (let j = 0; j < 16; j++) {
      expect(got[j]).toBe(2 * KVALUES_MXFP4[j]!);
      expect(got[16 + j]).toBe(2 * KVALUES_MXFP4[15 - j]!);
    }
  });
});
