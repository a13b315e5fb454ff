// The fit estimate: KV bytes by the formula, the working set, and the labels at the edges of memory and of the
// GPU's buffer limits, with reasons a user can act on.
import { describe, expect, it } from 'vitest';
import { contextChoices, estimateFit, kvCacheBytes, workingBytes, type FitDevice, type FitModel } from '../../src/shared/model-fit';

const GiB = 2 ** 30;
// Llama 3.2 1B Q4_K_M: 16 layers, 8 KV heads of 64, 2048 wide, 128256 tokens; about 0.75 GiB of weights.
const llama1b: FitModel = { weightsBytes: 0.75 * GiB, largestTensorBytes: 0.2 * GiB, layers: 16, kvHeads: 8, headDim: 64, dim: 2048, vocabSize: 128256 };
const desktop: FitDevice = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB, memoryBytes: 16 * GiB };

describe('estimateFit', () => {
  it('KV cache = 2 * layers * kvHeads * headDim * bytes per value * context', () => {
    expect(kvCacheBytes(llama1b, { contextLength: 4096, kvType: 'f16' })).toBe(2 * 16 * 8 * 64 * 2 * 4096); // 128 MiB
    expect(kvCacheBytes(llama1b, { contextLength: 4096, kvType: 'f32' })).toBe(2 * 16 * 8 * 64 * 4 * 4096);
  });

  it('adds weights, KV and working buffers, and a small model fits a desktop', () => {
    const f = estimateFit(llama1b, desktop, { contextLength: 4096, kvType: 'f16' });
    expect(f.totalBytes).toBe(llama1b.weightsBytes + 128 * 2 ** 20 + workingBytes(llama1b));
    expect(f.label).toBe('fits');
    expect(f.reason).toMatch(/^needs about \d+ MB of 16.0 GB memory \(weights 768 MB, KV cache 128 MB at 4096 tokens \(f16\), buffers \d+ MB\)$/);
  });

  it('is tight above 60% of memory and will not fit above 90%', () => {
    const big: FitModel = { ...llama1b, weightsBytes: 11 * GiB };
    expect(estimateFit(big, desktop, { contextLength: 4096, kvType: 'f16' }).label).toBe('tight');
    const huge: FitModel = { ...llama1b, weightsBytes: 15 * GiB };
    const f = estimateFit(huge, desktop, { contextLength: 4096, kvType: 'f16' });
    expect(f.label).toBe('wont-fit');
    expect(f.reason).toContain('of 16.0 GB memory');
  });

  it('a longer context can push a model from fits to tight to won’t fit', () => {
    const labels = [4096, 65536, 131072].map((contextLength) => estimateFit({ ...llama1b, weightsBytes: 7 * GiB }, desktop, { contextLength, kvType: 'f32' }).label);
    expect(labels).toEqual(['fits', 'tight', 'wont-fit']);
  });

  it('splits a tensor larger than one buffer the way the engine loads it: only a row, an expert or a layer of KV must fit', () => {
    const small: FitDevice = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20, memoryBytes: null };
    // A 205 MB embedding (128K vocabulary) on a 128 MB binding: uploaded as two row ranges, so it fits.
    const rows = { ...llama1b, largestUnitBytes: 2048 * 1.0625 }; // one Q8_0 row of 2048
    const f = estimateFit(rows, small, { contextLength: 4096, kvType: 'f16' });
    expect(f.label).toBe('fits');
    expect(f.reason).toMatch(/^needs about .* memory \(/);
    // One row (or expert) over the binding cannot be split.
    const wide = estimateFit({ ...llama1b, largestUnitBytes: 130 * 2 ** 20 }, small, { contextLength: 4096, kvType: 'f16' });
    expect(wide.label).toBe('wont-fit');
    expect(wide.reason).toBe("one row or expert of its weights (130 MB) is over this GPU's largest buffer (128 MB), and the engine splits tensors only between rows and experts");
    // The loaders keep a spare word per buffer: a unit of exactly the limit does not fit either.
    expect(estimateFit({ ...llama1b, largestUnitBytes: 128 * 2 ** 20 }, small, { contextLength: 512, kvType: 'f16' }).label).toBe('wont-fit');
    const kv = estimateFit(rows, small, { contextLength: 131072, kvType: 'f32' });
    expect(kv.label).toBe('wont-fit');
    expect(kv.reason).toMatch(/^one layer's KV cache at 131072 tokens \(512 MB\) is over .*choose a shorter context$/);
    // An expert close to the binding limit: tight.
    const near = estimateFit({ ...llama1b, largestUnitBytes: 110 * 2 ** 20 }, small, { contextLength: 512, kvType: 'f16' });
    expect(near.label).toBe('tight');
  });
});

describe('load options', () => {
  it('offers the model context and the powers of two below it down to 512', () => {
    expect(contextChoices(131072)).toEqual([131072, 65536, 32768, 16384, 8192, 4096, 2048, 1024, 512]);
    expect(contextChoices(40960)).toEqual([40960, 32768, 16384, 8192, 4096, 2048, 1024, 512]);
    expect(contextChoices(2048)).toEqual([2048, 1024, 512]);
    expect(contextChoices(512)).toEqual([512]);
    expect(contextChoices(256)).toEqual([256]);
  });

  it('sizes q8_0 and q4_0 KV as llama.cpp blocks: 34 and 18 bytes per 32 values', () => {
    const m = { layers: 16, kvHeads: 8, headDim: 64 };
    const f16 = kvCacheBytes(m, { contextLength: 4096, kvType: 'f16' });
    expect(kvCacheBytes(m, { contextLength: 4096, kvType: 'q8_0' })).toBe((f16 / 2 / 32) * 34);
    expect(kvCacheBytes(m, { contextLength: 4096, kvType: 'q4_0' })).toBe((f16 / 2 / 32) * 18);
  });
});
