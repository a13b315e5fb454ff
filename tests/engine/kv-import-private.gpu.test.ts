// Imported KV never poisons the shared prefix cache: a crafted export carries wrong K/V under the right block names
// and valid checksums. The imported chat still resumes at once from its own (private) blocks, but a different
// conversation with the same prefix never gets them, from the GPU pool, host RAM or SQLite: it computes its own
// K/V and its greedy output equals a fresh run's. Once this machine computed those blocks itself, its own are the
// shared ones, and the imported chat uses them too.
import { describe, expect, it } from 'vitest';
import { ConversationCache, type ConversationKvStore } from '../../src/gpu/engine/conversation-cache';
import { Engine } from '../../src/gpu/engine/engine';
import { persistSequence, resumeFromStore } from '../../src/gpu/engine/resume';
import { blockHashChain } from '../../src/gpu/kv/hash';
import { privateBlockName } from '../../src/gpu/kv/private-blocks';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { blockChecksum } from '../../src/store/block-checksum';
import { exportConversation, importConversation, parseConversationExport } from '../../src/store/conversation-transfer';
import { ConversationRepository } from '../../src/store/conversations';
import type { Db } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';
import { tempDb } from '../helpers/temp';

const FINGERPRINT = 'c'.repeat(64);

function addModel(db: Db): string {
  db.prepare(
    `INSERT INTO models (id, name, path, fingerprint, size, mtime_ms, architecture, parameter_count, quantization, context_length, stored_in_place, added_at)
     VALUES ('tiny', 'tiny', '/m.gguf', ?, 1, 1, 'llama', 1, 'F32', 2048, 1, 1)`,
  ).run(FINGERPRINT);
  return 'tiny';
}

