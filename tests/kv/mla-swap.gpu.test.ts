// MLA KV blocks (issue 22: one latent row a token, one kind a block) through every tier: appendKv writes real rows
// into a GPU pool of each layer, the cache evicts the blocks to RAM and on to a real SQLite store, and a fresh
// cache over a fresh pool (the app restarted) resumes them from disk. The bytes that come back into the pool
// must be the very bytes appendKv wrote.
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelContext } from '../../src/gpu/kernels/context';
import { appendKv } from '../../src/gpu/kernels/kv-append';
import { KvCache, layoutRecord } from '../../src/gpu/kv/cache';
import { blockBytes, KV_BLOCK_TOKENS, type KvLayout } from '../../src/gpu/kv/layout';
import { KvPool } from '../../src/gpu/kv/pool';
import { layoutKey, readBlocks, writeBlocks } from '../../src/gpu/kv/swap';
import { KvBlockStore } from '../../src/store/kv-store';
import { uniformArray } from '../helpers/attention-ref';
import { testDevice } from '../helpers/gpu';
import { mulberry32 } from '../helpers/numeric';
import { tempDb } from '../helpers/temp';

let ctx: KernelContext;
beforeAll(async () => {
  ctx = new KernelContext(await testDevice());
});

const BLOCKS = 3; // full blocks the conversation fills
const POOL_BLOCKS = 5;

function cacheOver(pool: KvPool, store: KvBlockStore): KvCache {
  return new KvCache({
    numBlocks: pool.blocks,
    layout: pool.layout,
    modelFingerprint: 'mla-swap-test',
    ramBytes: 0, // RAM passes every evicted block straight on to SQLite
    store,
    io: {
      copy: () => {
        throw new Error('no copy-on-write expected here');
      },
      readOut: (slots) => readBlocks(ctx, pool, slots),
      writeIn: (blocks) => writeBlocks(ctx, pool, blocks),
    },
  });
}

/** Appends `nTokens` random latent rows to every layer of `pool` at positions 0.. of one sequence with block table `table`. */
function appendRows(pool: KvPool, table: readonly number[], nTokens: number, seed: number): void {
  const { headDim, latentDim, dtype } = pool.layout;
  const rand = mulberry32(seed);
  const bufs = {
    blockTables: ctx.upload(Uint32Array.from(table), 'blockTables'),
    tokenSeq: ctx.upload(new Uint32Array(nTokens), 'tokenSeq'),
    tokenPos: ctx.upload(Uint32Array.from({ length: nTokens }, (_, i) => i), 'tokenPos'),
  };
  const ks = pool.layers.map(() => ctx.upload(uniformArray(rand, nTokens * headDim), 'k'));
  ctx.run((pass) => {
    pool.layers.forEach((layer, l) => {
      appendKv(ctx, pass, { nKvHeads: 1, headDim, latentDim, dtype, maxBlocksPerSeq: table.length }, { ...bufs, k: ks[l]!, pool: layer }, nTokens);
    });
  });
  for (const b of [...Object.values(bufs), ...ks]) b.destroy();
}

describe('MLA blocks through GPU pool, RAM and SQLite', () => {
  const layouts: KvLayout[] = [
    { nLayers: 3, nKvHeads: 1, headDim: 576, latentDim: 512, dtype: 'f16' }, // DeepSeek-V2-Lite's row
    { nLayers: 2, nKvHeads: 1, headDim: 576, latentDim: 512, dtype: 'q8_0' },
    { nLayers: 2, nKvHeads: 1, headDim: 48, latentDim: 32, dtype: 'f32' },
  ];
  for (const layout of layouts) {
    it(`come back byte-identical after a restart (${layout.dtype}, ${layout.latentDim} + ${layout.headDim - layout.latentDim!})`, async () => {
      const { db } = tempDb();
      const store = new KvBlockStore(db);
      const tokens = Array.from({ length: BLOCKS * KV_BLOCK_TOKENS + 5 }, (_, i) => (i * 7) % 50);
      const full = tokens.slice(0, BLOCKS * KV_BLOCK_TOKENS);

      const pool = new KvPool(ctx, layout, POOL_BLOCKS);
      const kv = cacheOver(pool, store);
      kv.addSequence(1);
      kv.reserve(1, full.length, 0);
      const table = [...kv.table(1)];
      appendRows(pool, table, full.length, layout.headDim + layout.nLayers);
      const written = await readBlocks(ctx, pool, table);
      expect(written.every((b) => b.byteLength === blockBytes(layout))).toBe(true);
      expect(written.every((b) => b.some((x) => x !== 0))).toBe(true); // appendKv filled every block
      kv.commit(1, full);
      kv.removeSequence(1);
      expect(kv.evictIdle(0)).toBe(BLOCKS);
      await kv.settle();
      expect(kv.stats().spilledToStore).toBe(BLOCKS);

      // A restart: RAM is gone, a fresh pool; every block comes from SQLite.
      pool.destroy();
      const pool2 = new KvPool(ctx, layout, POOL_BLOCKS);
      const kv2 = cacheOver(pool2, store);
      kv2.addSequence(7);
      const m = await kv2.matchPrefix(7, tokens, BLOCKS);
      expect(m.fromDisk).toBe(BLOCKS);
      const back = await readBlocks(ctx, pool2, kv2.table(7));
      back.forEach((bytes, b) => expect(Buffer.from(bytes).equals(Buffer.from(written[b]!)), `block ${b}`).toBe(true));
      // The stored record says the blocks are MLA, and its key matches no K/V layout of the same sizes.
      const rows = store.getBlocks(kv2.chain(7));
      expect(rows.size).toBe(BLOCKS);
      for (const row of rows.values()) expect(row.layout).toEqual(layoutRecord(layout));
      expect(layoutRecord(layout)).toMatchObject({ latentDim: layout.latentDim, key: layoutKey(layout) });
      expect(layoutKey(layout)).not.toBe(layoutKey({ ...layout, latentDim: undefined }));
      pool2.destroy();
    });
  }
});
