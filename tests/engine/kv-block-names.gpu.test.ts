// Block names and versions over a real engine (stories260K) and real SQLite files: a database written before
// SHA-256 block names opens, its old blocks dropped, and its conversation resumes by recomputing, exactly as an
// uninterrupted run, then is saved under the new names; two writers continuing one conversation from the same
// history: the second's save is refused and the stored history stays the first's, never an interleaving.
import { describe, expect, it } from 'vitest';
import { ConversationCache } from '../../src/gpu/engine/conversation-cache';
import { Engine, type GenerateOptions } from '../../src/gpu/engine/engine';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { ConversationRepository } from '../../src/store/conversations';
import { openDatabase } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { testDevice } from '../helpers/gpu';
import { storyTurns } from '../helpers/saved-conversation';
import { openModel } from '../helpers/shared';
import { closeLater, tempDb, tempDir } from '../helpers/temp';
import { schema6Database } from '../store/helpers/schema6-kv';

const FINGERPRINT = 'test-fingerprint-stories260k';
const file = openModel('stories260K.gguf');
const tok = tokenizerFromGguf(file.metadata);
const GREEDY: GenerateOptions = { maxNewTokens: 12 };
const loadEngine = async (): Promise<Engine> => Engine.load(await testDevice(), file, { maxSeqs: 2, modelFingerprint: FINGERPRINT });

describe('KV block names and history versions', () => {
  it('a database from before SHA-256 names opens and resumes (recomputing), then saves under the new names', async () => {
    const { first, second } = storyTurns(file);
    const engine = await loadEngine();
    const u = engine.createSequence();
    const u1 = await engine.generate(u, first, GREEDY);
    const u2 = await engine.generate(u, second, GREEDY);
    engine.releaseSequence(u);
    engine.clearKvCache();

    const history = [...first, ...u1.tokens];
    const old = schema6Database(tempDir(), FINGERPRINT, history, history.length - 1);
    const db = closeLater(openDatabase(old.file));
    const store = new KvBlockStore(db);
    expect(store.usage().blocks).toBe(0); // the old-named blocks were dropped by the migration
    const cache = new ConversationCache(engine, store);
    await cache.openConversation(old.conversationId);
    expect(cache.history(old.conversationId)).toEqual(history);
    const a2 = await cache.generate(old.conversationId, [...history, ...second], GREEDY);
    expect(a2.resume.reusedTokens).toBe(0);
    expect(a2.result.tokens).toEqual(u2.tokens);
    expect(a2.persistError).toBeUndefined();
    const table = store.conversationBlocks(old.conversationId);
    expect(table.length).toBeGreaterThan(0);
    for (const name of table) expect(name).toMatch(/^[0-9a-f]{64}$/);
    engine.destroy();
  });

  it('two writers continuing one conversation: the second save is refused, the stored history stays the first\'s', async () => {
    const { db, file: dbFile } = tempDb();
    const id = new ConversationRepository(db).createConversation({ title: 'shared' }).id;
    const prompt = tok.encode('Once upon a time there was a little girl named Lily.');
    const engine = await loadEngine();
    const start = await new ConversationCache(engine, new KvBlockStore(db)).generate(id, prompt, GREEDY);
    expect(start.persistError).toBeUndefined();
    const base = [...prompt, ...start.result.tokens];

    // Two processes (two connections, two caches) open the conversation at the same version.
    const a = new ConversationCache(engine, new KvBlockStore(db));
    const bStore = new KvBlockStore(closeLater(openDatabase(dbFile)));
    const b = new ConversationCache(engine, bStore);
    await a.openConversation(id);
    await b.openConversation(id);
    const fromA = await a.generate(id, [...base, ...tok.encode(' She liked cats.', { addBos: false })], GREEDY);
    expect(fromA.persistError).toBeUndefined();
    const fromB = await b.generate(id, [...base, ...tok.encode(' She had a red hat.', { addBos: false })], GREEDY);
    expect(fromB.persistError).toMatchObject({ code: 'kv-conversation-changed' });

    const saved = bStore.conversationTokens(id)!;
    expect(saved.tokens).toEqual(a.history(id));
    expect(saved.version).toBe(2);
    // B's sequence was released: its next turn starts from what is stored (A's turn), not from its own.
    expect(b.openConversations()).not.toContain(id);
    await b.openConversation(id);
    expect(b.history(id)).toEqual(a.history(id));
    engine.destroy();
  });
});
