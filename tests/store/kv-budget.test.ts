// The KV disk budget: LRU eviction of conversations' block tables (shared blocks kept, messages untouched), the
// file shrinking after drops, the free-space reserve, and a full database skipping KV but never a message.
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConversationRepository } from '../../src/store/conversations';
import { openDatabase, type Db } from '../../src/store/database';
import { defaultKvBudget, freeSpaceReserve, KvBudget, kvBudgetFor, kvBudgetSetting, setKvBudgetSetting, type KvBudgetOptions } from '../../src/store/kv-budget';
import { KvBlockStore, type KvBlock } from '../../src/store/kv-store';
import { MessageRepository } from '../../src/store/messages';
import { ensureIncrementalVacuum } from '../../src/store/vacuum';
import { closeLater, tempDb, tempDir } from '../helpers/temp';

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 64 * KiB;

function block(hash: string, size = BLOCK): KvBlock {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 512) bytes[i] = (i >> 9) ^ hash.length;
  return { hash, modelFingerprint: 'model-a', layout: { dtype: 'f16', layers: 2, kvHeads: 1, headDim: 8, tokens: 16 }, bytes };
}

function setup(budget: Partial<KvBudgetOptions> & { budgetBytes: number }, db: Db = tempDb().db) {
  const kvBudget = new KvBudget(db, { unnamedBlockGraceMs: 0, ...budget });
  return { db, budget: kvBudget, kv: new KvBlockStore(db, { budget: kvBudget }), conversations: new ConversationRepository(db), messages: new MessageRepository(db) };
}

/** A conversation with a message and `hashes` as its KV, saved at `usedAt` (ms) so the LRU order is explicit. */
function saveChat(s: ReturnType<typeof setup>, title: string, hashes: string[], usedAt?: number): number {
  const id = s.conversations.createConversation({ title }).id;
  s.messages.appendMessage({ conversationId: id, parentId: null, role: 'user', content: `hello from ${title}` });
  s.kv.putBlocks(hashes.map((h) => block(h)));
  if (usedAt !== undefined) {
    // Order the LRU clock before the save runs the budget.
    s.kv.setConversationTokens(id, 'model-a', [1, 2, 3], 3);
    s.db.prepare('UPDATE conversation_tokens SET updated_at = ? WHERE conversation_id = ?').run(usedAt, id);
  }
  s.kv.saveConversationKv(id, { modelFingerprint: 'model-a', tokens: [1, 2, 3], computed: 3, blockHashes: hashes });
  if (usedAt !== undefined) s.db.prepare('UPDATE conversation_tokens SET updated_at = ? WHERE conversation_id = ?').run(usedAt, id);
  return id;
}

