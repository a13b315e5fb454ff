// Qwen3-MoE against llama.cpp: the synthetic F32 model of tests/helpers/moe-model.ts, regenerated from its seed, and
// llama.cpp's greedy tokens and first logits stored by bench/make-moe-fixtures.ts (CPU backend, F32 KV). Our
// GPU engine (f32 KV on SwiftShader, f16 KV on lavapipe) and our CPU reference must reproduce them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GgmlType } from '../../src/gpu/gguf/types';
import { CpuReferenceModel } from '../../src/gpu/model/cpu-reference';
import { testDevice } from '../helpers/gpu';
import { buildMoeModel, MOE_FIXTURE_SPEC, type MoeFixture } from '../helpers/moe-model';
import { argmax } from '../helpers/shared';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/qwen3moe-llamacpp.json', import.meta.url), 'utf8')) as MoeFixture;

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Greedy tokens (no stop token: llama.cpp's were taken for a fixed count) and the first generated logits. */
function cpuGreedy(model: CpuReferenceModel, prompt: readonly number[], n: number): { tokens: number[]; first: Float32Array } {
  let pos = 0;
  for (; pos < prompt.length - 1; pos++) model.forward(prompt[pos]!, pos);
  let token = prompt.at(-1)!;
  const tokens: number[] = [];
  let first: Float32Array | undefined;
  while (tokens.length < n) {
    const logits = model.forward(token, pos++);
    first ??= Float32Array.from(logits);
    token = argmax(logits);
    tokens.push(token);
  }
  return { tokens, first: first! };
}

describe('Qwen3-MoE reproduces llama.cpp', () => {
  expect(fixture.spec).toEqual(MOE_FIXTURE_SPEC);
  const file = GgufFile.fromBytes(buildMoeModel(fixture.spec));

  it('CPU reference: identical greedy tokens, first logits within 1e-4', async () => {
    for (const c of fixture.cases) {
      const r = cpuGreedy(await CpuReferenceModel.load(file), c.prompt_tokens, c.generated_tokens.length);
      expect(r.tokens).toEqual(c.generated_tokens);
      expect(maxAbsDiff(r.first, c.first_generated_position_logits)).toBeLessThan(1e-4);
    }
  });

  it('GPU engine: identical greedy tokens, first logits within 1e-3 (f32 KV) or 1e-2 (f16 KV)', async () => {
    const gpu = await testDevice();
    const engine = await Engine.load(gpu, file, { maxSeqs: 2 });
    try {
      expect(engine.pool.layout.dtype).toBe(gpu.caps.f16 ? 'f16' : 'f32');
      for (const c of fixture.cases) {
        const seq = engine.createSequence();
        try {
          const r = await engine.generate(seq, c.prompt_tokens, { maxNewTokens: c.generated_tokens.length, stopTokens: new Set(), captureFirstLogits: true });
          expect(r.tokens).toEqual(c.generated_tokens);
          expect(maxAbsDiff(r.firstLogits!, c.first_generated_position_logits)).toBeLessThan(engine.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3);
        } finally {
          engine.releaseSequence(seq);
        }
      }
    } finally {
      engine.destroy();
    }
  });
});

describe('Qwen3-MoE batching', () => {
  it('the three prompts decoded together (pairs grouped by expert across sequences) give llama.cpp\'s tokens', async () => {
    const file = GgufFile.fromBytes(buildMoeModel(fixture.spec));
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 3 });
    try {
      const runs = fixture.cases.map(async (c) => {
        const seq = engine.createSequence();
        try {
          return (await engine.generate(seq, c.prompt_tokens, { maxNewTokens: c.generated_tokens.length, stopTokens: new Set() })).tokens;
        } finally {
          engine.releaseSequence(seq);
        }
      });
      expect(await Promise.all(runs)).toEqual(fixture.cases.map((c) => c.generated_tokens));
    } finally {
      engine.destroy();
    }
  });
});

describe('Qwen3-MoE with Q8_0 experts', () => {
  it('GPU engine equals the CPU reference (greedy tokens, first logits within 1e-3 / 1e-2)', async () => {
    const file = GgufFile.fromBytes(buildMoeModel({ ...MOE_FIXTURE_SPEC, expertType: GgmlType.Q8_0 }));
    const prompt = fixture.cases[2]!.prompt_tokens;
    const want = cpuGreedy(await CpuReferenceModel.load(file), prompt, 32);
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 1 });
    const seq = engine.createSequence();
    try {
      const r = await engine.generate(seq, prompt, { maxNewTokens: 32, stopTokens: new Set(), captureFirstLogits: true });
      expect(r.tokens).toEqual(want.tokens);
      expect(maxAbsDiff(r.firstLogits!, want.first)).toBeLessThan(engine.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3);
    } finally {
      engine.releaseSequence(seq);
      engine.destroy();
    }
  });
});
