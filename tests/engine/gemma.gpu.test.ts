// Gemma 3 and Gemma 2 against llama.cpp: the synthetic F32 models of tests/helpers/gemma-synthetic.ts, whose greedy
// tokens (64 positions, prompts shorter than, inside and past the 32-position window) and first logits llama.cpp's
// CPU backend produced (tests/fixtures/arch-*.json, from scripts/make-arch-fixtures.ts).
//
// llama.cpp computes GELU on f32 through an f16 table (ggml_vec_geglu_f32 with GGML_GELU_FP16), ~2^-11 off the exact
// tanh GELU; on these models that alone moves the first logits by up to ~2e-3. So: our CPU reference with that
// table equals llama.cpp within 1e-3 (everything else is exact), and the engine, which computes the exact GELU,
// equals our exact CPU reference within 1e-3 (f32 KV) and llama.cpp's tokens exactly.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GemmaCpuReference } from '../../src/gpu/model/cpu-reference-gemma';
import { FIXTURE_POSITIONS, SYNTHETIC_GEMMA, syntheticGemmaGguf, type SyntheticGemmaSpec } from '../helpers/gemma-synthetic';
import { cpuGreedyTo, maxAbsDiff } from '../helpers/cpu-greedy';
import { testDevice } from '../helpers/gpu';
import { readOracleFixture, type OracleFixture } from '../helpers/oracle-fixture';
import { argmax } from '../helpers/shared';

const fixture = (arch: string): OracleFixture<SyntheticGemmaSpec> => readOracleFixture(`arch-${arch}`);

/** Greedy tokens until FIXTURE_POSITIONS positions, and the logits after the prompt. */
const cpuGreedy = (model: GemmaCpuReference, prompt: readonly number[]) => cpuGreedyTo(model, prompt, FIXTURE_POSITIONS);

for (const arch of ['gemma3', 'gemma2'] as const) {
  describe(`${arch} equals llama.cpp`, () => {
    const fx = fixture(arch);
    const bytes = syntheticGemmaGguf(SYNTHETIC_GEMMA[arch]);

    it('the fixture was made from the model this test builds', () => {
      expect(fx.spec).toEqual(SYNTHETIC_GEMMA[arch]);
    });

    it('CPU reference: identical greedy tokens; first logits within 1e-3 with llama.cpp\'s f16-table GELU', async () => {
      const file = GgufFile.fromBytes(bytes);
      const asLlamaCpp = await GemmaCpuReference.load(file, { llamaCppGelu: true });
      const exact = await GemmaCpuReference.load(file);
      for (const c of fx.cases) {
        const a = cpuGreedy(asLlamaCpp, c.prompt_tokens);
        expect(a.tokens).toEqual(c.generated_tokens);
        expect(maxAbsDiff(a.first, c.first_generated_position_logits)).toBeLessThan(1e-3);
        const e = cpuGreedy(exact, c.prompt_tokens);
        expect(e.tokens).toEqual(c.generated_tokens);
        expect(maxAbsDiff(e.first, c.first_generated_position_logits)).toBeLessThan(3e-3);
      }
    });

    it('WebGPU engine: identical greedy tokens; first logits within 1e-3 (f32 KV) or 1e-2 (f16 KV) of the CPU reference', async () => {
      const gpu = await testDevice();
      const file = GgufFile.fromBytes(bytes);
      const reference = await GemmaCpuReference.load(file);
      const engine = await Engine.load(gpu, file, { maxSeqs: 2 });
      try {
        expect(engine.pool.layout.dtype).toBe(gpu.caps.f16 ? 'f16' : 'f32');
        const bound = engine.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3;
        for (const c of fx.cases) {
          const seq = engine.createSequence();
          try {
            const maxNewTokens = FIXTURE_POSITIONS - c.prompt_tokens.length;
            const r = await engine.generate(seq, c.prompt_tokens, { maxNewTokens, stopTokens: new Set(), captureFirstLogits: true });
            expect(r.tokens).toEqual(c.generated_tokens);
            const want = cpuGreedy(reference, c.prompt_tokens).first;
            expect(maxAbsDiff(r.firstLogits!, want)).toBeLessThan(bound);
            expect(maxAbsDiff(r.firstLogits!, c.first_generated_position_logits)).toBeLessThan(bound + 3e-3);
          } finally {
            engine.releaseSequence(seq);
          }
        }
      } finally {
        engine.destroy();
      }
    });
  });
}

// Every real Gemma 3 has head dim 256: decode at 256 returned token 0 on the CPU drivers' flash-decode layout (2
// lanes, 32 threads, fewer than the 64 vec4 of a row, so no value slot: SLOTS was 0 and attention summed nothing).
describe('gemma3 at head dim 256', () => {
  it('WebGPU engine: the CPU reference\'s greedy tokens for 16 positions', async () => {
    const spec: SyntheticGemmaSpec = { ...SYNTHETIC_GEMMA.gemma3, seed: 7, layers: 2, headDim: 256, ffn: 256, contextLength: 32, slidingWindow: 8 };
    const file = GgufFile.fromBytes(syntheticGemmaGguf(spec));
    const reference = await GemmaCpuReference.load(file);
    const prompt = [2, 300, 301, 17, 290];
    const positions = 16;
    let logits: Float32Array = new Float32Array(0);
    prompt.forEach((t, pos) => (logits = reference.forward(t, pos)));
    const want: number[] = [];
    for (let pos = prompt.length; pos < positions; pos++) {
      want.push(argmax(logits));
      if (pos + 1 < positions) logits = reference.forward(want.at(-1)!, pos);
    }
    expect(want.some((t) => t !== 0)).toBe(true); // not the bug's stream of token 0
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 1 });
    try {
      const seq = engine.createSequence();
      const r = await engine.generate(seq, prompt, { maxNewTokens: positions - prompt.length, stopTokens: new Set() });
      expect(r.tokens).toEqual(want);
      engine.releaseSequence(seq);
    } finally {
      engine.destroy();
    }
  });
});
