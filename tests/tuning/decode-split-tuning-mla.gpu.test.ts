// Flash-decode's split-K tuning on an MLA shape (issue 22): every split count it offers is exact against the CPU
// attention over the latent rows, and the stored choice is keyed apart from a K/V shape of the same sizes.
import { describe, expect, it } from 'vitest';
import { KernelContext } from '../../src/gpu/kernels/context';
import { decodeSplitKey, tuneDecodeSplits } from '../../src/gpu/tuning/decode-split-tuning';
import { testDevice } from '../helpers/gpu';

describe('flash-decode split-K tuning, MLA', () => {
  it('f16 latent rows (32 + 16), 16 heads, 700 keys: every candidate is exact and timed', async () => {
    const ctx = new KernelContext(await testDevice());
    const r = await tuneDecodeSplits(ctx, { nHeads: 16, nKvHeads: 1, headDim: 48, latentDim: 32, dtype: 'f16', context: 700 }, { budgetMs: 60_000, repeats: 1 });
    expect(r.timings.length).toBeGreaterThan(1);
    expect(r.timings.every((t) => t.ms !== undefined)).toBe(true);
    expect(r.error).toBeUndefined();
  });

  it('keys an MLA shape apart', () => {
    const s = { nHeads: 16, nKvHeads: 1, headDim: 576, dtype: 'f16', context: 2048 } as const;
    expect(decodeSplitKey('gpu', { ...s, latentDim: 512 })).not.toBe(decodeSplitKey('gpu', s));
  });
});
