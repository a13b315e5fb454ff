// A conversation's private blocks (K/V this machine did not compute, e.g. an imported chat's) in the KV cache's
// bookkeeping, with a host-memory device and an in-memory store: only a sequence its conversation owns finds them,
// in the store, RAM or the GPU pool; a block this machine computed is preferred; whatever a sequence fills after
// a private block is named privately too. And a long match reads the store in batches, not block by block.
import { describe, expect, it } from 'vitest';
import { KvCache, type BlockIo, type KvBlockStoreLike, type StoredKvBlock } from '../../src/gpu/kv/cache';
import { blockHashChain } from '../../src/gpu/kv/hash';
import { KV_BLOCK_TOKENS, blockBytes, type KvLayout } from '../../src/gpu/kv/layout';
import { privateBlockName } from '../../src/gpu/kv/private-blocks';
import { layoutKey } from '../../src/gpu/kv/swap';

const LAYOUT: KvLayout = { nLayers: 1, nKvHeads: 1, headDim: 4, dtype: 'f32' };
const BYTES = blockBytes(LAYOUT);
const MODEL = 'model';

class HostDevice implements BlockIo {
  readonly slots = new Map<number, Uint8Array>();
  copy(copies: readonly { src: number; dst: number }[]): void {
    for (const c of copies) this.slots.set(c.dst, this.slots.get(c.src)!.slice());
  }
  readOut(slots: readonly number[]): Promise<Uint8Array[]> {
    return Promise.resolve(slots.map((s) => this.slots.get(s)!.slice()));
  }
  writeIn(blocks: readonly { slot: number; bytes: Uint8Array }[]): void {
    for (const b of blocks) this.slots.set(b.slot, new Uint8Array(b.bytes));
  }
}

class MemoryStore implements KvBlockStoreLike {
  readonly blocks = new Map<string, StoredKvBlock>();
  readonly reads: number[] = []; // names asked for, per getBlocks call
  getBlocks(hashes: readonly string[]): ReadonlyMap<string, StoredKvBlock> {
    this.reads.push(hashes.length);
    return new Map(hashes.flatMap((h) => (this.blocks.has(h) ? [[h, this.blocks.get(h)!] as const] : [])));
  }
  storedHashes(hashes: readonly string[]): ReadonlySet<string> {
    return new Set(hashes.filter((h) => this.blocks.has(h)));
  }
  putBlocks(blocks: readonly StoredKvBlock[]): void {
    for (const b of blocks) this.blocks.set(b.hash, b);
  }
}

const tokens = Array.from({ length: 5 * KV_BLOCK_TOKENS + 3 }, (_, i) => (i * 7) % 11);
const fill = (v: number): Uint8Array => new Uint8Array(BYTES).fill(v);
const block = (hash: string, v: number): StoredKvBlock => ({ hash, modelFingerprint: MODEL, layout: { key: layoutKey(LAYOUT) }, bytes: fill(v) });

function setup(numBlocks = 16) {
  const device = new HostDevice();
  const store = new MemoryStore();
  const kv = new KvCache({ numBlocks, layout: LAYOUT, modelFingerprint: MODEL, io: device, ramBytes: 64 * BYTES, store });
  const content = blockHashChain(kv.chainRoot, tokens);
  return { device, store, kv, content };
}

