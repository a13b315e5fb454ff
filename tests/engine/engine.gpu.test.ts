// End to end on the shared models: the WebGPU engine's greedy generation equals the references token for token,
// batched prefill equals token-by-token prefill, and batched decode equals each prompt alone.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { testDevice } from '../helpers/gpu';
import { loadReference, openModel, REFERENCE_CASES, referencePositions } from '../helpers/shared';

const EOS = 2;

async function greedy(engine: Engine, prompt: readonly number[], maxNewTokens: number, capture = false) {
  const seq = engine.createSequence();
  try {
    return await engine.generate(seq, prompt, { maxNewTokens, stopTokens: new Set([EOS]), captureFirstLogits: capture });
  } finally {
    engine.releaseSequence(seq);
  }
}

describe('WebGPU engine reproduces the shared references', () => {
  for (const { model, reference } of REFERENCE_CASES) {
    it(`${model} → ${reference}: identical greedy tokens, first logits within 1e-3 (f32 KV) or 1e-2 (f16 KV)`, async () => {
      const ref = loadReference(reference);
      const gpu = await testDevice();
      const engine = await Engine.load(gpu, openModel(model), { maxSeqs: 4 });
      try {
        // The f16 path where the device has shader-f16 (lavapipe), the f32 path elsewhere (SwiftShader).
        expect(engine.pool.layout.dtype).toBe(gpu.caps.f16 ? 'f16' : 'f32');
        const positions = referencePositions(ref);
        const r = await greedy(engine, ref.prompt_tokens, positions - ref.prompt_tokens.length + 1, true);
        const got = ref.stopped_on_eog && r.tokens.at(-1) === EOS ? r.tokens.slice(0, -1) : r.tokens;
        expect(got).toEqual(ref.generated_tokens);
        let maxErr = 0;
        ref.first_generated_position_logits.forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - r.firstLogits![i]!))));
        // f16 K/V (the default on shader-f16 devices) rounds each cached value to 11 significant bits.
        expect(maxErr).toBeLessThan(engine.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3);
      } finally {
        engine.destroy();
      }
    });
  }
});

describe('WebGPU engine batching', () => {
  it('prefill in one batch equals prefill token by token', async () => {
    const file = openModel('TinyStories-656K.gguf');
    const prompt = tokenizerFromGguf(file.metadata).encode('The little dog ran to the park because he wanted to find his friend, the big brown cat who lived near the old tree.');
    expect(prompt.length).toBeGreaterThan(20);
    const batched = await Engine.load(await testDevice(), file, { maxBatchTokens: 64 });
    const single = await Engine.load(await testDevice(), file, { maxBatchTokens: 1, maxSeqs: 1 });
    try {
      const a = await greedy(batched, prompt, 40, true);
      const b = await greedy(single, prompt, 40, true);
      expect(a.tokens).toEqual(b.tokens);
      const err = a.firstLogits!.reduce((m, v, i) => Math.max(m, Math.abs(v - b.firstLogits![i]!)), 0);
      expect(err).toBeLessThan(1e-3);
    } finally {
      batched.destroy();
      single.destroy();
    }
  });

  it('several different prompts decoded together give exactly what each gives alone', async () => {
    const file = openModel('stories260K.gguf');
    const tok = tokenizerFromGguf(file.metadata);
    const prompts = ['Once upon a time', 'The cat', 'Lily and Ben went to the'].map((p) => tok.encode(p));
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 4 });
    try {
      const alone = [];
      for (const p of prompts) alone.push((await greedy(engine, p, 24)).tokens);
      // Staggered joins: the later requests enter while the first ones are already decoding.
      const together = await Promise.all(prompts.map(async (p, i) => {
        await new Promise((r) => setTimeout(r, i * 30));
        return (await greedy(engine, p, 24)).tokens;
      }));
      expect(together).toEqual(alone);
      expect(engine.freeKvBlocks).toBe(engine.pool.blocks);
    } finally {
      engine.destroy();
    }
  });

  it('a request queued the moment another finishes still runs (no stranded request between loop turns)', { timeout: 30_000 }, async () => {
    const file = openModel('stories260K.gguf');
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 2 });
    try {
      const prompt = tokenizerFromGguf(file.metadata).encode('Once upon a time');
      // Each request starts in the microtasks right after the previous one resolves, with no timer in between.
      const runs: number[][] = [];
      for (let i = 0; i < 4; i++) runs.push((await greedy(engine, prompt, 3)).tokens);
      expect(runs.every((r) => r.length === 3 && r.join() === runs[0]!.join())).toBe(true);
    } finally {
      engine.destroy();
    }
  });
});
