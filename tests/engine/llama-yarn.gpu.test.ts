// YaRN RoPE scaling against llama.cpp: the synthetic F32 Llama of tests/helpers/phi3-synthetic.ts with
// rope.scaling.type = yarn, factor 4 over an original context of 256 (pairs 0..6 of 16 on YaRN's ramp), loaded with a
// context of 512. Greedy tokens (64 positions, three prompts) and first logits from llama.cpp's CPU backend:
// tests/fixtures/arch-llama-yarn.json, from scripts/make-phi3-fixtures.ts.
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { readModelConfig } from '../../src/gpu/model/config';
import { FIXTURE_CONTEXTS, SYNTHETIC_ROPE, syntheticRopeGguf } from '../helpers/phi3-synthetic';
import { cpuGreedy, cpuReferenceAt, expectCpuEqualsFixture, expectEngineEqualsFixture, maxAbsDiff, ropeFixture } from '../helpers/rope-fixtures';

const spec = SYNTHETIC_ROPE.llamaYarn;
const bytes = syntheticRopeGguf(spec);
const fx = ropeFixture('llama-yarn');

describe('llama with YaRN equals llama.cpp', () => {
  it('the fixture was made from the model this test builds', () => {
    expect(fx.spec).toEqual(spec);
    expect(fx.context_size).toBe(FIXTURE_CONTEXTS.llamaYarn);
  });

  it('reads YaRN as llama.cpp does: freq_scale 1/4, correction dims [0, 7], magnitude 1 + 0.1 ln 4', () => {
    const c = readModelConfig(GgufFile.fromBytes(bytes).header);
    expect(c.ropeLinearScale).toBe(1);
    expect(c.ropeScaling).toEqual({ freqScale: 0.25, yarn: { low: 0, high: 7 }, attnFactor: expect.closeTo(1 + 0.1 * Math.log(4), 9) as number });
  });

  it('CPU reference: identical greedy tokens; first logits within 1e-3', async () => {
    await expectCpuEqualsFixture(GgufFile.fromBytes(bytes), fx);
  });

  it('the scaling matters: without YaRN the CPU reference is far from llama.cpp', async () => {
    const plain = await cpuReferenceAt(GgufFile.fromBytes(bytes), fx.context_size, ({ ropeScaling: _, ...c }) => c);
    const c = fx.cases[2]!;
    expect(maxAbsDiff(cpuGreedy(plain, c.prompt_tokens).first, c.first_generated_position_logits)).toBeGreaterThan(0.1);
  });

  it('WebGPU engine: identical greedy tokens; first logits within 1e-3 (f32 KV) or 1e-2 (f16 KV)', async () => {
    await expectEngineEqualsFixture(GgufFile.fromBytes(bytes), fx);
  });
});
