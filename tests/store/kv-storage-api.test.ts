// The KV budget as the app runs it (openApiServices): enforced after each saveConversationKv, its setting kept in
// the database, the Storage view's figures, "forget this chat's KV", and a start-up clean-up that never fails.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApiHandlers, invokeApi } from '../../src/main/api-handlers';
import { tokensToBytes, type StoredKvBlock } from '../../src/shared/api';
import { openDatabase } from '../../src/store/database';
import { testServices } from '../main/helpers/services';
import { tempDir } from '../helpers/temp';

const FINGERPRINT = 'ab'.repeat(32);
const BLOCK = 32 * 1024;
const block = (hash: string): StoredKvBlock => ({ hash, modelFingerprint: FINGERPRINT, layout: { dtype: 'f16' }, bytes: new Uint8Array(BLOCK).fill(hash.length) });

function open(dir: string) {
  const services = testServices({ dir });
  const handlers = createApiHandlers(services);
  const call = async <T>(method: Parameters<typeof invokeApi>[1], payload?: unknown): Promise<T> => {
    const r = await invokeApi(handlers, method, payload);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    return r.value as T;
  };
  return { services, call };
}

describe('KV storage through the API', () => {
  it('enforces the budget set by the user after each save, and shows and forgets KV per chat', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'models', 'm.gguf'), Buffer.alloc(5000));
    const { services, call } = open(dir);
    const storage = await call<{ budgetIsDefault: boolean; budgetBytes: number; modelsFolderBytes: number }>('getKvStorage');
    expect(storage).toMatchObject({ budgetIsDefault: true, modelsFolderBytes: 5000 });
    expect(storage.budgetBytes).toBeLessThanOrEqual(8 * 2 ** 30);
    await call('setKvBudget', { bytes: 3 * BLOCK });

    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const id = services.conversations.createConversation({ title: `chat ${i}` }).id;
      ids.push(id);
      await call('appendMessage', { conversationId: id, parentId: null, role: 'user', content: `question ${i}` });
      await call('putKvBlocks', { blocks: [block(`a${i}`.repeat(8)), block(`b${i}`.repeat(8))] });
      await call('saveConversationKv', { conversationId: id, modelFingerprint: FINGERPRINT, tokens: tokensToBytes([1, 2]), computed: 2, blockHashes: [`a${i}`.repeat(8), `b${i}`.repeat(8)] });
      services.db.prepare('UPDATE conversation_tokens SET updated_at = ? WHERE conversation_id = ?').run(1000 + i, id);
    }
    const after = await call<{ totalBytes: number; budgetIsDefault: boolean; conversations: { conversationId: number; bytes: number }[]; databaseBytes: number }>('getKvStorage');
    expect(after.budgetIsDefault).toBe(false);
    expect(after.totalBytes).toBeLessThanOrEqual(3 * BLOCK);
    expect(after.conversations).toEqual([expect.objectContaining({ conversationId: ids[2], bytes: 2 * BLOCK })]);
    expect(after.databaseBytes).toBeGreaterThan(0);
    expect(await call('forgetConversationKv', { conversationId: ids[2] })).toBe(2 * BLOCK);
    expect((await call<{ totalBytes: number }>('getKvStorage')).totalBytes).toBe(0);
    for (const [i, id] of ids.entries()) expect(services.messages.thread(id).messages.map((m) => m.content)).toEqual([`question ${i}`]);
    expect((await call<{ budgetIsDefault: boolean }>('setKvBudget', { bytes: null })).budgetIsDefault).toBe(true);
  });

  it('the start-up clean-up reports a failure instead of stopping the app', () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'kvchat.sqlite'));
    db.exec('DROP TABLE conversation_kv'); // a clean-up that cannot run
    db.close();
    const { services } = open(dir);
    expect(services.recovery.kv.problem).toMatch(/KV clean-up at start failed/);
    expect(services.conversations.listConversations()).toEqual([]);
  });
});
