// DeepSeek-V2 (deepseek2) without a GPU: the MLA config and tensor shapes as llama.cpp reads them, refusals naming
// what is wrong, and the expanded-form CPU reference against llama.cpp's CPU backend on the synthetic models of
// tests/helpers/deepseek2-synthetic.ts (tests/fixtures/arch-deepseek2*.json, from scripts/make-deepseek2-fixtures.ts):
// identical greedy tokens for 64 positions and first logits within 1e-4.
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../src/gpu/gguf/errors';
import { GgufFile, parseGguf } from '../../src/gpu/gguf/reader';
import type { GgufHeader } from '../../src/gpu/gguf/types';
import { expectedTensorShapes, readModelConfig } from '../../src/gpu/model/config';
import { Deepseek2CpuReference } from '../../src/gpu/model/cpu-reference-deepseek2';
import {
  DEEPSEEK2_FIXTURE_POSITIONS,
  DEEPSEEK2_FIXTURES,
  SYNTHETIC_DEEPSEEK2,
  SYNTHETIC_DEEPSEEK2_LITE,
  SYNTHETIC_DEEPSEEK2_YARN,
  syntheticDeepseek2Gguf,
  type SyntheticDeepseek2Spec,
} from '../helpers/deepseek2-synthetic';
import { readOracleFixture } from '../helpers/oracle-fixture';
import { cpuGreedyTo, maxAbsDiff } from '../helpers/cpu-greedy';

const header = parseGguf(syntheticDeepseek2Gguf(SYNTHETIC_DEEPSEEK2));
const withMeta = (h: GgufHeader, key: string, value: number | string | undefined): GgufHeader => {
  const metadata = new Map(h.metadata);
  if (value === undefined) metadata.delete(key);
  else metadata.set(key, value);
  return { ...h, metadata };
};

