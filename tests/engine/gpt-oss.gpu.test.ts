// gpt-oss against llama.cpp: the synthetic F32 model of tests/helpers/gpt-oss-synthetic.ts, whose greedy tokens
// (64 positions, prompts shorter than, inside and past the 32-position window) and first logits llama.cpp's CPU
// backend produced (tests/fixtures/arch-gpt-oss.json, from scripts/make-gpt-oss-fixtures.ts). Our CPU reference and
// our GPU engine (f32 KV on SwiftShader, f16 KV on lavapipe) must reproduce them. Then MXFP4 experts: the engine on
// the MXFP4 file equals, token for token, the engine on the same file with the experts dequantized to F32. Real
// gpt-oss files scale RoPE with YaRN: the same model with YaRN (tests/fixtures/arch-gpt-oss-yarn.json) is checked
// against llama.cpp the same way.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GgmlType } from '../../src/gpu/gguf/types';
import { GptOssCpuReference } from '../../src/gpu/model/cpu-reference-gpt-oss';
import { GPT_OSS_FIXTURE_POSITIONS, SYNTHETIC_GPT_OSS, SYNTHETIC_GPT_OSS_YARN, syntheticGptOssGguf, type SyntheticGptOssSpec } from '../helpers/gpt-oss-synthetic';
import { testDevice } from '../helpers/gpu';
import { cpuGreedyTo, maxAbsDiff } from '../helpers/cpu-greedy';
import { readOracleFixture } from '../helpers/oracle-fixture';

const fixture = readOracleFixture<SyntheticGptOssSpec>('arch-gpt-oss');

/** Greedy tokens until `positions` positions, and the logits after the prompt. */
const cpuGreedy = (model: GptOssCpuReference, prompt: readonly number[], positions = GPT_OSS_FIXTURE_POSITIONS): { tokens: number[]; first: Float32Array } =>
  cpuGreedyTo(model, prompt, positions);

async function engineGreedy(engine: Engine, prompt: readonly number[], positions = GPT_OSS_FIXTURE_POSITIONS): Promise<{ tokens: number[]; first: Float32Array }> {
  const seq = engine.createSequence();
  try {
    const r = await engine.generate(seq, prompt, { maxNewTokens: positions - prompt.length, stopTokens: new Set(), captureFirstLogits: true });
    return { tokens: r.tokens, first: r.firstLogits! };
  } finally {
    engine.releaseSequence(seq);
  }
}

describe('gpt-oss equals llama.cpp', () => {
  const bytes = syntheticGptOssGguf(SYNTHETIC_GPT_OSS);

  it('the fixture was made from the model this test builds', () => {
    expect(fixture.spec).toEqual(SYNTHETIC_GPT_OSS);
    expect(fixture.positions).toBe(GPT_OSS_FIXTURE_POSITIONS);
  });

  it('CPU reference: identical greedy tokens, first logits within 1e-4', async () => {
    const model = await GptOssCpuReference.load(GgufFile.fromBytes(bytes));
    for (const c of fixture.cases) {
      const r = cpuGreedy(model, c.prompt_tokens);
      expect(r.tokens).toEqual(c.generated_tokens);
      expect(maxAbsDiff(r.first, c.first_generated_position_logits)).toBeLessThan(1e-4);
    }
  });

  it('GPU engine: identical greedy tokens, first logits within 1e-3 (f32 KV) or 1e-2 (f16 KV)', async () => {
    const gpu = await testDevice();
    const engine = await Engine.load(gpu, GgufFile.fromBytes(bytes), { maxSeqs: 2 });
    try {
      expect(engine.pool.layout.dtype).toBe(gpu.caps.f16 ? 'f16' : 'f32');
      const bound = engine.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3;
      for (const c of fixture.cases) {
        const r = await engineGreedy(engine, c.prompt_tokens);
        expect(r.tokens).toEqual(c.generated_tokens);
        expect(maxAbsDiff(r.first, c.first_generated_position_logits)).toBeLessThan(bound);
      }
    } finally {
      engine.destroy();
    }
  });

  it("the three prompts decoded together (pairs grouped by expert across sequences) give llama.cpp's tokens", async () => {
    const engine = await Engine.load(await testDevice(), GgufFile.fromBytes(bytes), { maxSeqs: 3 });
    try {
      const runs = fixture.cases.map(async (c) => (await engineGreedy(engine, c.prompt_tokens)).tokens);
      expect(await Promise.all(runs)).toEqual(fixture.cases.map((c) => c.generated_tokens));
    } finally {
      engine.destroy();
    }
  });
});

describe('gpt-oss with MXFP4 experts', () => {
  it('GPU engine on the MXFP4 file equals the engine and the CPU reference on its dequantized F32 twin', async () => {
    const gpu = await testDevice();
    const mxfp4 = GgufFile.fromBytes(syntheticGptOssGguf(SYNTHETIC_GPT_OSS, 'mxfp4'));
    const f32 = GgufFile.fromBytes(syntheticGptOssGguf(SYNTHETIC_GPT_OSS, 'mxfp4-dequantized'));
    expect(mxfp4.requireTensor('blk.0.ffn_down_exps.weight').type).toBe(GgmlType.MXFP4);
    expect(f32.requireTensor('blk.0.ffn_down_exps.weight').type).toBe(GgmlType.F32);
    const cpu = await GptOssCpuReference.load(f32);
    const quantized = await Engine.load(gpu, mxfp4, { maxSeqs: 1 });
    const dequantized = await Engine.load(gpu, f32, { maxSeqs: 1 });
    try {
      const bound = quantized.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3;
      // The shortest prompt and the one past the window (two engines on SwiftShader take a while per prompt).
      for (const c of [fixture.cases[0]!, fixture.cases[2]!]) {
        const q = await engineGreedy(quantized, c.prompt_tokens);
        const d = await engineGreedy(dequantized, c.prompt_tokens);
        const want = cpuGreedy(cpu, c.prompt_tokens);
        expect(q.tokens).toEqual(d.tokens);
        expect(q.tokens).toEqual(want.tokens);
        expect(maxAbsDiff(q.first, d.first)).toBeLessThan(bound);
        expect(maxAbsDiff(q.first, want.first)).toBeLessThan(bound);
      }
    } finally {
      quantized.destroy();
      dequantized.destroy();
    }
  });
});

describe('gpt-oss with YaRN RoPE scaling equals llama.cpp', () => {
  const yarn = readOracleFixture<SyntheticGptOssSpec>('arch-gpt-oss-yarn');
  const bytes = syntheticGptOssGguf(SYNTHETIC_GPT_OSS_YARN);

  it('the fixture was made from the model this test builds', () => {
    expect(yarn.spec).toEqual(SYNTHETIC_GPT_OSS_YARN);
  });

  it('CPU reference and GPU engine: identical greedy tokens, first logits within 1e-4 / 1e-3 (f32 KV) or 1e-2 (f16 KV)', async () => {
    const file = GgufFile.fromBytes(bytes);
    const cpu = await GptOssCpuReference.load(file);
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 1 });
    try {
      const bound = engine.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3;
      for (const c of yarn.cases) {
        const want = cpuGreedy(cpu, c.prompt_tokens);
        expect(want.tokens).toEqual(c.generated_tokens);
        expect(maxAbsDiff(want.first, c.first_generated_position_logits)).toBeLessThan(1e-4);
        const r = await engineGreedy(engine, c.prompt_tokens);
        expect(r.tokens).toEqual(c.generated_tokens);
        expect(maxAbsDiff(r.first, c.first_generated_position_logits)).toBeLessThan(bound);
      }
    } finally {
      engine.destroy();
    }
  });
});
