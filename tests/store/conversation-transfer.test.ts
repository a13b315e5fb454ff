// Chats that travel: export a conversation (every branch, settings, system prompt) as JSON and Markdown, import
// the JSON as a new conversation; with KV, the blocks come back verified (model in the library, names recomputed
// from the history, checksums), and a wrong model's or a damaged block is refused (the chat recomputes it).
import { describe, expect, it } from 'vitest';
import { blockChainRoot, blockHashChain, tailBlockName } from '../../src/gpu/kv/hash';
import { privateBlockName } from '../../src/gpu/kv/private-blocks';
import { conversationMarkdown } from '../../src/store/conversation-markdown';
import { exportConversation, importConversation, parseConversationExport } from '../../src/store/conversation-transfer';
import { ConversationRepository } from '../../src/store/conversations';
import type { Db } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { MessageRepository } from '../../src/store/messages';
import { tempDb } from '../helpers/temp';

const FINGERPRINT = 'f'.repeat(64);
const LAYOUT = { key: 'f16:2x1x8x16', dtype: 'f16' };

function addModel(db: Db, fingerprint: string): string {
  db.prepare(
    `INSERT INTO models (id, name, path, fingerprint, size, mtime_ms, architecture, parameter_count, quantization, context_length, stored_in_place, added_at)
     VALUES (?, 'tiny', '/m.gguf', ?, 1, 1, 'llama', 1, 'Q8_0', 2048, 1, 1)`,
  ).run(`model-${fingerprint.slice(0, 4)}`, fingerprint);
  return `model-${fingerprint.slice(0, 4)}`;
}

/** A chat with a branch (the first answer regenerated) and a saved KV: 2 full blocks and a tail block. */
function chat(db: Db) {
  const modelId = addModel(db, FINGERPRINT);
  const c = new ConversationRepository(db).createConversation({ title: 'Trip to Lisbon', systemPrompt: 'You are terse.', modelId, settings: { temperature: 0.3, seed: 7 } });
  const m = new MessageRepository(db);
  const q = m.appendMessage({ conversationId: c.id, parentId: null, role: 'user', content: 'Where to eat?' });
  const a1 = m.appendMessage({ conversationId: c.id, parentId: q, role: 'assistant', content: 'Try the pastéis.' });
  m.appendMessage({ conversationId: c.id, parentId: q, role: 'assistant', content: 'Alfama, by the river.', reasoning: 'They asked for a place.' });
  m.selectBranch(c.id, a1);
  const tokens = Array.from({ length: 40 }, (_, i) => 100 + i);
  const computed = 39;
  const root = blockChainRoot(FINGERPRINT, LAYOUT.key);
  const names = [...blockHashChain(root, tokens.slice(0, computed)), tailBlockName(root, c.id, tokens, computed)];
  const kv = new KvBlockStore(db);
  kv.putBlocks(names.map((hash, i) => ({ hash, modelFingerprint: FINGERPRINT, layout: i === 2 ? { ...LAYOUT, tail: true } : LAYOUT, bytes: new Uint8Array(512).fill(i + 1) })));
  kv.saveConversationKv(c.id, { modelFingerprint: FINGERPRINT, tokens, computed, blockHashes: names });
  return { id: c.id, a1, tokens, computed, names };
}