describe('private KV blocks', () => {
  it('are found only by a sequence of their conversation, and taint what it fills after them', async () => {
    const { device, store, kv, content } = setup();
    // Conversation 7 imported blocks 0-2 (wrong bytes, 0xee); this machine computed block 1 itself (0x11).
    store.putBlocks(content.slice(0, 3).map((h) => block(privateBlockName(7, h), 0xee)));
    store.putBlocks([block(content[1]!, 0x11)]);

    kv.addSequence(1);
    expect((await kv.matchPrefix(1, tokens, 5)).tokens).toBe(0); // nobody's sequence: block 0 has no computed copy
    kv.removeSequence(1);
    kv.addSequence(2);
    kv.ownSequence(2, 8);
    expect((await kv.matchPrefix(2, tokens, 5)).tokens).toBe(0); // another conversation's sequence
    kv.removeSequence(2);

    kv.addSequence(3);
    kv.ownSequence(3, 7);
    const m = await kv.matchPrefix(3, tokens, 5);
    expect(m).toMatchObject({ tokens: 3 * KV_BLOCK_TOKENS, fromDisk: 3 });
    expect(kv.blockNames(3)).toEqual([privateBlockName(7, content[0]!), content[1], privateBlockName(7, content[2]!)]);
    expect(kv.privateFrom(3)).toBe(0);
    expect(kv.table(3).map((slot) => device.slots.get(slot)![0])).toEqual([0xee, 0x11, 0xee]);
    // Blocks 3 and 4, computed over the imported K/V, are private too.
    kv.reserve(3, 5 * KV_BLOCK_TOKENS, 3 * KV_BLOCK_TOKENS);
    kv.commit(3, tokens.slice(0, 5 * KV_BLOCK_TOKENS));
    expect(kv.blockNames(3).slice(3)).toEqual(content.slice(3, 5).map((h) => privateBlockName(7, h)));
    expect(kv.chain(3)).toEqual(content.slice(0, 5));

    // In the GPU pool (idle) and in RAM, only conversation 7's sequences find them.
    kv.removeSequence(3);
    kv.addSequence(4);
    expect((await kv.matchPrefix(4, tokens, 5)).fromGpu).toBe(0);
    kv.removeSequence(4);
    kv.clearIdle();
    kv.addSequence(5);
    kv.ownSequence(5, 7);
    expect(await kv.matchPrefix(5, tokens, 5)).toMatchObject({ tokens: 3 * KV_BLOCK_TOKENS, fromDisk: 3 });
    kv.removeSequence(5);
    expect(kv.evictIdle()).toBe(3);
    await kv.settle();
    kv.addSequence(6);
    expect((await kv.matchPrefix(6, tokens, 5)).tokens).toBe(0);
    kv.removeSequence(6);
    kv.addSequence(9);
    kv.ownSequence(9, 7);
    expect(await kv.matchPrefix(9, tokens, 5)).toMatchObject({ tokens: 3 * KV_BLOCK_TOKENS, fromRam: 3 });

    // Truncated back before its first private block, a sequence computes its own K/V again.
    kv.truncate(9, 0);
    expect(kv.privateFrom(9)).toBe(Infinity);
    kv.reserve(9, 2 * KV_BLOCK_TOKENS, 0);
    kv.commit(9, tokens.slice(0, 2 * KV_BLOCK_TOKENS));
    expect(kv.blockNames(9)).toEqual(content.slice(0, 2));
  });

  it('a long match reads the store in batches of about 32 MiB, each uploaded before the next is read', async () => {
    const wide: KvLayout = { nLayers: 1, nKvHeads: 1, headDim: 4096, dtype: 'f32' }; // 512 KiB a block: 64 a batch
    const blocks = 150;
    const long = Array.from({ length: blocks * KV_BLOCK_TOKENS + 1 }, (_, i) => i % 13);
    const device = new HostDevice();
    const events: string[] = [];
    const store = new MemoryStore();
    const reading: KvBlockStoreLike = { ...store, getBlocks: (h) => (events.push(`read ${h.length}`), store.getBlocks(h)), storedHashes: (h) => store.storedHashes(h), putBlocks: (b) => store.putBlocks(b) };
    const io: BlockIo = { copy: (c) => device.copy(c), readOut: (s) => device.readOut(s), writeIn: (b) => (events.push(`write ${b.length}`), device.writeIn(b)) };
    const kv = new KvCache({ numBlocks: blocks + 4, layout: wide, modelFingerprint: MODEL, io, store: reading });
    const names = blockHashChain(kv.chainRoot, long);
    store.putBlocks(names.map((h, i) => ({ hash: h, modelFingerprint: MODEL, layout: { key: layoutKey(wide) }, bytes: new Uint8Array(blockBytes(wide)).fill(i & 0xff) })));
    kv.addSequence(1);
    expect(await kv.matchPrefix(1, long, blocks)).toMatchObject({ tokens: blocks * KV_BLOCK_TOKENS, fromDisk: blocks });
    expect(events).toEqual(['read 64', 'write 64', 'read 64', 'write 64', 'read 22', 'write 22']);
    expect(kv.table(1).map((slot) => device.slots.get(slot)![0])).toEqual(names.map((_, i) => i & 0xff));
  });
});
