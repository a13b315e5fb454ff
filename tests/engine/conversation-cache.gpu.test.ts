// ConversationCache over a real engine (stories260K) and a real SQLite store: a conversation resumed from disk in
// a new engine continues exactly as an uninterrupted one; a branch (an earlier message edited) recomputes only
// what follows the shared prefix; short of blocks, the least recently used idle conversation is released first;
// an answer's token history and block table are saved together, or not at all.
import { describe, expect, it } from 'vitest';
import { ConversationCache, type ConversationKvStore } from '../../src/gpu/engine/conversation-cache';
import { Engine, type GenerateOptions } from '../../src/gpu/engine/engine';
import { blockHashChain, tailBlockName } from '../../src/gpu/kv/hash';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { ConversationRepository } from '../../src/store/conversations';
import { openDatabase, type Db } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { testDevice } from '../helpers/gpu';
import { storyTurns } from '../helpers/saved-conversation';
import { openModel } from '../helpers/shared';
import { closeLater, tempDb } from '../helpers/temp';

const FINGERPRINT = 'test-fingerprint-stories260k';
const file = openModel('stories260K.gguf');
const tok = tokenizerFromGguf(file.metadata);
const GREEDY: GenerateOptions = { maxNewTokens: 20 };

const loadEngine = async (opts: { kvBlocks?: number } = {}): Promise<Engine> => Engine.load(await testDevice(), file, { maxSeqs: 4, modelFingerprint: FINGERPRINT, ...opts });
const newConversation = (db: Db, title: string): number => new ConversationRepository(db).createConversation({ title }).id;
const sharedPrefix = (a: readonly number[], b: readonly number[]): number => {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
};

