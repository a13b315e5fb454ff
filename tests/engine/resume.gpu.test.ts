// Generate, persist the conversation's KV blocks to a real SQLite file, close it, reopen it in a fresh engine and
// continue: the tokens equal an uninterrupted run's exactly, and the KV came from disk.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { resumeFromStore } from '../../src/gpu/engine/resume';
import { ConversationRepository } from '../../src/store/conversations';
import { openDatabase } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';
import { saveConversationKv, storyTurns } from '../helpers/saved-conversation';

const FINGERPRINT = 'test-fingerprint-tinystories-656k';

describe('KV persistence and resume', () => {
  it('a conversation resumed from SQLite in a new engine continues exactly as an uninterrupted one', async () => {
    const file = openModel('TinyStories-656K.gguf');
    const { first, second } = storyTurns(file);
    const gpu = await testDevice();

    const uninterrupted = await Engine.load(gpu, file, { maxSeqs: 1 });
    const u = uninterrupted.createSequence();
    const a1 = await uninterrupted.generate(u, first, { maxNewTokens: 20 });
    const a2 = await uninterrupted.generate(u, second, { maxNewTokens: 20 });
    uninterrupted.destroy();

    const dbPath = join(mkdtempSync(join(tmpdir(), 'kvchat-resume-')), 'store.sqlite');
    let db = openDatabase(dbPath);
    const conversation = new ConversationRepository(db).createConversation({ title: 'story' }).id;
    const before = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: FINGERPRINT });
    const b = before.createSequence();
    const b1 = await before.generate(b, first, { maxNewTokens: 20 });
    expect(b1.tokens).toEqual(a1.tokens);
    const hashes = await saveConversationKv(before, b, FINGERPRINT, new KvBlockStore(db), conversation);
    before.destroy();
    db.close();

    db = openDatabase(dbPath);
    const reopened = new KvBlockStore(db);
    const history = reopened.conversationTokens(conversation)!;
    const after = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: FINGERPRINT });
    const c = after.createSequence();
    const resumed = await resumeFromStore(after, c, FINGERPRINT, history.tokens, reopened);
    expect(resumed.source).toBe('disk');
    expect(resumed.reusedTokens).toBe(hashes.length * 16);
    const c2 = await after.generate(c, [...history.tokens.slice(resumed.reusedTokens), ...second], { maxNewTokens: 20 });
    expect(c2.tokens).toEqual(a2.tokens);
    after.destroy();

    // A block whose bytes no longer match their checksum is never used: the store drops it (so the next save
    // writes it again) and the history is recomputed instead.
    db.prepare("UPDATE kv_blocks SET checksum = 'bad' WHERE hash = ?").run(hashes[0]);
    const again = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: FINGERPRINT });
    const d = again.createSequence();
    const refused = await resumeFromStore(again, d, FINGERPRINT, history.tokens, reopened);
    expect(refused).toMatchObject({ source: 'recompute', reusedTokens: 0 });
    expect(reopened.corruptBlocksDropped).toBe(1);
    expect(reopened.storedHashes([hashes[0]!]).size).toBe(0);
    expect((await again.generate(d, [...history.tokens, ...second], { maxNewTokens: 20 })).tokens).toEqual(a2.tokens);
    again.destroy();
    // Another model's engine does not find these blocks at all (their names include the model's fingerprint).
    const otherEngine = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: 'another-model' });
    const other = await resumeFromStore(otherEngine, otherEngine.createSequence(), 'another-model', history.tokens, reopened);
    expect(other).toMatchObject({ source: 'recompute', reusedTokens: 0, rejectedBlocks: 0 });
    otherEngine.destroy();
    db.close();
  });
});
