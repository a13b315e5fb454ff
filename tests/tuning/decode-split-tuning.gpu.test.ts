// Flash-decode's tiling and split-K chosen by measuring: every tiling and split count offered is exact against the
// CPU attention on this driver, the choice is stored and reused, and a context with an applied keys-per-split splits
// accordingly.
import { describe, expect, it } from 'vitest';
import { decodeTilingCandidates, decodeTilingKey, defaultDecodeTiling } from '../../src/gpu/kernels/attention-decode';
import { decodeDims, decodeKeysPerSplitOf, DEFAULT_DECODE_KEYS_PER_SPLIT, flashDecodeGqa, useDecodeKeysPerSplit } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { decodeChoiceKey, tunedFlashDecode, tuneFlashDecode } from '../../src/gpu/tuning/decode-split-tuning';
import { memoryTuningStore } from '../../src/gpu/tuning/tuning-store';
import { coveringTilings } from '../helpers/decode-tiling';
import { testDevice } from '../helpers/gpu';

describe('flash-decode split-K tuning', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype} KV, 700 keys, GQA 3:1: a tiling of each threads-per-key, heads and keys-per-phase value and every split count are exact and timed`, async () => {
      const ctx = new KernelContext(await testDevice());
      const shape = { nHeads: 9, nKvHeads: 3, headDim: 64, dtype, context: 700 } as const;
      const dims = decodeDims({ ...shape, maxBlocksPerSeq: 44 });
      const limits = { software: ctx.caps.softwareAdapter, maxShared: ctx.caps.maxComputeWorkgroupStorageSize, maxInvocations: ctx.caps.maxComputeInvocationsPerWorkgroup };
      const offered = decodeTilingCandidates(dims, limits);
      const fixed = defaultDecodeTiling(dims, limits.software, limits.maxShared);
      expect(offered[0]).toEqual(fixed);
      expect(offered.some((t) => t.keysPerPhase === 32)).toBe(true);
      const tilings = coveringTilings(offered);
      const r = await tuneFlashDecode(ctx, shape, { budgetMs: 600_000, repeats: 1, tilings });
      // Round 1: every tiling at 256 keys a split, the fixed rule first; round 2: the winner at 64 … 1024 keys a
      // split (11, 6, 3, 2 and 1 splits at 700 keys, GQA 3:1 in one tile).
      const keys = r.timings.map((t) => t.key);
      expect(keys.slice(0, tilings.length)).toEqual(tilings.map((t) => `${decodeTilingKey(t)}.kps256`));
      const winner = keys[tilings.length]!.replace(/\.kps\d+$/, '');
      expect(keys.slice(tilings.length)).toEqual([64, 128, 512, 1024].map((kps) => `${winner}.kps${kps}`));
      // Exact: nothing skipped as inexact or failed, and nothing left out by the budget.
      expect(r.timings.filter((t) => t.ms === undefined)).toEqual([]);
      expect(r.chosen).toBe(decodeChoiceKey(r));
      expect(r.chosenMs! <= r.defaultMs!).toBe(true);
    }, 600_000);
  }

  it('stores the choice per device and shape and reuses it', async () => {
    const gpu = await testDevice();
    const ctx = new KernelContext(gpu);
    const store = memoryTuningStore();
    const shape = { nHeads: 4, nKvHeads: 2, headDim: 32, dtype: 'f32', context: 300 } as const;
    const dims = decodeDims({ ...shape, maxBlocksPerSeq: 19 });
    const fixed = defaultDecodeTiling(dims, gpu.caps.softwareAdapter, gpu.caps.maxComputeWorkgroupStorageSize);
    const tilings = [fixed, { ...fixed, keysPerPhase: 32 as const }];
    const first = await tunedFlashDecode(ctx, gpu.adapterDescription, shape, { store, budgetMs: 60_000, tilings });
    expect(first.source).toBe('measured');
    expect([...store.entries.values()]).toEqual([decodeChoiceKey(first)]);
    expect(await tunedFlashDecode(ctx, gpu.adapterDescription, shape, { store, budgetMs: 60_000 })).toEqual({ tiling: first.tiling, keysPerSplit: first.keysPerSplit, source: 'stored' });
    expect(await tunedFlashDecode(ctx, gpu.adapterDescription, shape, { store: memoryTuningStore(), budgetMs: 0, measure: false })).toEqual({ tiling: fixed, keysPerSplit: DEFAULT_DECODE_KEYS_PER_SPLIT, source: 'default' });
    // A choice stored before tilings were tuned (keys per split only) is measured again.
    const old = memoryTuningStore();
    await old.set([...store.entries.keys()][0]!, 'kps512');
    expect((await tunedFlashDecode(ctx, gpu.adapterDescription, shape, { store: old, budgetMs: 60_000, tilings })).source).toBe('measured');
  });

  it('an applied keys-per-split sets the split count flash-decode picks', async () => {
    const ctx = new KernelContext(await testDevice());
    const shape = { nHeads: 4, nKvHeads: 2, headDim: 32, dtype: 'f32', maxBlocksPerSeq: 64 } as const;
    const bufs = {
      q: ctx.storage(4 * 32 * 4, 'q'),
      pool: ctx.storage(64 * 2 * 2 * 16 * 32 * 4, 'pool'),
      blockTables: ctx.upload(Uint32Array.from({ length: 64 }, (_, i) => i), 'bt'),
      tokenSeq: ctx.upload(new Uint32Array([0]), 'seq'),
      tokenPos: ctx.upload(new Uint32Array([1000]), 'pos'),
      o: ctx.storage(4 * 32 * 4, 'o'),
    };
    const splits = (): number => {
      let n = 0;
      ctx.run((pass) => (n = flashDecodeGqa(ctx, pass, shape, bufs, { nTokens: 1, maxContext: 1001 }).splits));
      return n;
    };
    expect(splits()).toBe(4); // 1001 keys / 256
    useDecodeKeysPerSplit(ctx, 64);
    expect(decodeKeysPerSplitOf(ctx)).toBe(64);
    expect(splits()).toBe(16);
    useDecodeKeysPerSplit(ctx, undefined);
    expect(splits()).toBe(4);
    expect(() => useDecodeKeysPerSplit(ctx, 3)).toThrow(/keys per split/);
    ctx.checkErrors();
  });
});
