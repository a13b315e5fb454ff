// Flash-decode's split-K chosen by measuring: every split count offered is exact against the CPU attention on this
// driver, the choice is stored and reused, and a context with an applied keys-per-split splits accordingly.
import { describe, expect, it } from 'vitest';
import { decodeKeysPerSplitOf, DEFAULT_DECODE_KEYS_PER_SPLIT, flashDecodeGqa, useDecodeKeysPerSplit } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { tunedDecodeKeysPerSplit, tuneDecodeSplits } from '../../src/gpu/tuning/decode-split-tuning';
import { memoryTuningStore } from '../../src/gpu/tuning/tuning-store';
import { testDevice } from '../helpers/gpu';

describe('flash-decode split-K tuning', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype} KV, 700 keys, GQA 3:1: every candidate split count is exact and timed`, async () => {
      const ctx = new KernelContext(await testDevice());
      const r = await tuneDecodeSplits(ctx, { nHeads: 9, nKvHeads: 3, headDim: 64, dtype, context: 700 }, { budgetMs: 60_000, repeats: 1 });
      // 64 … 1024 keys a split at 700 keys: 11, 6, 3, 2 and 1 splits.
      expect(r.timings.map((t) => t.key)).toEqual(['kps256', 'kps64', 'kps128', 'kps512', 'kps1024']);
      expect(r.timings.every((t) => t.ms !== undefined)).toBe(true);
      expect([64, 128, 256, 512, 1024]).toContain(r.keysPerSplit);
    });
  }

  it('stores the choice per device and shape and reuses it', async () => {
    const gpu = await testDevice();
    const ctx = new KernelContext(gpu);
    const store = memoryTuningStore();
    const shape = { nHeads: 4, nKvHeads: 2, headDim: 32, dtype: 'f32', context: 300 } as const;
    const first = await tunedDecodeKeysPerSplit(ctx, gpu.adapterDescription, shape, { store, budgetMs: 60_000 });
    expect(first.source).toBe('measured');
    expect([...store.entries.values()]).toEqual([`kps${first.keysPerSplit}`]);
    expect(await tunedDecodeKeysPerSplit(ctx, gpu.adapterDescription, shape, { store, budgetMs: 60_000 })).toEqual({ keysPerSplit: first.keysPerSplit, source: 'stored' });
    expect(await tunedDecodeKeysPerSplit(ctx, gpu.adapterDescription, shape, { store: memoryTuningStore(), budgetMs: 0, measure: false })).toEqual({ keysPerSplit: DEFAULT_DECODE_KEYS_PER_SPLIT, source: 'default' });
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