describe('KV budget', () => {
  it('evicts least recently used conversations first, keeps shared blocks, and never touches messages', () => {
    const s = setup({ budgetBytes: 100 * MiB });
    const a = saveChat(s, 'a', ['sys', 'a1', 'a2'], 1000);
    const b = saveChat(s, 'b', ['sys', 'b1', 'b2'], 2000);
    const c = saveChat(s, 'c', ['c1', 'c2'], 3000);
    expect(s.budget.usage()).toMatchObject({ totalBytes: 7 * BLOCK, blocks: 7 });
    const usageB = s.budget.usage().conversations.find((u) => u.conversationId === b)!;
    expect(usageB).toMatchObject({ title: 'b', blocks: 3, bytes: 3 * BLOCK, sharedBytes: BLOCK, lastUsedAt: 2000 });
    expect(s.budget.usage().conversations.map((u) => u.conversationId)).toEqual([c, b, a]);

    const e = s.budget.enforce(5 * BLOCK);
    expect(e).toEqual({ evictedConversations: [a], freedBytes: 2 * BLOCK, storedBytes: 5 * BLOCK });
    expect(s.kv.conversationBlocks(a)).toEqual([]);
    expect([...s.kv.storedHashes(['sys', 'a1', 'b1'])]).toEqual(['sys', 'b1']); // sys is b's too
    expect(s.kv.conversationTokens(a)).toMatchObject({ modelFingerprint: 'model-a', tokens: [1, 2, 3], computed: 3 }); // it resumes by recomputing

    expect(s.budget.enforce(2 * BLOCK).evictedConversations).toEqual([b]);
    expect(s.budget.storedBytes()).toBe(2 * BLOCK);
    for (const [id, title] of [[a, 'a'], [b, 'b'], [c, 'c']] as const) {
      expect(s.messages.thread(id).messages.map((m) => m.content)).toEqual([`hello from ${title}`]);
      expect(s.conversations.getConversation(id).title).toBe(title);
    }
    expect(s.budget.forgetConversation(c)).toBe(2 * BLOCK);
    expect(s.budget.usage()).toMatchObject({ totalBytes: 0, conversations: [] });
  });

  it('holds the budget over many conversations, and the file shrinks to the budget plus slack', () => {
    const { db, file } = tempDb();
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
    const budget = 4 * MiB;
    const s = setup({ budgetBytes: budget }, db);
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push(saveChat(s, `chat ${i}`, [`shared`, ...Array.from({ length: 4 }, (_, j) => `c${i}-${j}`)], 1000 + i));
      expect(s.budget.storedBytes()).toBeLessThanOrEqual(budget);
    }
    // The newest conversations keep their KV; the oldest lost it.
    const kept = s.budget.usage().conversations.map((u) => u.conversationId);
    expect(kept[0]).toBe(ids[39]);
    expect(kept.length).toBe(Math.floor((budget - BLOCK) / (4 * BLOCK)));
    expect(s.kv.conversationBlocks(ids[0]!)).toEqual([]);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(statSync(file).size).toBeLessThan(budget + 1 * MiB);
    expect(s.messages.thread(ids[0]!).messages).toHaveLength(1);
    // Free pages go back to the file system, not only to SQLite's free list.
    const before = statSync(file).size;
    s.budget.enforce(0);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(db.pragma('freelist_count', { simple: true })).toBe(0);
    expect(statSync(file).size).toBeLessThan(Math.min(before, 512 * KiB));
  });

  it('spares blocks not yet named by a block table for the grace period', () => {
    const s = setup({ budgetBytes: BLOCK, unnamedBlockGraceMs: 60_000 });
    s.kv.putBlocks([block('spill1'), block('spill2')]);
    expect(s.budget.enforce().storedBytes).toBe(2 * BLOCK);
    s.db.prepare('UPDATE kv_blocks SET last_used_at = 0').run();
    expect(s.budget.enforce().storedBytes).toBe(0);
  });

  it('skips KV writes while the volume is under its reserve, reported and not thrown', () => {
    let freeBytes = 10 * MiB;
    const s = setup({ budgetBytes: 100 * MiB, space: () => ({ totalBytes: 100 * MiB, freeBytes }), reserveBytes: 5 * MiB });
    const id = s.conversations.createConversation({ title: 'low' }).id;
    s.kv.putBlocks([block('x1')]);
    expect(s.kv.lastSkip).toBeNull();
    freeBytes = 5 * MiB + BLOCK / 2;
    s.kv.putBlocks([block('x2')]);
    expect(s.kv.lastSkip).toMatchObject({ reason: 'low-disk', freeBytes, reserveBytes: 5 * MiB });
    expect([...s.kv.storedHashes(['x1', 'x2'])]).toEqual(['x1']);
    // The table stops before the skipped block; the history is kept (a resume recomputes the tail).
    s.kv.saveConversationKv(id, { modelFingerprint: 'model-a', tokens: [1, 2], computed: 2, blockHashes: ['x1', 'x2'] });
    expect(s.kv.conversationBlocks(id)).toEqual(['x1']);
    expect(s.kv.conversationTokens(id)?.tokens).toEqual([1, 2]);
  });

  it('a full database skips the KV write; the message, saved apart, still goes in', () => {
    const s = setup({ budgetBytes: 100 * MiB });
    const id = s.conversations.createConversation({ title: 'full' }).id;
    s.kv.putBlocks([block('k1')]);
    const pages = s.db.pragma('page_count', { simple: true }) as number;
    s.db.pragma(`max_page_count = ${pages + 8}`);
    s.kv.putBlocks([block('k2', 256 * KiB)]);
    expect(s.kv.lastSkip).toMatchObject({ reason: 'disk-full' });
    expect(s.kv.storedHashes(['k2']).size).toBe(0);
    s.kv.saveConversationKv(id, { modelFingerprint: 'model-a', tokens: [1], computed: 1, blockHashes: ['k1', 'k2'] });
    expect(s.kv.conversationBlocks(id)).toEqual(['k1']);
    const m = s.messages.appendMessage({ conversationId: id, parentId: null, role: 'user', content: 'my words must survive' });
    expect(s.messages.thread(id).messages.map((x) => x.id)).toEqual([m]);
    // A table that itself does not fit is skipped too, never thrown.
    s.db.pragma(`max_page_count = ${s.db.pragma('page_count', { simple: true }) as number}`);
    expect(() => s.kv.saveConversationKv(id, { modelFingerprint: 'model-a', tokens: Array.from({ length: 5000 }, (_, i) => i), computed: 5000, blockHashes: ['k1'] })).not.toThrow();
    expect(s.kv.lastSkip).toMatchObject({ reason: 'disk-full' });
  });

  it('the budget setting, its default, and the reserve', () => {
    const { db, file } = tempDb();
    expect(kvBudgetSetting(db)).toBeUndefined();
    const space = { totalBytes: 500 * 1024 * MiB, freeBytes: 1 };
    expect(defaultKvBudget(space)).toBe(8 * 1024 * MiB);
    expect(defaultKvBudget({ totalBytes: 20 * 1024 * MiB, freeBytes: 1 })).toBe(2 * 1024 * MiB);
    expect(defaultKvBudget(undefined)).toBe(8 * 1024 * MiB);
    expect(freeSpaceReserve(space)).toBe(2 * 1024 * MiB);
    expect(freeSpaceReserve({ totalBytes: 10 * 1024 * MiB, freeBytes: 1 })).toBe(512 * MiB);
    setKvBudgetSetting(db, 123 * MiB);
    expect(kvBudgetSetting(db)).toBe(123 * MiB);
    expect(kvBudgetFor(db, file).budgetBytes).toBe(123 * MiB);
    expect(kvBudgetFor(db, file, 7).budgetBytes).toBe(7);
    setKvBudgetSetting(db, null);
    expect(kvBudgetFor(db, file).budgetBytes).toBeLessThanOrEqual(8 * 1024 * MiB);
  });

  it('converts an older database to incremental auto-vacuum once, bounded', () => {
    const dir = tempDir();
    const file = `${dir}/old.sqlite`;
    const old = openDatabase(file, { migrate: false });
    old.pragma('auto_vacuum = NONE');
    old.exec('VACUUM');
    old.exec('CREATE TABLE filler (x BLOB)');
    old.prepare('INSERT INTO filler VALUES (?)').run(Buffer.alloc(2 * MiB));
    expect(old.pragma('auto_vacuum', { simple: true })).toBe(0);
    old.close();
    const db = closeLater(openDatabase(file));
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(0);
    expect(ensureIncrementalVacuum(db, MiB)).toMatchObject({ outcome: 'skipped' });
    expect(ensureIncrementalVacuum(db)).toEqual({ outcome: 'converted' });
    expect(ensureIncrementalVacuum(db)).toEqual({ outcome: 'already-incremental' });
  });
});