describe('ConversationCache', () => {
  it('a conversation resumed from SQLite in a new engine continues exactly as an uninterrupted one', async () => {
    const { first, second } = storyTurns(file);

    const uninterrupted = await loadEngine();
    const u = uninterrupted.createSequence();
    const u1 = await uninterrupted.generate(u, first, GREEDY);
    const u2 = await uninterrupted.generate(u, second, GREEDY);
    uninterrupted.destroy();

    const { db, file: dbFile } = tempDb();
    const id = newConversation(db, 'story');
    const before = await loadEngine();
    const a1 = await new ConversationCache(before, new KvBlockStore(db)).generate(id, first, GREEDY);
    expect(a1.result.tokens).toEqual(u1.tokens);
    expect(a1.persistError).toBeUndefined();
    before.destroy();
    db.close();

    const reopened = closeLater(openDatabase(dbFile));
    const after = await loadEngine();
    const restores: number[] = [];
    const cache = new ConversationCache(after, new KvBlockStore(reopened), { onRestored: (_, r) => restores.push(r.reusedTokens) });
    await cache.openConversation(id);
    const history = cache.history(id);
    expect(history).toEqual([...first, ...u1.tokens]);
    const a2 = await cache.generate(id, [...history, ...second], GREEDY);
    expect(a2.result.tokens).toEqual(u2.tokens);
    // Every computed token came from disk (the full blocks, then the conversation's own partial tail block): only
    // the last, still pending token and the new message ran.
    const computed = history.length - 1;
    expect(computed % 16).not.toBe(0); // so there is a tail block to restore
    expect(a2.resume).toMatchObject({ source: 'disk', reusedTokens: computed, historyTokens: history.length });
    expect(a2.result.promptTokens).toBe(1 + second.length);
    expect(restores).toEqual([computed]);
    after.destroy();
  });

  it('a branch (an earlier message edited) recomputes only what follows the shared prefix', async () => {
    const story = 'Once upon a time there was a little girl named Lily. She liked to play in the park with her friends every day.';
    const original = tok.encode(`${story} One day she saw a big red ball.`);
    const edited = tok.encode(`${story} One day she found a small blue box.`);
    const shared = sharedPrefix(original, edited);
    expect(shared).toBeGreaterThanOrEqual(32);

    const { db } = tempDb();
    const id = newConversation(db, 'branch');
    const engine = await loadEngine();
    const cache = new ConversationCache(engine, new KvBlockStore(db));
    await cache.generate(id, original, GREEDY);
    const branched = await cache.generate(id, edited, GREEDY);
    const kept = Math.floor(shared / 16) * 16;
    // The old sequence's blocks stay cached on the GPU once released: the shared full blocks come from there.
    expect(branched.resume).toMatchObject({ source: 'gpu', reusedTokens: kept });
    expect(branched.result.promptTokens).toBe(edited.length - kept);
    expect(cache.history(id)).toEqual([...edited, ...branched.result.tokens]);
    engine.destroy();

    const fresh = await loadEngine();
    expect(branched.result.tokens).toEqual((await fresh.generate(fresh.createSequence(), edited, GREEDY)).tokens);
    fresh.destroy();
  });

  it('short of blocks, releases the least recently used idle conversation first, never a running one', async () => {
    const { db } = tempDb();
    const [a, b, c] = ['a', 'b', 'c'].map((t) => newConversation(db, t)) as [number, number, number];
    const engine = await loadEngine();
    const cache = new ConversationCache(engine, new KvBlockStore(db));
    const prompts = new Map([
      [a, tok.encode('Once upon a time there was a cat.')],
      [b, tok.encode('Tom had a red ball and a blue kite.')],
      [c, tok.encode('The sun was hot and the sky was blue.')],
    ]);
    for (const id of [a, b, c]) await cache.generate(id, prompts.get(id)!, GREEDY);
    await cache.generate(a, [...cache.history(a), ...tok.encode(' The cat', { addBos: false })], GREEDY);
    expect(cache.openConversations()).toEqual([b, c, a]);

    // One block more than free: releasing the least recently used (b) is enough.
    cache.releaseIdle(engine.freeKvBlocks + 1);
    expect(cache.openConversations()).toEqual([c, a]);
    // `keep` is never released, even when it is the least recently used.
    cache.releaseIdle(engine.freeKvBlocks + 1, c);
    expect(cache.openConversations()).toEqual([c]);

    // While c generates, no demand releases it.
    await cache.generate(b, prompts.get(b)!, GREEDY);
    let firstToken = (): void => {};
    const answering = new Promise<void>((resolve) => (firstToken = resolve));
    const answer = cache.generate(c, [...cache.history(c), ...tok.encode(' Then', { addBos: false })], { ...GREEDY, onToken: () => firstToken() });
    await answering;
    cache.releaseIdle(Number.MAX_SAFE_INTEGER);
    const duringAnswer = cache.openConversations();
    expect((await answer).persistError).toBeUndefined();
    expect(duringAnswer).toEqual([c]);
    engine.destroy();
  });

  it("saves an answer's token history and block table together, or neither", async () => {
    const { db } = tempDb();
    const id = newConversation(db, 'persist');
    const store = new KvBlockStore(db);
    const engine = await loadEngine();
    const cache = new ConversationCache(engine, store);
    const prompt = tok.encode('Once upon a time there was a little girl named Lily. She liked to play in the park.');
    const first = await cache.generate(id, prompt, GREEDY);
    const history = [...prompt, ...first.result.tokens];
    const computed = history.length - 1; // the last sampled token is still pending
    const saved = store.conversationTokens(id)!;
    expect(saved).toEqual({ modelFingerprint: FINGERPRINT, tokens: history, computed, version: 1 });
    const table = store.conversationBlocks(id);
    // The full blocks' content names, then the conversation's own partial tail block.
    expect(computed % 16).not.toBe(0);
    expect(table).toEqual([...blockHashChain(engine.kv.chainRoot, history.slice(0, computed)), tailBlockName(engine.kv.chainRoot, id, history, computed)]);
    expect(table).toHaveLength(Math.floor(computed / 16) + 1);
    expect(store.storedHashes(table).size).toBe(table.length);

    // A store that loses the block bytes: the table cannot name them, so the new history is not saved either.
    const losing: ConversationKvStore = {
      getBlocks: (h) => store.getBlocks(h),
      storedHashes: (h) => store.storedHashes(h),
      putBlocks: () => {},
      conversationTokens: (c) => store.conversationTokens(c),
      saveConversationKv: (c, kv) => store.saveConversationKv(c, kv),
    };
    const lossy = new ConversationCache(engine, losing);
    const next = await lossy.generate(id, [...history, ...tok.encode(' One day she saw a big dog.', { addBos: false }), ...tok.encode(' The dog', { addBos: false })], GREEDY);
    expect(next.persistError).toBeDefined();
    expect(next.result.tokens.length).toBeGreaterThan(0);
    expect(store.conversationTokens(id)).toEqual(saved);
    expect(store.conversationBlocks(id)).toEqual(table);
    engine.destroy();
  });
});