describe('conversation export and import', () => {
  it('round-trips every branch, the branch on screen, the settings and system prompt, as a new conversation', () => {
    const { db } = tempDb();
    const { id } = chat(db);
    const text = JSON.stringify(exportConversation(db, id));
    const { conversation, kvBlocksImported } = importConversation(db, parseConversationExport(text));
    expect(conversation.id).not.toBe(id);
    expect(kvBlocksImported).toBe(0);
    const conversations = new ConversationRepository(db);
    const before = conversations.getConversation(id);
    expect(conversation).toMatchObject({ title: before.title, systemPrompt: before.systemPrompt, settings: before.settings, modelId: before.modelId });
    const m = new MessageRepository(db);
    const shape = (cid: number) => m.thread(cid).messages.map((x) => ({ role: x.role, content: x.content, reasoning: x.reasoning, siblings: x.siblingIds.length }));
    expect(shape(conversation.id)).toEqual(shape(id));
    expect(m.allMessages(conversation.id).map((x) => x.content)).toEqual(m.allMessages(id).map((x) => x.content));
    expect(new KvBlockStore(db).conversationTokens(conversation.id)).toBeUndefined();
    // The original is untouched.
    expect(m.allMessages(id)).toHaveLength(3);
  });

  it('renders Markdown with the branch on screen first and every other branch once', () => {
    const { db } = tempDb();
    const { id } = chat(db);
    const md = conversationMarkdown(exportConversation(db, id));
    expect(md).toContain('# Trip to Lisbon');
    expect(md).toContain('> You are terse.');
    expect(md).toContain('temperature 0.3');
    expect(md.indexOf('Try the pastéis.')).toBeLessThan(md.indexOf('## Another branch, after: "Where to eat?"'));
    expect(md).toContain('Alfama, by the river.');
    expect(md.split('Where to eat?').length - 1).toBe(2); // once as a message, once naming where the branch parts
  });

  it('with KV: the blocks come back verified, the tail block renamed for the new conversation', () => {
    const { db } = tempDb();
    const { id, tokens, computed, names } = chat(db);
    const doc = exportConversation(db, id, { includeKv: true });
    expect(doc.kv!.blocks).toHaveLength(3);
    const r = importConversation(db, parseConversationExport(JSON.stringify(doc)));
    expect(r).toMatchObject({ kvBlocksImported: 3, kvBlocksRefused: 0 });
    const kv = new KvBlockStore(db);
    expect(kv.conversationTokens(r.conversation.id)).toMatchObject({ modelFingerprint: FINGERPRINT, tokens, computed });
    const root = blockChainRoot(FINGERPRINT, LAYOUT.key);
    const table = kv.conversationBlocks(r.conversation.id);
    expect(table).toEqual([names[0], names[1], tailBlockName(root, r.conversation.id, tokens, computed)]);
    expect([...kv.getBlocks([table[2]!]).get(table[2]!)!.bytes]).toEqual([...new Uint8Array(512).fill(3)]);
  });

  it('a wrong model\'s KV is refused: the chat imports and recomputes', () => {
    const { db } = tempDb();
    const { id } = chat(db);
    const doc = exportConversation(db, id, { includeKv: true });
    const elsewhere = tempDb().db;
    addModel(elsewhere, 'e'.repeat(64));
    const r = importConversation(elsewhere, parseConversationExport(JSON.stringify(doc)));
    expect(r).toMatchObject({ kvBlocksImported: 0, kvBlocksRefused: 3 });
    expect(r.kvRefusedReason).toMatch(/not in this library/);
    expect(r.conversation.modelId).toBeNull();
    const kv = new KvBlockStore(elsewhere);
    expect(kv.usage().blocks).toBe(0);
    expect(kv.conversationTokens(r.conversation.id)).toBeUndefined();
    expect(new MessageRepository(elsewhere).allMessages(r.conversation.id)).toHaveLength(3);
  });

  it('a damaged block or a name the history does not give is refused, and the table stops before it', () => {
    const { db } = tempDb();
    const { id, names } = chat(db);
    const doc = exportConversation(db, id, { includeKv: true });
    const damaged = structuredClone(doc);
    damaged.kv!.blocks[1]!.bytes = Buffer.from(new Uint8Array(512).fill(9)).toString('base64');
    const elsewhere = tempDb().db;
    addModel(elsewhere, FINGERPRINT);
    const r = importConversation(elsewhere, damaged);
    expect(r).toMatchObject({ kvBlocksImported: 1, kvBlocksRefused: 2 });
    expect(new KvBlockStore(elsewhere).conversationBlocks(r.conversation.id)).toEqual([privateBlockName(r.conversation.id, names[0]!)]);

    const renamed = structuredClone(doc);
    renamed.kv!.blocks[0]!.hash = 'a'.repeat(64);
    const r2 = importConversation(elsewhere, renamed);
    expect(r2).toMatchObject({ kvBlocksImported: 0, kvBlocksRefused: 3 });
  });

  it('imported blocks are private to the new conversation: never stored under a content name, and travel on under content names', () => {
    const { db } = tempDb();
    const { id, tokens, computed, names } = chat(db);
    const doc = exportConversation(db, id, { includeKv: true });
    const elsewhere = tempDb().db;
    addModel(elsewhere, FINGERPRINT);
    const r = importConversation(elsewhere, parseConversationExport(JSON.stringify(doc)));
    expect(r).toMatchObject({ kvBlocksImported: 3, kvBlocksRefused: 0 });
    const kv = new KvBlockStore(elsewhere);
    const root = blockChainRoot(FINGERPRINT, LAYOUT.key);
    const table = kv.conversationBlocks(r.conversation.id);
    expect(table).toEqual([privateBlockName(r.conversation.id, names[0]!), privateBlockName(r.conversation.id, names[1]!), tailBlockName(root, r.conversation.id, tokens, computed)]);
    // No other conversation's lookup (by content name) finds the imported bytes.
    expect(kv.storedHashes(names.slice(0, 2)).size).toBe(0);
    expect([...kv.getBlocks(table).values()].map((b) => b.layout.private)).toEqual([true, true, true]);
    expect([...kv.getBlocks([table[1]!]).get(table[1]!)!.bytes]).toEqual([...new Uint8Array(512).fill(2)]);

    // Exported again, the chat's blocks carry their content names (and no private mark); a third library imports them.
    const again = exportConversation(elsewhere, r.conversation.id, { includeKv: true });
    expect(again.kv!.blocks.map((b) => b.hash).slice(0, 2)).toEqual(names.slice(0, 2));
    expect(again.kv!.blocks.some((b) => 'private' in b.layout)).toBe(false);
    const third = tempDb().db;
    addModel(third, FINGERPRINT);
    expect(importConversation(third, parseConversationExport(JSON.stringify(again)))).toMatchObject({ kvBlocksImported: 3, kvBlocksRefused: 0 });

    // Where this library computed a block of the same name itself, its own block is used and the file's dropped.
    const local = new KvBlockStore(third);
    local.putBlocks([{ hash: names[0]!, modelFingerprint: FINGERPRINT, layout: LAYOUT, bytes: new Uint8Array(512).fill(42) }]);
    const r3 = importConversation(third, parseConversationExport(JSON.stringify(again)));
    expect(local.conversationBlocks(r3.conversation.id)[0]).toBe(names[0]);
    expect([...local.getBlocks([names[0]!]).get(names[0]!)!.bytes]).toEqual([...new Uint8Array(512).fill(42)]);
  });

  it('refuses a file that is not an export, with a clear error', () => {
    expect(() => parseConversationExport('{not json')).toThrow(expect.objectContaining({ code: 'invalid-import', message: expect.stringMatching(/not JSON/) }));
    expect(() => parseConversationExport('{"format":"other"}')).toThrow(/not a KVChat conversation export: format/);
    const { db } = tempDb();
    const { id } = chat(db);
    const doc = exportConversation(db, id);
    doc.messages[1]!.parentId = 99;
    expect(() => parseConversationExport(JSON.stringify(doc))).toThrow(/names parent 99/);
  });
});
