// Synthetic benchmark models (bench/synthetic.ts): a Q4_K file takes llama.cpp's per-tensor fallback and reads back
// as a valid GGUF whose matrices decode to the Gaussian weights they were written from.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { matrixType, SHAPES, syntheticModel } from '../../bench/synthetic';
import { openGgufFile } from '../../src/node/file-source';
import { GgmlType } from '../../src/gpu/gguf/types';
import { dequantize } from '../../src/gpu/quant';

describe('synthetic models', () => {
  it('falls back from Q4_K to Q5_0 where a row is not whole 256-value blocks, as llama-quantize does', () => {
    expect(matrixType(GgmlType.Q4_K, 576)).toBe(GgmlType.Q5_0);
    expect(matrixType(GgmlType.Q4_K, 1536)).toBe(GgmlType.Q4_K);
    expect(matrixType(GgmlType.Q4_K, 2048)).toBe(GgmlType.Q4_K);
    expect(matrixType(GgmlType.Q4_0, 576)).toBe(GgmlType.Q4_0);
    expect(() => matrixType(GgmlType.Q4_K, 100)).toThrow(RangeError);
  });

  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a tiny Q4_K model that reads back with the expected types and weights', async () => {
    dir = await mkdtemp(join(tmpdir(), 'synthetic-q4k-'));
    const shape = SHAPES.tiny!;
    const path = await syntheticModel(dir, shape, GgmlType.Q4_K);
    const { file, close } = await openGgufFile(path);
    try {
      const types = new Map(file.header.tensors.map((t) => [t.name, t.type]));
      expect(types.size).toBe(2 + 9 * shape.layers + 1);
      for (const [name, type] of types) {
        if (name.endsWith('norm.weight')) expect(type, name).toBe(GgmlType.F32);
        else if (name.endsWith('ffn_down.weight')) expect(type, name).toBe(GgmlType.Q4_K); // 1536 wide
        else expect(type, name).toBe(GgmlType.Q5_0); // 576 wide
      }
      // ffn_down was written as N(0, 0.02 * sqrt(576 / 1536)); Q4_K keeps its RMS to well within 1%.
      const down = file.requireTensor('blk.3.ffn_down.weight');
      expect(down.dims).toEqual([shape.ffn, shape.dim]);
      const values = dequantize(down.type, await file.tensorBytes(down), down.elementCount);
      const rms = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
      expect(rms).toBeGreaterThan(0.02 * Math.sqrt(576 / 1536) * 0.98);
      expect(rms).toBeLessThan(0.02 * Math.sqrt(576 / 1536) * 1.02);
    } finally {
      await close();
    }
  });
});