describe('deepseek2 model config', () => {
  it('reads MLA as one cached row per token (latent + RoPE key), the low-rank query and the MoE with a shared expert', () => {
    const c = readModelConfig(header);
    expect(c).toMatchObject({ architecture: 'deepseek2', ropeStyle: 'normal', nHeads: 8, nKvHeads: 1, headDim: 128 + 32, ropeDim: 32, ffnDim: 384, normEps: Math.fround(1e-6) });
    expect(c.deepseek2).toEqual({ qLoraRank: 96, kvLoraRank: 128, qkNopeDim: 64, vHeadDim: 64, denseLayers: 1, attnScale: 1 / Math.sqrt(96) });
    expect(c.moe).toEqual({ experts: 8, used: 2, expertFfnDim: 128, normalizeWeights: false, gating: 'softmax', oai: false, weightsScale: 2.5, sharedFfnDim: 128 });
    expect(c.ropeScaling).toBeUndefined();
    const shapes = expectedTensorShapes(c);
    expect(shapes.get('blk.0.attn_q_a.weight')).toEqual([256, 96]);
    expect(shapes.get('blk.0.attn_q_b.weight')).toEqual([96, 8 * 96]);
    expect(shapes.has('blk.0.attn_q.weight')).toBe(false);
    expect(shapes.get('blk.1.attn_kv_a_mqa.weight')).toEqual([256, 160]);
    expect(shapes.get('blk.1.attn_k_b.weight')).toEqual([64, 128, 8]);
    expect(shapes.get('blk.1.attn_v_b.weight')).toEqual([128, 64, 8]);
    expect(shapes.get('blk.1.attn_output.weight')).toEqual([8 * 64, 256]);
    expect(shapes.get('blk.0.ffn_gate.weight')).toEqual([256, 384]);
    expect(shapes.has('blk.0.ffn_gate_inp.weight')).toBe(false);
    expect(shapes.get('blk.2.ffn_gate_exps.weight')).toEqual([256, 128, 8]);
    expect(shapes.get('blk.2.ffn_down_shexp.weight')).toEqual([128, 256]);
    expect(shapes.has('blk.2.ffn_gate.weight')).toBe(false);
  });

  it('q_lora_rank 0: a full attn_q; sigmoid gating with renormalised weights', () => {
    const c = readModelConfig(parseGguf(syntheticDeepseek2Gguf(SYNTHETIC_DEEPSEEK2_LITE)));
    expect(c.deepseek2?.qLoraRank).toBe(0);
    expect(c.moe).toMatchObject({ gating: 'sigmoid', normalizeWeights: true });
    expect(c.moe?.weightsScale).toBeUndefined();
    expect(expectedTensorShapes(c).get('blk.0.attn_q.weight')).toEqual([256, 16 * 96]);
  });

  it("YaRN: llama.cpp's deepseek2 magnitudes (cos/sin unscaled when yarn_log_multiplier is set, scores by mscale^2)", () => {
    const c = readModelConfig(parseGguf(syntheticDeepseek2Gguf(SYNTHETIC_DEEPSEEK2_YARN)));
    const mscale = 1 + 0.1 * (Math.fround(0.0707) / 0.1) * Math.log(4);
    expect(c.ropeScaling?.attnFactor).toBe(1);
    expect(c.ropeScaling?.freqScale).toBe(0.25);
    expect(c.deepseek2?.attnScale).toBeCloseTo((mscale * mscale) / Math.sqrt(96), 12);
    // Without the log multiplier, YaRN's usual 1 + 0.1 ln(factor) on cos and sin, and the scores' scale by its square.
    const plain = readModelConfig(withMeta(parseGguf(syntheticDeepseek2Gguf(SYNTHETIC_DEEPSEEK2_YARN)), 'deepseek2.rope.scaling.yarn_log_multiplier', undefined));
    expect(plain.ropeScaling?.attnFactor).toBeCloseTo(1 + 0.1 * Math.log(4), 12);
    expect(plain.deepseek2?.attnScale).toBeCloseTo((1 + 0.1 * Math.log(4)) ** 2 / Math.sqrt(96), 12);
  });

  it('refuses what it does not run, naming it', () => {
    expect(() => readModelConfig(withMeta(header, 'deepseek2.attention.key_length_mla', undefined))).toThrow(/attn_kv_b.*split attn_k_b/);
    expect(() => readModelConfig(withMeta(header, 'deepseek2.attention.key_length', 192))).toThrow(/key_length kv_lora_rank \+ rope dims \(160\)/);
    expect(() => readModelConfig(withMeta(header, 'deepseek2.expert_gating_func', 4))).toThrow(/expert_gating_func 4/);
    expect(() => readModelConfig(withMeta(header, 'deepseek2.expert_group_count', 4))).toThrow(/grouped expert routing/);
    expect(() => readModelConfig(withMeta(header, 'deepseek2.expert_shared_count', undefined))).toThrow(/expert_shared_count/);
    expect(() => readModelConfig(withMeta(withMeta(header, 'deepseek2.rope.scaling.type', 'linear'), 'deepseek2.rope.scaling.factor', 2))).toThrow(/linear RoPE scaling/);
    const noKb = { ...header, tensors: header.tensors.filter((t) => t.name !== 'blk.1.attn_k_b.weight') };
    expect(() => readModelConfig(noKb)).toThrow(GgufError);
    expect(() => readModelConfig(noKb)).toThrow(/blk\.1\.attn_k_b\.weight/);
  });
});

describe('deepseek2 CPU reference (expanded MLA) equals llama.cpp', () => {
  for (const [name, spec] of DEEPSEEK2_FIXTURES) {
    it(`${name}: identical greedy tokens for ${DEEPSEEK2_FIXTURE_POSITIONS} positions, first logits within 1e-4`, async () => {
      const fixture = readOracleFixture<SyntheticDeepseek2Spec>(name);
      expect(fixture.spec).toEqual(JSON.parse(JSON.stringify(spec)));
      expect(fixture.positions).toBe(DEEPSEEK2_FIXTURE_POSITIONS);
      const model = await Deepseek2CpuReference.load(GgufFile.fromBytes(syntheticDeepseek2Gguf(spec)));
      for (const c of fixture.cases) {
        const r = cpuGreedyTo(model, c.prompt_tokens, DEEPSEEK2_FIXTURE_POSITIONS);
        expect(maxAbsDiff(r.first, c.first_generated_position_logits)).toBeLessThan(1e-4);
        expect(r.tokens).toEqual(c.generated_tokens);
      }
    });
  }
});
