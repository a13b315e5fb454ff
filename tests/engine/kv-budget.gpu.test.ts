// The KV disk budget over a real engine (stories260K) and a real SQLite store: with room for about one
// conversation, saving newer ones evicts the older ones' blocks; in a new engine the newest resumes from disk and
// an evicted one recomputes, both continuing exactly as uninterrupted runs (greedy).
import { describe, expect, it } from 'vitest';
import { ConversationCache } from '../../src/gpu/engine/conversation-cache';
import { Engine, type GenerateOptions } from '../../src/gpu/engine/engine';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { ConversationRepository } from '../../src/store/conversations';
import { openDatabase, type Db } from '../../src/store/database';
import { KvBudget } from '../../src/store/kv-budget';
import { KvBlockStore } from '../../src/store/kv-store';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';
import { closeLater, tempDb } from '../helpers/temp';

const FINGERPRINT = 'test-fingerprint-stories260k';
const file = openModel('stories260K.gguf');
const tok = tokenizerFromGguf(file.metadata);
const GREEDY: GenerateOptions = { maxNewTokens: 20 };
const loadEngine = async (): Promise<Engine> => Engine.load(await testDevice(), file, { maxSeqs: 4, modelFingerprint: FINGERPRINT });

const STORIES = [
  'Once upon a time, there was a little dog named Max who loved to run in the park with his ball.',
  'Lily had a red kite. Every morning she took it to the big hill behind her house to fly it.',
  'Tom and Sam were best friends. They liked to build tall towers with blocks in their room.',
];
const NEXT = tok.encode(' One day,', { addBos: false });

describe('KV budget with the engine', () => {
  it('the newest conversation resumes from disk, an evicted one recomputes, both with identical greedy output', async () => {
    const firsts = STORIES.map((s) => tok.encode(s));
    // Uninterrupted runs: each story, then " One day," in the same sequence.
    const reference = await loadEngine();
    const expected: number[][] = [];
    for (const first of firsts) {
      const seq = reference.createSequence();
      const a1 = await reference.generate(seq, first, GREEDY);
      expected.push((await reference.generate(seq, NEXT, GREEDY)).tokens);
      expect(a1.tokens.length).toBeGreaterThan(0);
      reference.releaseSequence(seq);
    }
    reference.destroy();

    let budgetBytes = Number.MAX_SAFE_INTEGER;
    const { db, file: dbFile } = tempDb();
    const store = (d: Db): KvBlockStore => new KvBlockStore(d, { budget: new KvBudget(d, { budgetBytes: () => budgetBytes, unnamedBlockGraceMs: 0 }) });
    const ids = STORIES.map((_, i) => new ConversationRepository(db).createConversation({ title: `story ${i}` }).id);
    const engine = await loadEngine();
    const kv = store(db);
    const cache = new ConversationCache(engine, kv);
    for (const [i, first] of firsts.entries()) {
      const a = await cache.generate(ids[i]!, first, GREEDY);
      expect(a.persistError).toBeUndefined();
      if (i === 0) budgetBytes = Math.floor(kv.usage().bytes * 1.5); // room for about one conversation
    }
    engine.destroy();
    const usage = kv.budget!.usage();
    expect(usage.totalBytes).toBeLessThanOrEqual(budgetBytes);
    expect(usage.conversations.map((c) => c.conversationId)).toEqual([ids[2]]);
    db.close();

    const reopened = closeLater(openDatabase(dbFile));
    const fresh = await loadEngine();
    const resumed = new ConversationCache(fresh, store(reopened));
    for (const i of [2, 0]) {
      await resumed.openConversation(ids[i]!);
      const history = resumed.history(ids[i]!);
      expect(history.length).toBeGreaterThan(firsts[i]!.length);
      const a = await resumed.generate(ids[i]!, [...history, ...NEXT], GREEDY);
      expect(a.result.tokens).toEqual(expected[i]);
      expect(a.resume.source).toBe(i === 2 ? 'disk' : 'recompute');
      if (i === 2) expect(a.resume.reusedTokens).toBeGreaterThan(0);
    }
    fresh.destroy();
  });
});
