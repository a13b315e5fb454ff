// Property tests of the KV cache's bookkeeping across its tiers (GPU pool -> RAM -> SQLite): random sequences of
// allocate / append / fork / free / evict / swap-in on a small pool, a small RAM tier and a real SQLite store.
// The device is host memory here (BlockIo over a Map), with the device's ordering rule: a read-out sees the bytes
// as they were when it was issued. Every block's bytes are a function of the tokens up to its end, so whatever
// comes back from any tier can be checked byte for byte.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvCapacityError } from '../../src/gpu/kv/block-manager';
import { KvCache, type BlockIo } from '../../src/gpu/kv/cache';
import { hashBlock } from '../../src/gpu/kv/hash';
import { KV_BLOCK_TOKENS, blockBytes, type KvLayout } from '../../src/gpu/kv/layout';
import { KvBlockStore } from '../../src/store/kv-store';
import { tempDb } from '../helpers/temp';

const LAYOUT: KvLayout = { nLayers: 1, nKvHeads: 1, headDim: 4, dtype: 'f32' };
const BYTES = blockBytes(LAYOUT);

/** What a block holding positions [start, end) of `tokens` contains (depends on every token before `end`). */
function content(tokens: readonly number[], block: number, end: number): Uint8Array {
  const h = hashBlock(`content:${block}`, tokens, 0, end);
  const out = new Uint8Array(BYTES);
  for (let i = 0; i < BYTES; i++) out[i] = h.charCodeAt(i % h.length) ^ (i * 31);
  return out;
}

class HostDevice implements BlockIo {
  readonly slots = new Map<number, Uint8Array>();
  copy(copies: readonly { src: number; dst: number }[]): void {
    for (const c of copies) this.slots.set(c.dst, this.slots.get(c.src)!.slice());
  }
  readOut(slots: readonly number[]): Promise<Uint8Array[]> {
    const snapshot = slots.map((s) => this.slots.get(s)!.slice());
    return new Promise((resolve) => setTimeout(() => resolve(snapshot), 0));
  }
  writeIn(blocks: readonly { slot: number; bytes: Uint8Array }[]): void {
    for (const b of blocks) this.slots.set(b.slot, new Uint8Array(b.bytes));
  }
}

type Op =
  | { kind: 'new'; from: number; share: number; tail: number[] }
  | { kind: 'append'; seq: number; tokens: number[] }
  | { kind: 'fork'; seq: number }
  | { kind: 'free'; seq: number }
  | { kind: 'evict'; keep: number }
  | { kind: 'settle' }
  | { kind: 'restart' };

const tokens = (max: number) => fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: max });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('new' as const), from: fc.nat(), share: fc.integer({ min: 1, max: 4 }), tail: tokens(40) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), seq: fc.nat(), tokens: tokens(24) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fork' as const), seq: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('free' as const), seq: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('evict' as const), keep: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'settle' as const }) },
  // Every sequence ends, the pool is emptied to RAM and on to SQLite, and RAM is lost (the app restarts).
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/** Runs positions [from, to) of `seq` through the "model": writes what those blocks now contain. */
function compute(kv: KvCache, dev: HostDevice, seq: number, all: readonly number[], from: number): void {
  kv.reserve(seq, all.length, from);
  const table = kv.blocks.table(seq);
  for (let b = Math.floor(from / KV_BLOCK_TOKENS); b * KV_BLOCK_TOKENS < all.length; b++) {
    dev.writeIn([{ slot: table[b]!, bytes: content(all, b, Math.min(all.length, (b + 1) * KV_BLOCK_TOKENS)) }]);
  }
  kv.commit(seq, all);
}

function checkBytes(kv: KvCache, dev: HostDevice, live: ReadonlyMap<number, number[]>): void {
  for (const [seq, toks] of live) {
    const table = kv.blocks.table(seq);
    expect(table.length).toBe(Math.ceil(toks.length / KV_BLOCK_TOKENS)); // at most one partly filled block
    table.forEach((slot, b) => {
      const end = Math.min(toks.length, (b + 1) * KV_BLOCK_TOKENS);
      expect(dev.slots.get(slot), `sequence ${seq} block ${b}`).toEqual(content(toks, b, end));
    });
  }
}

