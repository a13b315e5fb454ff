// Integrity of the SQLite KV tier: the store computes each block's xxHash64 checksum and checks it on every read;
// a block that fails is dropped so the next save stores the recomputed one; a block whose given checksum does not
// match its bytes (an imported one) is refused. And two writers on one conversation: a version on its token
// history refuses the second writer's save instead of interleaving the two.
import { describe, expect, it } from 'vitest';
import { ConversationRepository } from '../../src/store/conversations';
import { openDatabase } from '../../src/store/database';
import { blockChecksum } from '../../src/store/block-checksum';
import { KvBlockStore, type KvBlock } from '../../src/store/kv-store';
import { closeLater, tempDb } from '../helpers/temp';

const block = (hash: string, fill: number): KvBlock => ({ hash, modelFingerprint: 'model-a', layout: { key: 'f16:test' }, bytes: new Uint8Array(4096).fill(fill) });

describe('KV block checksums', () => {
  it('are xxHash64 of the bytes, 16 hex digits, computed by the store', () => {
    expect(blockChecksum(new Uint8Array(0))).toBe('ef46db3751d8e999'); // XXH64("", seed 0), the reference value
    const { db } = tempDb();
    const kv = new KvBlockStore(db);
    kv.putBlocks([block('aa', 1)]);
    expect(kv.getBlocks(['aa']).get('aa')!.checksum).toBe(blockChecksum(new Uint8Array(4096).fill(1)));
  });

  it('a stored block whose bytes rotted is dropped on read and replaced by the next save', () => {
    const { db } = tempDb();
    const kv = new KvBlockStore(db);
    const c = new ConversationRepository(db).createConversation().id;
    kv.putBlocks([block('aa', 1), block('bb', 2)]);
    kv.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [1, 2], computed: 2, blockHashes: ['aa', 'bb'] });
    db.prepare("UPDATE kv_blocks SET bytes = zeroblob(4096) WHERE hash = 'bb'").run();

    const got = kv.getBlocks(['aa', 'bb']);
    expect([...got.keys()]).toEqual(['aa']); // bb reads as missing: the engine recomputes it
    expect(kv.corruptBlocksDropped).toBe(1);
    expect(kv.storedHashes(['bb']).size).toBe(0); // so the next persist writes it again
    expect(kv.conversationBlocks(c)).toEqual(['aa']);

    kv.putBlocks([block('bb', 2)]);
    kv.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [1, 2], computed: 2, blockHashes: ['aa', 'bb'] });
    expect([...kv.getBlocks(['aa', 'bb']).get('bb')!.bytes]).toEqual([...new Uint8Array(4096).fill(2)]);
  });

  it('refuses a block whose given checksum does not match its bytes, storing the rest', () => {
    const { db } = tempDb();
    const kv = new KvBlockStore(db);
    const good = { ...block('aa', 1), checksum: blockChecksum(new Uint8Array(4096).fill(1)) };
    const bad = { ...block('bb', 2), checksum: blockChecksum(new Uint8Array(4096).fill(3)) };
    kv.putBlocks([good, bad]);
    expect(kv.lastRefused).toBe(1);
    expect([...kv.storedHashes(['aa', 'bb'])]).toEqual(['aa']);
  });
});

describe('two writers on one conversation', () => {
  it('the second save from the same version is refused and leaves the first writer\'s history and table', () => {
    const { db, file } = tempDb();
    const c = new ConversationRepository(db).createConversation().id;
    const first = new KvBlockStore(db);
    first.putBlocks([block('aa', 1)]);
    expect(first.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [1, 2, 3], computed: 2, blockHashes: [], baseVersion: 0 })).toBe(1);

    // A second process opens the same file and reads the same history (version 1) as the first.
    const second = new KvBlockStore(closeLater(openDatabase(file)));
    const seen = second.conversationTokens(c)!;
    expect(seen.version).toBe(1);
    expect(first.conversationTokens(c)!.version).toBe(1);

    // The first continues the conversation and saves...
    expect(first.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [1, 2, 3, 4, 5], computed: 4, blockHashes: ['aa'], baseVersion: 1 })).toBe(2);
    // ...then the second's turn, computed from version 1, is refused: nothing of it is written.
    second.putBlocks([block('cc', 3)]);
    expect(() => second.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [1, 2, 3, 9, 9], computed: 4, blockHashes: ['cc'], baseVersion: seen.version })).toThrow(
      expect.objectContaining({ code: 'kv-conversation-changed' }),
    );
    expect(first.conversationTokens(c)).toEqual({ modelFingerprint: 'model-a', tokens: [1, 2, 3, 4, 5], computed: 4, version: 2 });
    expect(first.conversationBlocks(c)).toEqual(['aa']);

    // Reading the new version first, the second continues from the first's turn.
    const now = second.conversationTokens(c)!;
    expect(second.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [...now.tokens, 6], computed: 5, blockHashes: ['aa'], baseVersion: now.version })).toBe(3);
  });

  it('a save without a base version is not checked (an older front end), and still bumps the version', () => {
    const { db } = tempDb();
    const c = new ConversationRepository(db).createConversation().id;
    const kv = new KvBlockStore(db);
    kv.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [1], computed: 1, blockHashes: [] });
    expect(kv.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [1, 2], computed: 2, blockHashes: [] })).toBe(2);
    expect(() => kv.saveConversationKv(c, { modelFingerprint: 'model-a', tokens: [1, 2, 3], computed: 3, blockHashes: [], baseVersion: 1 })).toThrow(/continued elsewhere/);
  });
});
