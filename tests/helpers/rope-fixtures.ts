// The llama.cpp fixtures of scripts/make-phi3-fixtures.ts and the checks every RoPE-scaling test runs on them: our CPU
// reference and our WebGPU engine, loaded with the fixture's context size, against llama.cpp's greedy tokens and
// first logits.
import { expect } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import type { GgufFile } from '../../src/gpu/gguf/reader';
import { readModelConfig, type ModelConfig } from '../../src/gpu/model/config';
import { CpuReferenceModel, loadCpuWeights } from '../../src/gpu/model/cpu-reference';
import { cpuGreedyTo, maxAbsDiff } from './cpu-greedy';
import { testDevice } from './gpu';
import { readOracleFixture, type OracleFixture } from './oracle-fixture';
import { FIXTURE_POSITIONS, type SyntheticRopeSpec } from './phi3-synthetic';

export { maxAbsDiff };

/** These fixtures always name the context llama.cpp was loaded with. */
export type RopeFixture = OracleFixture<SyntheticRopeSpec> & { readonly context_size: number };

export const ropeFixture = (name: string): RopeFixture => readOracleFixture<SyntheticRopeSpec>(`arch-${name}`) as RopeFixture;

/** The CPU reference loaded as llama.cpp was: with the fixture's context (LongRoPE's choice depends on it). */
export async function cpuReferenceAt(file: GgufFile, contextLength: number, edit: (c: ModelConfig) => ModelConfig = (c) => c): Promise<CpuReferenceModel> {
  return new CpuReferenceModel(edit({ ...readModelConfig(file.header), contextLength }), await loadCpuWeights(file));
}

/** Greedy tokens until FIXTURE_POSITIONS positions, and the logits after the prompt. */
export const cpuGreedy = (model: CpuReferenceModel, prompt: readonly number[]): { tokens: number[]; first: Float32Array } => cpuGreedyTo(model, prompt, FIXTURE_POSITIONS);

/** CPU reference against llama.cpp: identical greedy tokens, first logits within 1e-3. */
export async function expectCpuEqualsFixture(file: GgufFile, fx: RopeFixture): Promise<void> {
  const model = await cpuReferenceAt(file, fx.context_size);
  for (const c of fx.cases) {
    const r = cpuGreedy(model, c.prompt_tokens);
    expect(r.tokens).toEqual(c.generated_tokens);
    expect(maxAbsDiff(r.first, c.first_generated_position_logits)).toBeLessThan(1e-3);
  }
}

/**
 * The engine (loaded with the fixture's context) against llama.cpp: identical greedy tokens, first logits within
 * 1e-3 with f32 KV (1e-2 with f16 KV, lavapipe).
 */
export async function expectEngineEqualsFixture(file: GgufFile, fx: RopeFixture): Promise<void> {
  const gpu = await testDevice();
  const engine = await Engine.load(gpu, file, { maxSeqs: 2, contextLength: fx.context_size });
  try {
    const bound = engine.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3;
    for (const c of fx.cases) {
      const seq = engine.createSequence();
      try {
        const maxNewTokens = FIXTURE_POSITIONS - c.prompt_tokens.length;
        const r = await engine.generate(seq, c.prompt_tokens, { maxNewTokens, stopTokens: new Set(), captureFirstLogits: true });
        expect(r.tokens).toEqual(c.generated_tokens);
        expect(maxAbsDiff(r.firstLogits!, c.first_generated_position_logits)).toBeLessThan(bound);
      } finally {
        engine.releaseSequence(seq);
      }
    }
  } finally {
    engine.destroy();
  }
}
