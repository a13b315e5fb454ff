// Flash-decode's tiling and split-K tuning on an MLA shape (issue 22): a tiling of each threads-per-key, heads and
// keys-per-phase value, and every split count, are exact against the CPU attention over the latent rows; the stored
// choice is keyed apart from a K/V shape of the same sizes.
import { describe, expect, it } from 'vitest';
import { KernelContext } from '../../src/gpu/kernels/context';
import { decodeSplitKey, tuneFlashDecode } from '../../src/gpu/tuning/decode-split-tuning';
import { decodeTilingCandidates } from '../../src/gpu/kernels/attention-decode';
import { decodeDims } from '../../src/gpu/kernels/attention';
import { coveringTilings } from '../helpers/decode-tiling';
import { testDevice } from '../helpers/gpu';

describe('flash-decode split-K tuning, MLA', () => {
  it('f16 latent rows (32 + 16), 16 heads, 700 keys: every candidate is exact and timed', async () => {
    const ctx = new KernelContext(await testDevice());
    const shape = { nHeads: 16, nKvHeads: 1, headDim: 48, latentDim: 32, dtype: 'f16', context: 700 } as const;
    const limits = { software: ctx.caps.softwareAdapter, maxShared: ctx.caps.maxComputeWorkgroupStorageSize, maxInvocations: ctx.caps.maxComputeInvocationsPerWorkgroup };
    const tilings = coveringTilings(decodeTilingCandidates(decodeDims({ ...shape, maxBlocksPerSeq: 44 }), limits));
    const r = await tuneFlashDecode(ctx, shape, { budgetMs: 600_000, repeats: 1, tilings });
    expect(r.timings.length).toBeGreaterThan(1);
    expect(r.timings.filter((t) => t.ms === undefined)).toEqual([]);
    expect(r.error).toBeUndefined();
  }, 600_000);

  it('keys an MLA shape apart', () => {
    const s = { nHeads: 16, nKvHeads: 1, headDim: 576, dtype: 'f16', context: 2048 } as const;
    expect(decodeSplitKey('gpu', { ...s, latentDim: 512 })).not.toBe(decodeSplitKey('gpu', s));
  });
});