describe('imported KV blocks are private to the imported conversation', () => {
  it('a crafted import resumes its own chat but never feeds another conversation, in any tier', async () => {
    const file = openModel('TinyStories-656K.gguf');
    const tok = tokenizerFromGguf(file.metadata);
    const prompt = tok.encode('Once upon a time, there was a little dog named Max who loved to run in the park with his red ball. One sunny day, Max saw a big cat sitting under a tall tree near the pond. The cat was orange and fluffy.');
    expect(prompt.length).toBeGreaterThan(36); // two full blocks and a partial one
    const gpu = await testDevice();

    const freshEngine = await Engine.load(gpu, file, { maxSeqs: 1 });
    const fresh = (await freshEngine.generate(freshEngine.createSequence(), prompt, { maxNewTokens: 20 })).tokens;
    freshEngine.destroy();

    // The exporting machine: a chat whose KV is saved, exported with it, then tampered with: wrong K/V (every value
    // the same) under the right names, with checksums that match the wrong bytes.
    const { db: origin } = tempDb();
    const conversation = new ConversationRepository(origin).createConversation({ title: 'dog', modelId: addModel(origin) }).id;
    const originStore = new KvBlockStore(origin);
    const exporter = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: FINGERPRINT });
    const a = exporter.createSequence();
    expect((await exporter.generate(a, prompt, { maxNewTokens: 4 })).tokens).toEqual(fresh.slice(0, 4));
    const { hashes } = await persistSequence(exporter, a, FINGERPRINT, originStore, { conversationId: conversation });
    const { computed, pending } = exporter.sequenceTokens(a);
    originStore.saveConversationKv(conversation, { modelFingerprint: FINGERPRINT, tokens: [...computed, ...pending], computed: computed.length, blockHashes: hashes });
    const content = blockHashChain(exporter.kv.chainRoot, computed); // what any conversation's prefix lookup asks for
    exporter.destroy();
    const doc = exportConversation(origin, conversation, { includeKv: true });
    for (const b of doc.kv!.blocks) {
      const wrong = new Uint8Array(Buffer.from(b.bytes, 'base64').byteLength).fill(0x3c);
      b.bytes = Buffer.from(wrong).toString('base64');
      b.checksum = blockChecksum(wrong);
    }

    // The importing machine takes every block (names and checksums check out)...
    const { db } = tempDb();
    addModel(db);
    const imported = importConversation(db, parseConversationExport(JSON.stringify(doc)));
    expect(imported).toMatchObject({ kvBlocksImported: doc.kv!.blocks.length, kvBlocksRefused: 0 });
    const store = new KvBlockStore(db);
    expect(store.storedHashes(content).size).toBe(0); // ...but under none of the names a prefix lookup computes

    // A branch of the imported chat (an edit or a regenerate: a prompt that no longer extends what its sequence holds)
    // resumes from its private blocks too, through the conversation cache (a read-only view of the store here, so
    // the saved history below stays as imported).
    const readOnly: ConversationKvStore = {
      getBlocks: (h) => store.getBlocks(h),
      storedHashes: (h) => store.storedHashes(h),
      putBlocks: () => undefined,
      conversationTokens: (id) => store.conversationTokens(id),
      saveConversationKv: () => undefined,
    };
    const brancher = await Engine.load(gpu, file, { maxSeqs: 2, modelFingerprint: FINGERPRINT });
    const branched = store.conversationTokens(imported.conversation.id)!.tokens.slice(0, 40);
    const edit = await new ConversationCache(brancher, readOnly).generate(imported.conversation.id, [...branched, branched[39]! + 1], { maxNewTokens: 2 });
    expect(edit.resume.reusedTokens).toBe(32);
    brancher.destroy();

    // The imported chat resumes instantly from them (and, its K/V being wrong, does not continue as a fresh run).
    const engine = await Engine.load(gpu, file, { maxSeqs: 2, modelFingerprint: FINGERPRINT, kvStore: store });
    const saved = store.conversationTokens(imported.conversation.id)!;
    const x = engine.createSequence();
    const resumed = await resumeFromStore(engine, x, FINGERPRINT, saved.tokens, store, { conversationId: imported.conversation.id, computed: saved.computed });
    expect(resumed).toMatchObject({ source: 'disk', reusedTokens: saved.computed });
    const poisoned = await engine.generate(x, saved.tokens.slice(resumed.reusedTokens), { maxNewTokens: 16 });
    expect(poisoned.tokens).not.toEqual(fresh.slice(4, 20));
    // Saved again, everything it computed over the imported K/V stays private too.
    const table = (await persistSequence(engine, x, FINGERPRINT, store, { conversationId: imported.conversation.id })).hashes;
    const grown = blockHashChain(engine.kv.chainRoot, engine.sequenceTokens(x).computed);
    expect(table.slice(0, grown.length)).toEqual(grown.map((h) => privateBlockName(imported.conversation.id, h)));
    expect(store.storedHashes(grown).size).toBe(0);

    // GPU pool: the imported chat's blocks are resident, yet another conversation's prompt finds none of them.
    const y = engine.createSequence();
    const fromGpu = await engine.generate(y, prompt, { maxNewTokens: 20 });
    expect(fromGpu.cachedTokens).toBe(0);
    expect(fromGpu.tokens).toEqual(fresh);
    engine.releaseSequence(y);
    engine.clearKvCache(); // forget the correct blocks that conversation just computed

    // Host RAM: the imported chat's blocks evicted there are not found either.
    engine.releaseSequence(x);
    expect(engine.kv.evictIdle()).toBeGreaterThan(0);
    await engine.kv.settle();
    expect(engine.kv.ram.has(privateBlockName(imported.conversation.id, content[0]!))).toBe(true);
    const z = engine.createSequence();
    const fromRam = await engine.generate(z, prompt, { maxNewTokens: 20 });
    expect(fromRam.cachedTokens).toBe(0);
    expect(fromRam.tokens).toEqual(fresh);
    engine.destroy();

    // SQLite: a fresh engine, another conversation resumed with the same history, then continued.
    const other = new ConversationRepository(db).createConversation({ title: 'another dog' }).id;
    const second = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: FINGERPRINT, kvStore: store });
    const b = second.createSequence();
    const history = [...prompt, ...fresh.slice(0, 4)];
    const refused = await resumeFromStore(second, b, FINGERPRINT, history, store, { conversationId: other, computed: history.length - 1 });
    expect(refused).toMatchObject({ source: 'recompute', reusedTokens: 0 });
    expect((await second.generate(b, history, { maxNewTokens: 16 })).tokens).toEqual(fresh.slice(4, 20));

    // Once this machine computed those blocks itself, its own are the shared ones: a third conversation gets them,
    // and so does the imported chat, for every block this machine has.
    const own = await persistSequence(second, b, FINGERPRINT, store, { conversationId: other });
    store.saveConversationKv(other, { modelFingerprint: FINGERPRINT, tokens: [...second.sequenceTokens(b).computed, ...second.sequenceTokens(b).pending], computed: second.sequenceTokens(b).computed.length, blockHashes: own.hashes });
    second.destroy();
    const third = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: FINGERPRINT, kvStore: store });
    const c = third.createSequence();
    const shared = await third.generate(c, prompt, { maxNewTokens: 20 });
    expect(shared.cachedTokens).toBe(Math.floor((prompt.length - 1) / 16) * 16);
    expect(shared.tokens).toEqual(fresh);
    third.releaseSequence(c);
    third.clearKvCache();
    const again = third.createSequence();
    const reopened = await resumeFromStore(third, again, FINGERPRINT, saved.tokens, store, { conversationId: imported.conversation.id, computed: saved.computed });
    expect(reopened.reusedTokens).toBeGreaterThan(0);
    expect(third.kv.blockNames(again).slice(0, 2)).toEqual(content.slice(0, 2));
    third.destroy();
  });
});
