// The MLA KV layout (issue 22): a block holds one kind, each token's row [latent | k_pe]; V is a view of the latent.
import { describe, expect, it } from 'vitest';
import { blockBytes, blockElements, checkKvLayout, kvElementIndex, kvKinds, layerBlockBytes, quantBlockIndex, quantRowBlocks, valueDim, type KvLayout } from '../../src/gpu/kv/layout';
import { layoutKey } from '../../src/gpu/kv/swap';

const V2_LITE: KvLayout = { nLayers: 27, nKvHeads: 1, headDim: 576, latentDim: 512, dtype: 'f16' };

describe('MLA KV layout', () => {
  it('sizes a block as one kind of 576-value rows', () => {
    expect(kvKinds(V2_LITE)).toBe(1);
    expect(kvKinds({ ...V2_LITE, latentDim: undefined })).toBe(2);
    expect(valueDim(V2_LITE)).toBe(512);
    expect(blockElements(V2_LITE)).toBe(16 * 576);
    // 27 layers x 576 values x 2 bytes = 31,104 bytes a token (issue 22's "~31 KiB at f16").
    expect(blockBytes(V2_LITE) / 16).toBe(27 * 576 * 2);
    expect(quantRowBlocks(V2_LITE)).toBe(18);
    expect(layerBlockBytes({ ...V2_LITE, dtype: 'q8_0' })).toBe(16 * 18 * 34);
    expect(layerBlockBytes({ ...V2_LITE, dtype: 'q4_0' })).toBe(16 * 18 * 18);
  });

  it('indexes rows block after block; V names the latent of the same row', () => {
    expect(kvElementIndex(V2_LITE, 3, 0, 0, 5, 7)).toBe(3 * 16 * 576 + 5 * 576 + 7);
    expect(kvElementIndex(V2_LITE, 3, 1, 0, 5, 7)).toBe(kvElementIndex(V2_LITE, 3, 0, 0, 5, 7));
    expect(() => kvElementIndex(V2_LITE, 3, 1, 0, 5, 512)).toThrow(/512 dims, not dim 512/);
    expect(quantBlockIndex(V2_LITE, 3, 0, 5, 2)).toBe((3 * 16 + 5) * 18 + 2);
    expect(quantBlockIndex(V2_LITE, 3, 1, 5, 2)).toBe(quantBlockIndex(V2_LITE, 3, 0, 5, 2));
  });

  it('refuses what is not one row of whole vec4s holding its latent', () => {
    expect(() => checkKvLayout(V2_LITE)).not.toThrow();
    expect(() => checkKvLayout({ ...V2_LITE, nKvHeads: 2 })).toThrow(/one KV head/);
    expect(() => checkKvLayout({ ...V2_LITE, latentDim: 600 })).toThrow(/latentDim 600/);
    expect(() => checkKvLayout({ ...V2_LITE, latentDim: 30 })).toThrow(/latentDim 30/);
    expect(() => checkKvLayout({ ...V2_LITE, headDim: 48, latentDim: 32, dtype: 'q8_0' })).toThrow(/multiple of 32/);
  });

  it('keys MLA blocks apart from every K/V layout of the same sizes', () => {
    expect(layoutKey(V2_LITE)).toBe('f16:27x1x576x16:mla512');
    expect(layoutKey({ ...V2_LITE, latentDim: undefined })).toBe('f16:27x1x576x16');
    expect(layoutKey({ ...V2_LITE, latentDim: 448 })).not.toBe(layoutKey(V2_LITE));
  });
});
