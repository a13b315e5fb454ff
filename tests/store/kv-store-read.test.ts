// The read path a resume takes: getBlocks checksums each blob as SQLite hands it over (row by row) and returns the
// batch in the order asked; a block of many overflow pages whose bytes rotted (one byte, same length) is never
// handed out, and the blocks around it still are.
import { describe, expect, it } from 'vitest';
import { ConversationRepository } from '../../src/store/conversations';
import { KvBlockStore, type KvBlock } from '../../src/store/kv-store';
import { tempDb } from '../helpers/temp';

const SIZE = 300 * 1024; // a real block's size: many overflow pages each
const block = (hash: string, fill: number): KvBlock => ({ hash, modelFingerprint: 'model-a', layout: { key: 'f16:test' }, bytes: new Uint8Array(SIZE).fill(fill) });
const names = Array.from({ length: 20 }, (_, i) => `h${String(i).padStart(2, '0')}`);

describe('getBlocks on a resume-sized batch', () => {
  it('returns every block, in the order asked, with its bytes', () => {
    const { db } = tempDb();
    const kv = new KvBlockStore(db);
    kv.putBlocks(names.map((h, i) => block(h, i + 1)));
    const asked = [...names].reverse().concat(['missing']);
    const got = kv.getBlocks(asked);
    expect([...got.keys()]).toEqual([...names].reverse());
    for (const [h, b] of got) {
      expect(b.bytes.byteLength).toBe(SIZE);
      expect(b.bytes[SIZE - 1]).toBe(names.indexOf(h) + 1);
    }
  });

  it('never hands out a block whose bytes rotted, and keeps the blocks around it', () => {
    const { db } = tempDb();
    const kv = new KvBlockStore(db);
    const conversation = new ConversationRepository(db).createConversation().id;
    kv.putBlocks(names.map((h, i) => block(h, i + 1)));
    kv.saveConversationKv(conversation, { modelFingerprint: 'model-a', tokens: [1], computed: 1, blockHashes: names });
    db.prepare('UPDATE kv_blocks SET bytes = ? WHERE hash = ?').run(Buffer.from(new Uint8Array(SIZE).fill(8).fill(9, 1000, 1001)), 'h07');
    const got = kv.getBlocks(names);
    expect([...got.keys()]).toEqual(names.filter((h) => h !== 'h07'));
    expect(kv.corruptBlocksDropped).toBe(1);
    expect(kv.storedHashes(['h07']).size).toBe(0); // the next save stores the recomputed block
    expect(kv.conversationBlocks(conversation)).not.toContain('h07');
  });
});
