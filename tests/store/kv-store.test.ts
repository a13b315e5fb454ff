// The SQLite tier of the KV cache: blocks by hash, block tables, per-model deletion and garbage collection.
import { describe, expect, it } from 'vitest';
import { ConversationRepository } from '../../src/store/conversations';
import { blockChecksum } from '../../src/store/block-checksum';
import { KvBlockStore, type KvBlock } from '../../src/store/kv-store';
import { tempDb } from '../helpers/temp';

function block(hash: string, modelFingerprint = 'model-a', size = 1024): KvBlock {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + hash.length) & 0xff;
  return { hash, modelFingerprint, layout: { dtype: 'f16', layers: 5, kvHeads: 4, headDim: 8, tokens: 16 }, bytes };
}

function setup() {
  const { db } = tempDb();
  return { db, kv: new KvBlockStore(db), conversations: new ConversationRepository(db) };
}

describe('KvBlockStore', () => {
  it('keeps a conversation\'s exact token history and tells which hashes are stored', () => {
    const { kv, conversations } = setup();
    const id = conversations.createConversation({ title: 't' }).id;
    expect(kv.conversationTokens(id)).toBeUndefined();
    const tokens = [1, 403, 407, 4294967295, 0];
    kv.setConversationTokens(id, 'model-a', tokens, 4);
    expect(kv.conversationTokens(id)).toEqual({ modelFingerprint: 'model-a', tokens, computed: 4, version: 1 });
    kv.setConversationTokens(id, 'model-a', [1, 2], 1);
    expect(kv.conversationTokens(id)).toEqual({ modelFingerprint: 'model-a', tokens: [1, 2], computed: 1, version: 2 });
    expect(() => kv.setConversationTokens(999, 'model-a', [1], 1)).toThrow(/999/);
    kv.putBlocks([block('s1'), block('s2')]);
    expect([...kv.storedHashes(['s2', 'nope', 's1'])]).toEqual(['s2', 's1']);
    conversations.deleteConversation(id);
    expect(kv.conversationTokens(id)).toBeUndefined();
  });

  it('puts blocks in one transaction and gets them back byte for byte', () => {
    const { kv } = setup();
    const blocks = [block('h1'), block('h2'), block('h3', 'model-a', 4096)];
    kv.putBlocks(blocks);
    const got = kv.getBlocks(['h3', 'missing', 'h1']);
    expect([...got.keys()]).toEqual(['h3', 'h1']);
    const h3 = got.get('h3')!;
    expect(Buffer.from(h3.bytes).equals(Buffer.from(blocks[2]!.bytes))).toBe(true);
    expect(h3).toMatchObject({ modelFingerprint: 'model-a', checksum: blockChecksum(blocks[2]!.bytes), layout: blocks[2]!.layout });
    expect(kv.usage()).toEqual({ blocks: 3, bytes: 1024 + 1024 + 4096 });
  });

  it('accepts a Uint8Array view into a larger buffer', () => {
    const { kv } = setup();
    const backing = new Uint8Array(64).map((_, i) => i);
    kv.putBlocks([{ ...block('v'), bytes: backing.subarray(16, 32) }]);
    expect([...kv.getBlocks(['v']).get('v')!.bytes]).toEqual([...backing.subarray(16, 32)]);
  });

  it('a failed batch stores nothing', () => {
    const { kv } = setup();
    const bad = { ...block('bad'), layout: undefined as unknown as Record<string, unknown> }; // JSON.stringify -> undefined -> NOT NULL fails
    expect(() => kv.putBlocks([block('ok'), bad])).toThrow();
    expect(kv.usage().blocks).toBe(0);
  });

  it('keeps the first copy of a hash and refreshes its use time', () => {
    const { kv } = setup();
    kv.putBlocks([block('h')]);
    kv.putBlocks([{ ...block('h'), bytes: new Uint8Array(1024).fill(7) }]);
    expect(kv.getBlocks(['h']).get('h')!.checksum).toBe(blockChecksum(block('h').bytes));
    expect(kv.usage().blocks).toBe(1);
  });

  it('sets, replaces and reads a conversation block table in order', () => {
    const { kv, conversations } = setup();
    const c = conversations.createConversation();
    kv.putBlocks([block('a'), block('b'), block('c')]);
    kv.setConversationBlocks(c.id, ['c', 'a', 'b']);
    expect(kv.conversationBlocks(c.id)).toEqual(['c', 'a', 'b']);
    kv.setConversationBlocks(c.id, ['a']);
    expect(kv.conversationBlocks(c.id)).toEqual(['a']);
    kv.setConversationBlocks(c.id, []);
    expect(kv.conversationBlocks(c.id)).toEqual([]);
  });

  it('refuses a block table naming a block that is not stored, keeping the old table', () => {
    const { kv, conversations } = setup();
    const c = conversations.createConversation();
    kv.putBlocks([block('a')]);
    kv.setConversationBlocks(c.id, ['a']);
    expect(() => kv.setConversationBlocks(c.id, ['a', 'ghost'])).toThrow(expect.objectContaining({ code: 'kv-unknown-block' }));
    expect(kv.conversationBlocks(c.id)).toEqual(['a']);
    expect(() => kv.setConversationBlocks(999, ['a'])).toThrow(expect.objectContaining({ code: 'conversation-not-found' }));
  });

  it('saves a token history and its block table together; a failure in the second write keeps both as they were', () => {
    const { kv, conversations } = setup();
    const c = conversations.createConversation();
    kv.putBlocks([block('a'), block('b')]);
    kv.saveConversationKv(c.id, { modelFingerprint: 'model-a', tokens: [1, 2, 3], computed: 2, blockHashes: ['a'] });
    const saved = { tokens: kv.conversationTokens(c.id), table: kv.conversationBlocks(c.id) };
    expect(saved).toEqual({ tokens: { modelFingerprint: 'model-a', tokens: [1, 2, 3], computed: 2, version: 1 }, table: ['a'] });

    // A constraint: the table names a block that is not stored.
    expect(() => kv.saveConversationKv(c.id, { modelFingerprint: 'model-b', tokens: [9, 9, 9, 9], computed: 4, blockHashes: ['a', 'ghost'] })).toThrow(
      expect.objectContaining({ code: 'kv-unknown-block' }),
    );
    expect({ tokens: kv.conversationTokens(c.id), table: kv.conversationBlocks(c.id) }).toEqual(saved);

    // A stand-in whose table write fails after the history was written (a disk error, say).
    const failing = Object.assign(Object.create(kv) as KvBlockStore, {
      setConversationBlocks: () => {
        throw new Error('disk I/O error');
      },
    });
    expect(() => failing.saveConversationKv(c.id, { modelFingerprint: 'model-b', tokens: [7], computed: 1, blockHashes: ['b'] })).toThrow('disk I/O error');
    expect({ tokens: kv.conversationTokens(c.id), table: kv.conversationBlocks(c.id) }).toEqual(saved);

    // A conversation saved for the first time keeps nothing of a failed save.
    const fresh = conversations.createConversation();
    expect(() => failing.saveConversationKv(fresh.id, { modelFingerprint: 'model-a', tokens: [1], computed: 1, blockHashes: ['a'] })).toThrow();
    expect(kv.conversationTokens(fresh.id)).toBeUndefined();
    expect(kv.conversationBlocks(fresh.id)).toEqual([]);
  });

  it('deletes a model’s blocks and the table entries naming them', () => {
    const { kv, conversations } = setup();
    const c = conversations.createConversation();
    kv.putBlocks([block('a1', 'model-a'), block('a2', 'model-a'), block('b1', 'model-b')]);
    kv.setConversationBlocks(c.id, ['a1', 'a2']);
    expect(kv.deleteModelBlocks('model-a')).toBe(2);
    expect([...kv.getBlocks(['a1', 'a2', 'b1']).keys()]).toEqual(['b1']);
    expect(kv.conversationBlocks(c.id)).toEqual([]);
  });

  it('garbage-collects the blocks no conversation names, shared blocks survive', () => {
    const { kv, conversations } = setup();
    const c1 = conversations.createConversation();
    const c2 = conversations.createConversation();
    kv.putBlocks([block('system'), block('c1'), block('c2'), block('orphan')]);
    kv.setConversationBlocks(c1.id, ['system', 'c1']);
    kv.setConversationBlocks(c2.id, ['system', 'c2']);
    expect(kv.garbageCollect()).toBe(1);
    conversations.deleteConversation(c1.id);
    expect(kv.garbageCollect()).toBe(1);
    expect([...kv.getBlocks(['system', 'c1', 'c2', 'orphan']).keys()]).toEqual(['system', 'c2']);
    expect(kv.garbageCollect()).toBe(0);
  });

  it('deletes blocks found unusable', () => {
    const { kv } = setup();
    kv.putBlocks([block('a'), block('b')]);
    expect(kv.deleteBlocks(['a', 'zzz'])).toBe(1);
    expect(kv.usage().blocks).toBe(1);
  });
});
