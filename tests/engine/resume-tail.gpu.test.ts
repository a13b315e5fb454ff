// A conversation of several blocks and a tail block, resumed from SQLite (the tail named from the chain the prefix
// match computed, read in a store call after the full blocks), continues exactly as an uninterrupted one; and a
// block in the middle whose bytes rotted on disk (same length, one byte changed) is never uploaded: the resume stops
// before it, recomputes the rest, and the output still equals the uninterrupted greedy tokens.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { persistSequence, resumeFromStore } from '../../src/gpu/engine/resume';
import { ConversationRepository } from '../../src/store/conversations';
import { KvBlockStore } from '../../src/store/kv-store';
import { testDevice } from '../helpers/gpu';
import { storyTurns } from '../helpers/saved-conversation';
import { openModel } from '../helpers/shared';
import { tempDb } from '../helpers/temp';

const FINGERPRINT = 'test-fingerprint-tinystories-656k';

describe('resume of full blocks and the tail block', () => {
  it('restores every block and the tail, and never uses a corrupt block', async () => {
    const file = openModel('TinyStories-656K.gguf');
    const { first, second } = storyTurns(file);
    const gpu = await testDevice();

    const uninterrupted = await Engine.load(gpu, file, { maxSeqs: 1 });
    const u = uninterrupted.createSequence();
    await uninterrupted.generate(u, first, { maxNewTokens: 70 });
    const expected = (await uninterrupted.generate(u, second, { maxNewTokens: 12 })).tokens;
    uninterrupted.destroy();

    const { db } = tempDb();
    const store = new KvBlockStore(db);
    const conversationId = new ConversationRepository(db).createConversation({ title: 'story' }).id;
    const before = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: FINGERPRINT });
    const b = before.createSequence();
    await before.generate(b, first, { maxNewTokens: 70 });
    const { hashes } = await persistSequence(before, b, FINGERPRINT, store, { conversationId });
    const { computed, pending } = before.sequenceTokens(b);
    const history = [...computed, ...pending];
    store.saveConversationKv(conversationId, { modelFingerprint: FINGERPRINT, tokens: history, computed: computed.length, blockHashes: hashes });
    before.destroy();
    const full = Math.floor(computed.length / 16);
    expect(full).toBeGreaterThanOrEqual(5); // a corrupt block in the middle has intact blocks on both sides
    expect(computed.length % 16).not.toBe(0); // and a tail block

    const resumeAndContinue = async (): Promise<{ reused: number; tokens: number[] }> => {
      const engine = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: FINGERPRINT });
      const seq = engine.createSequence();
      const r = await resumeFromStore(engine, seq, FINGERPRINT, history, store, { conversationId, computed: computed.length });
      const out = await engine.generate(seq, [...history.slice(r.reusedTokens), ...second], { maxNewTokens: 12 });
      engine.destroy();
      return { reused: r.reusedTokens, tokens: out.tokens };
    };

    const whole = await resumeAndContinue();
    expect(whole.reused).toBe(computed.length); // every full block and the tail came back
    expect(whole.tokens).toEqual(expected);

    // Block 2's bytes rot on disk (same length, one byte changed): only its checksum can tell.
    const rotten = Buffer.from(store.getBlocks([hashes[2]!]).get(hashes[2]!)!.bytes);
    rotten[100] = rotten[100]! ^ 0xff;
    db.prepare('UPDATE kv_blocks SET bytes = ? WHERE hash = ?').run(rotten, hashes[2]);
    const cut = await resumeAndContinue();
    expect(cut.reused).toBe(2 * 16); // blocks 0 and 1 only: nothing from block 2 on was uploaded as K/V
    expect(store.corruptBlocksDropped).toBe(1);
    expect(cut.tokens).toEqual(expected);
  });
});
