// The engine's KV cache at work on a real model: a shared system prompt is stored once and each conversation
// diverges correctly; a conversation evicted through RAM to SQLite comes back after the store is reopened and
// continues exactly; context policies shift the context and go on as a fresh prefill of the kept tokens would.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, type GenerateOptions } from '../../src/gpu/engine/engine';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { openDatabase } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';

const MODEL = 'stories260K.gguf';
const greedy: GenerateOptions = { maxNewTokens: 12 };

async function alone(prompt: readonly number[], opts: GenerateOptions = greedy): Promise<number[]> {
  const engine = await Engine.load(await testDevice(), openModel(MODEL), { maxSeqs: 1, prefixCache: false });
  try {
    return (await engine.generate(engine.createSequence(), prompt, opts)).tokens;
  } finally {
    engine.destroy();
  }
}

describe('KV cache in the engine', () => {
  it('two conversations with the same system prompt share its blocks and diverge correctly', async () => {
    const file = openModel(MODEL);
    const tok = tokenizerFromGguf(file.metadata);
    const system = tok.encode('Once upon a time there was a little girl named Lily. She lived in a small house near the big forest with her mom and dad and her dog.');
    expect(system.length).toBeGreaterThanOrEqual(32);
    const a = [...system, ...tok.encode(' One day Lily went to the park', { addBos: false })];
    const b = [...system, ...tok.encode(' The dog was very hungry', { addBos: false })];
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 2 });
    try {
      const sa = engine.createSequence();
      const ra = await engine.generate(sa, a, greedy);
      expect(ra.cachedTokens).toBe(0);
      const sb = engine.createSequence();
      const rb = await engine.generate(sb, b, greedy);
      const sharedBlocks = Math.floor(system.length / 16);
      expect(rb.cachedTokens).toBe(sharedBlocks * 16);
      expect(rb.prefix).toMatchObject({ source: 'gpu', fromGpu: sharedBlocks });
      // Stored once: both tables point at the same physical blocks for the system prompt.
      expect(engine.kvSnapshot().shared).toBe(sharedBlocks);
      expect(ra.tokens).toEqual(await alone(a));
      expect(rb.tokens).toEqual(await alone(b));
      engine.releaseSequence(sa);
      engine.releaseSequence(sb);
      expect(engine.freeKvBlocks).toBe(engine.pool.blocks);
      expect(engine.kvSnapshot().cached).toBeGreaterThanOrEqual(sharedBlocks);
    } finally {
      engine.destroy();
    }
  });

  it('a conversation evicted through RAM to SQLite resumes from disk after the store is reopened, exactly', async () => {
    const file = openModel(MODEL);
    const tok = tokenizerFromGguf(file.metadata);
    const first = tok.encode('Tom had a red ball. He liked to play with it in the garden every day after school with his sister.');
    const second = tok.encode(' Then the ball rolled away', { addBos: false });
    const reference = await alone(first, { maxNewTokens: 20 });
    const history = [...first, ...reference];
    const expected = await alone([...history, ...second]);

    const dbPath = join(mkdtempSync(join(tmpdir(), 'kvchat-tiers-')), 'store.sqlite');
    let db = openDatabase(dbPath);
    const gpu = await testDevice();
    // A small RAM tier: the conversation's blocks pass through it into SQLite.
    const opts = { maxSeqs: 1, modelFingerprint: 'tiers-test', ramBytes: 1, kvStore: new KvBlockStore(db) };
    const before = await Engine.load(gpu, file, opts);
    const s = before.createSequence();
    expect((await before.generate(s, first, { maxNewTokens: 20 })).tokens).toEqual(reference);
    before.releaseSequence(s);
    const full = Math.floor(before.kvSnapshot().cached);
    expect(full).toBeGreaterThan(0);
    expect(before.kv.evictIdle()).toBe(full);
    await before.kv.settle();
    expect(before.kvSnapshot()).toMatchObject({ cached: 0, spilledToStore: full });
    before.destroy();
    db.close();

    db = openDatabase(dbPath);
    const after = await Engine.load(gpu, file, { ...opts, kvStore: new KvBlockStore(db) });
    try {
      const r = await after.generate(after.createSequence(), [...history, ...second], greedy);
      expect(r.prefix).toMatchObject({ source: 'disk', fromDisk: full });
      expect(r.cachedTokens).toBe(full * 16);
      expect(r.tokens).toEqual(expected);
    } finally {
      after.destroy();
      db.close();
    }
  });

  it('truncate-middle keeps the head, reports the shift, and continues as a fresh prefill of the kept tokens', async () => {
    const file = openModel(MODEL);
    const tok = tokenizerFromGguf(file.metadata);
    const prompt = tok.encode('Once upon a time there was a big cat who liked to sleep in the sun.');
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 1, contextLength: 64 });
    try {
      const seq = engine.createSequence();
      const r = await engine.generate(seq, prompt, { maxNewTokens: 70, contextPolicy: { kind: 'truncate-middle', keepTokens: 17 } });
      expect(r.stopReason).toBe('max-tokens');
      expect(r.tokens.length).toBe(70);
      expect(r.contextShifts.length).toBeGreaterThan(0);
      for (const shift of r.contextShifts) {
        expect(shift).toMatchObject({ policy: 'truncate-middle', keptHead: 17 });
        expect(shift.droppedTokens).toBeGreaterThan(0);
        expect(shift.recomputedTokens).toBeLessThan(64 - 16); // the head's full block was kept, not recomputed
      }
      const { computed, pending } = engine.sequenceTokens(seq);
      const kept = [...computed, ...pending];
      expect(kept.length).toBeLessThanOrEqual(64);
      expect(kept.slice(0, 17)).toEqual(prompt.slice(0, 17));
      // The tokens after the last shift equal greedy generation from a fresh prefill of what precedes them.
      // A shift keeps the head and half the rest: 17 + floor((64 - 17) / 2) = 40 tokens; later ones came after it.
      const tail = Math.min(4, kept.length - 40);
      expect(tail).toBeGreaterThan(0);
      expect(await alone(kept.slice(0, kept.length - tail), { maxNewTokens: tail })).toEqual(kept.slice(kept.length - tail));
      // Under the default policy the same request stops at the limit instead.
      const stopped = await engine.generate(engine.createSequence(), prompt, { maxNewTokens: 70 });
      expect(stopped).toMatchObject({ stopReason: 'context', contextShifts: [] });
      // A prompt longer than the context: refused under 'stop', shifted before the first step otherwise.
      const long = [...prompt, ...prompt.slice(1), ...prompt.slice(1), ...prompt.slice(1), ...prompt.slice(1)];
      expect(long.length).toBeGreaterThan(64);
      await expect(engine.generate(engine.createSequence(), long, { maxNewTokens: 4 })).rejects.toThrow(/needs \d+ positions; the model's context is 64/);
      const shifted = await engine.generate(engine.createSequence(), long, { maxNewTokens: 4, contextPolicy: { kind: 'rolling-window', keepTokens: 1 } });
      expect(shifted.tokens.length).toBe(4);
      expect(shifted.contextShifts[0]).toMatchObject({ policy: 'rolling-window', keptHead: 1 });
      expect(shifted.contextShifts[0]!.droppedTokens).toBeGreaterThanOrEqual(long.length - 64);
    } finally {
      engine.destroy();
    }
  });
});