describe('KV cache tiers (property)', () => {
  it('never leaks or frees a referenced block, keeps ref counts equal to table entries, and returns every swapped block byte-identical', async () => {
    const { db } = tempDb();
    const store = new KvBlockStore(db);
    let run = 0;
    const tiers = { gpu: 0, ram: 0, disk: 0, cow: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 50, size: 'max' }), fc.integer({ min: 6, max: 24 }), fc.integer({ min: 0, max: 3 }), async (ops, numBlocks, ramBlocks) => {
        const dev = new HostDevice();
        // A fresh model name per run keeps the runs' stored blocks apart in the one database.
        const kv = new KvCache({ numBlocks, layout: LAYOUT, modelFingerprint: `prop-${run++}`, io: dev, ramBytes: ramBlocks * BYTES, store });
        const live = new Map<number, number[]>();
        const seen: number[][] = []; // every sequence's tokens, freed ones too: their blocks may be in RAM or SQLite
        let next = 1;
        const pick = (i: number): number | undefined => [...live.keys()][i % Math.max(1, live.size)];
        for (const o of ops) {
          if (o.kind === 'new') {
            const base = seen.length > 0 ? seen[o.from % seen.length]! : [];
            const all = [...base.slice(0, o.share * KV_BLOCK_TOKENS), ...o.tail];
            const seq = next++;
            kv.addSequence(seq);
            const m = await kv.matchPrefix(seq, all, Math.floor((all.length - 1) / KV_BLOCK_TOKENS));
            expect(m.tokens % KV_BLOCK_TOKENS).toBe(0);
            expect(m.fromGpu + m.fromRam + m.fromDisk).toBe(m.tokens / KV_BLOCK_TOKENS);
            tiers.gpu += m.fromGpu;
            tiers.ram += m.fromRam;
            tiers.disk += m.fromDisk;
            try {
              compute(kv, dev, seq, all, m.tokens);
              live.set(seq, all);
              seen.push(all);
            } catch (e) {
              if (!(e instanceof KvCapacityError)) throw e;
              kv.removeSequence(seq);
            }
          } else if (o.kind === 'append' && live.size > 0) {
            const seq = pick(o.seq)!;
            const before = live.get(seq)!;
            const all = [...before, ...o.tokens];
            try {
              compute(kv, dev, seq, all, before.length);
              live.set(seq, all);
              seen.push(all);
            } catch (e) {
              if (!(e instanceof KvCapacityError)) throw e;
              kv.truncate(seq, before.length); // what the engine does: the sequence waits, nothing half-written
            }
          } else if (o.kind === 'fork' && live.size > 0) {
            const parent = pick(o.seq)!;
            const child = next++;
            kv.fork(parent, child);
            if (live.get(parent)!.length % KV_BLOCK_TOKENS !== 0) tiers.cow++; // the next append copies the shared tail
            live.set(child, [...live.get(parent)!]);
          } else if (o.kind === 'free' && live.size > 0) {
            const seq = pick(o.seq)!;
            kv.removeSequence(seq);
            live.delete(seq);
          } else if (o.kind === 'evict') {
            kv.evictIdle(o.keep);
          } else if (o.kind === 'settle') {
            await kv.settle();
          } else if (o.kind === 'restart') {
            for (const seq of [...live.keys()]) kv.removeSequence(seq);
            live.clear();
            kv.evictIdle();
            await kv.settle();
            kv.ram.clear();
          }
          kv.blocks.checkInvariants();
          checkBytes(kv, dev, live);
          const held = new Set<number>();
          for (const seq of live.keys()) for (const b of kv.blocks.table(seq)) held.add(b);
          expect(kv.blocks.freeBlocks + held.size).toBe(numBlocks); // no leaks: every block is held, free or cached
        }
        await kv.settle();
        for (const seq of [...live.keys()]) kv.removeSequence(seq);
        kv.blocks.checkInvariants();
        expect(kv.blocks.freeBlocks).toBe(numBlocks);
        expect(kv.ram.bytes).toBeLessThanOrEqual(ramBlocks * BYTES);
      }),
      { numRuns: 40, seed: 20261123 },
    );
    // The runs reached every tier and copy-on-write (else the property says little).
    expect(Math.min(tiers.gpu, tiers.ram, tiers.disk, tiers.cow)).toBeGreaterThan(0);
  }, 120_000);

  it('a prefix evicted through RAM to SQLite comes back from each tier with identical bytes', async () => {
    const { db } = tempDb();
    const store = new KvBlockStore(db);
    const dev = new HostDevice();
    const kv = new KvCache({ numBlocks: 8, layout: LAYOUT, modelFingerprint: 'tiers', io: dev, ramBytes: 2 * BYTES, store });
    const prompt = Array.from({ length: 4 * KV_BLOCK_TOKENS + 5 }, (_, i) => (i * 7) % 11);
    kv.addSequence(1);
    compute(kv, dev, 1, prompt, 0);
    kv.removeSequence(1);
    expect(kv.stats().cached).toBe(4);

    // From the GPU pool: shared, nothing uploaded.
    kv.addSequence(2);
    expect(await kv.matchPrefix(2, prompt, 4)).toMatchObject({ tokens: 64, fromGpu: 4, source: 'gpu' });
    kv.removeSequence(2);

    // Evicted: two blocks fit in RAM, the two least recently used go on to SQLite.
    expect(kv.evictIdle()).toBe(4);
    await kv.settle();
    expect(kv.stats()).toMatchObject({ cached: 0, ramBlocks: 2, spilledToStore: 2 });
    kv.addSequence(3);
    const m = await kv.matchPrefix(3, prompt, 4);
    expect(m).toMatchObject({ tokens: 64, fromGpu: 0, fromRam: 2, fromDisk: 2, source: 'disk' });
    checkBytes(kv, dev, new Map([[3, prompt.slice(0, 64)]]));

    // A stored block whose bytes fail their checksum is dropped by the store (so the next save stores it again);
    // the prefix stops there and the rest is recomputed.
    kv.removeSequence(3);
    kv.evictIdle();
    await kv.settle();
    kv.ram.clear();
    db.prepare("UPDATE kv_blocks SET checksum = 'bad' WHERE model_fingerprint = 'tiers'").run();
    kv.addSequence(4);
    expect(await kv.matchPrefix(4, prompt, 4)).toMatchObject({ tokens: 0, source: 'recompute' });
    expect(store.corruptBlocksDropped).toBeGreaterThan(0);
    expect(store.usage().blocks).toBe(0); // every damaged block was read, and dropped
    kv.blocks.checkInvariants();
  });
});
