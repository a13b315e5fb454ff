// Quantized KV in the engine on the shared models: greedy generation with q8_0 stays close to f32 KV (a sane floor of
// agreeing tokens; bench/kv-memory.ts measures the real agreement, q4_0's too), blocks swap out to SQLite and back
// byte for byte and continue exactly, and blocks of another KV type are never restored into a q8_0 pool.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { persistSequence, resumeFromStore } from '../../src/gpu/engine/resume';
import { blockBytes } from '../../src/gpu/kv/layout';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { ConversationRepository } from '../../src/store/conversations';
import { openDatabase } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { testDevice } from '../helpers/gpu';
import { storyTurns } from '../helpers/saved-conversation';
import { openModel } from '../helpers/shared';

const FINGERPRINT = 'test-fingerprint-q8-kv';

/** Index of the first difference of two token runs (their common length when one is a prefix of the other). */
function agreement(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe('q8_0 KV in the engine', () => {
  for (const model of ['stories260K.gguf', 'TinyStories-656K.gguf']) {
    it(`generates greedily close to f32 KV (${model})`, async () => {
      const file = openModel(model);
      const tok = tokenizerFromGguf(file.metadata);
      const prompt = tok.encode('Once upon a time, there was a little girl named Lily.');
      const gpu = await testDevice();
      const runs: Record<string, number[]> = {};
      for (const kvDtype of ['f32', 'q8_0', 'q4_0'] as const) {
        const engine = await Engine.load(gpu, file, { maxSeqs: 1, kvDtype });
        expect(engine.pool.layout.dtype).toBe(kvDtype);
        runs[kvDtype] = (await engine.generate(engine.createSequence(), prompt, { maxNewTokens: 48 })).tokens;
        engine.destroy();
      }
      // A floor, not the measure: quantized K/V may move an argmax sooner or later in a story.
      expect(agreement(runs.f32!, runs.q8_0!)).toBeGreaterThanOrEqual(8);
      expect(runs.q4_0!.length).toBeGreaterThan(0);
    });
  }

  it('swaps blocks out to SQLite and back byte for byte, continues exactly, and never restores another KV type', async () => {
    const file = openModel('TinyStories-656K.gguf');
    const { first, second } = storyTurns(file);
    const gpu = await testDevice();
    const load = (kvDtype: 'f16' | 'q8_0'): Promise<Engine> => Engine.load(gpu, file, { maxSeqs: 1, kvDtype, modelFingerprint: FINGERPRINT });

    const uninterrupted = await load('q8_0');
    const u = uninterrupted.createSequence();
    await uninterrupted.generate(u, first, { maxNewTokens: 20 });
    const want = (await uninterrupted.generate(u, second, { maxNewTokens: 20 })).tokens;
    uninterrupted.destroy();

    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'kvchat-q8-')), 'store.sqlite'));
    const store = new KvBlockStore(db);
    const conversation = new ConversationRepository(db).createConversation({ title: 'q8' }).id;
    const before = await load('q8_0');
    const b = before.createSequence();
    await before.generate(b, first, { maxNewTokens: 20 });
    const out = await before.exportBlocks(b);
    expect(out.length).toBeGreaterThan(0);
    expect(out[0]!.byteLength).toBe(blockBytes(before.pool.layout));
    const { hashes, written } = await persistSequence(before, b, FINGERPRINT, store);
    expect(written).toBe(out.length);
    const stored = store.getBlocks(hashes);
    hashes.forEach((h, i) => {
      expect(stored.get(h)!.layout).toMatchObject({ dtype: 'q8_0' });
      expect(Buffer.compare(Buffer.from(stored.get(h)!.bytes), Buffer.from(out[i]!))).toBe(0);
    });
    const history = [...before.sequenceTokens(b).computed, ...before.sequenceTokens(b).pending];
    store.setConversationTokens(conversation, FINGERPRINT, history, before.sequenceTokens(b).computed.length);
    before.destroy();

    // Swap-in: the pool's bytes after the restore are the stored ones, and the continuation is the uninterrupted one.
    const after = await load('q8_0');
    const c = after.createSequence();
    const resumed = await resumeFromStore(after, c, FINGERPRINT, history, store);
    expect(resumed).toMatchObject({ source: 'disk', rejectedBlocks: 0 });
    const back = await after.exportBlocks(c);
    expect(back.length).toBe(resumed.reusedTokens / 16);
    back.forEach((bytes, i) => expect(Buffer.compare(Buffer.from(bytes), Buffer.from(out[i]!))).toBe(0));
    expect((await after.generate(c, [...history.slice(resumed.reusedTokens), ...second], { maxNewTokens: 20 })).tokens).toEqual(want);
    after.destroy();

    // The same history stored by an f16 engine: a q8_0 engine restores none of it (recomputes), and the reverse.
    const f16 = await load('f16');
    const f = f16.createSequence();
    await f16.generate(f, first, { maxNewTokens: 20 });
    const f16Hashes = (await persistSequence(f16, f, FINGERPRINT, store)).hashes;
    expect(f16Hashes.some((h) => hashes.includes(h))).toBe(false); // the layout is part of a block's name
    f16.destroy();
    const q8 = await load('q8_0');
    const fromF16Only = await resumeFromStore(q8, q8.createSequence(), FINGERPRINT, history, {
      getBlocks: (hs) => {
        const asF16 = (h: string): string => f16Hashes[hashes.indexOf(h)] ?? h;
        const found = store.getBlocks(hs.map(asF16));
        return new Map(hs.filter((h) => found.has(asF16(h))).map((h) => [h, { ...found.get(asF16(h))!, hash: h }]));
      },
      storedHashes: (hs) => store.storedHashes(hs),
      putBlocks: () => undefined,
    });
    // Even served under the q8_0 names, f16 bytes are refused (their layout record says f16).
    expect(fromF16Only).toMatchObject({ source: 'recompute', reusedTokens: 0, rejectedBlocks: 1 });
    q8.destroy();
    db.close();
  });
});
