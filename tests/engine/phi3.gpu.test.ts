// Phi-3 against llama.cpp: the synthetic F32 model of tests/helpers/phi3-synthetic.ts (fused QKV and gate|up, head dim
// 32 with 24 rotated, GQA 4:2, LongRoPE factors in [1, 4] and attention factor, a sliding window llama.cpp ignores),
// loaded with a context at most its original one (short factors) and past it (long factors). Greedy tokens (64
// positions, three prompts) and first logits llama.cpp's CPU backend produced: tests/fixtures/arch-phi3-*.json, from
// scripts/make-phi3-fixtures.ts.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GgufError } from '../../src/gpu/gguf/errors';
import { readModelConfig } from '../../src/gpu/model/config';
import { readPhi3Traits } from '../../src/gpu/model/phi3';
import { testDevice } from '../helpers/gpu';
import { FIXTURE_CONTEXTS, SYNTHETIC_ROPE, syntheticRopeGguf } from '../helpers/phi3-synthetic';
import { cpuGreedy, cpuReferenceAt, expectCpuEqualsFixture, expectEngineEqualsFixture, maxAbsDiff, ropeFixture } from '../helpers/rope-fixtures';

const spec = SYNTHETIC_ROPE.phi3;
const bytes = syntheticRopeGguf(spec);

describe('phi3 reads as llama.cpp reads it', () => {
  it('fused projections, partial rotary dims, LongRoPE switch point and attention factor', () => {
    const c = readModelConfig(GgufFile.fromBytes(bytes).header);
    expect(c).toMatchObject({ architecture: 'phi3', ropeStyle: 'neox', headDim: 32, ropeDim: 24, nKvHeads: 2, ffnDim: 256, phi3: { fusedQkv: true } });
    expect(c.ropeScaling).toEqual({ freqScale: 1, attnFactor: expect.closeTo(Math.sqrt(1.25), 6) as number, longRopeOriginalContext: 256 });
  });

  it('refuses what llama.cpp\'s Phi-3 graph has and we do not run: a fused QKV bias, the MoE branch; bad rotary dims', () => {
    const has = (name: string): Map<string, unknown> => new Map([[name, {}]]);
    expect(() => readPhi3Traits(has('blk.0.attn_qkv.bias'), { headDim: 32, ropeDim: 24 })).toThrow('blk.0.attn_qkv.bias');
    expect(() => readPhi3Traits(has('blk.0.ffn_gate_inp.weight'), { headDim: 32, ropeDim: 24 })).toThrow('ffn_gate_inp');
    expect(() => readPhi3Traits(new Map(), { headDim: 32, ropeDim: 40 })).toThrow('rope.dimension_count 40');
    expect(() => readPhi3Traits(new Map(), { headDim: 32, ropeDim: 23 })).toThrow(GgufError);
  });

  it('separate q/k/v tensors give the same model as the fused attn_qkv', async () => {
    const separate = GgufFile.fromBytes(syntheticRopeGguf({ ...spec, fusedQkv: false }));
    expect(readModelConfig(separate.header).phi3).toEqual({ fusedQkv: false });
    const a = cpuGreedy(await cpuReferenceAt(GgufFile.fromBytes(bytes), 256), [300, 301, 302]);
    const b = cpuGreedy(await cpuReferenceAt(separate, 256), [300, 301, 302]);
    expect(b.first).toEqual(a.first);
  });
});

for (const [name, context] of [['phi3-short', FIXTURE_CONTEXTS.phi3Short], ['phi3-long', FIXTURE_CONTEXTS.phi3Long]] as const) {
  describe(`${name} equals llama.cpp`, () => {
    const fx = ropeFixture(name);

    it('the fixture was made from the model this test builds, at this context', () => {
      expect(fx.spec).toEqual(spec);
      expect(fx.context_size).toBe(context);
    });

    it('CPU reference: identical greedy tokens; first logits within 1e-3', async () => {
      await expectCpuEqualsFixture(GgufFile.fromBytes(bytes), fx);
    });

    it('WebGPU engine: identical greedy tokens; first logits within 1e-3 (f32 KV) or 1e-2 (f16 KV)', async () => {
      await expectEngineEqualsFixture(GgufFile.fromBytes(bytes), fx);
    });
  });
}

it('the two contexts differ: the other LongRoPE factors would not reproduce llama.cpp', () => {
  const short = ropeFixture('phi3-short').cases[0]!;
  const long = ropeFixture('phi3-long').cases[0]!;
  expect(maxAbsDiff(short.first_generated_position_logits, long.first_generated_position_logits)).toBeGreaterThan(0.1);
});

it('KV blocks computed with the short and the long LongRoPE factors get different names (never restored across)', async () => {
  const gpu = await testDevice();
  const roots: string[] = [];
  for (const contextLength of [FIXTURE_CONTEXTS.phi3Short, FIXTURE_CONTEXTS.phi3Long]) {
    const engine = await Engine.load(gpu, GgufFile.fromBytes(bytes), { maxSeqs: 1, contextLength, modelFingerprint: 'same-file' });
    roots.push(engine.kv.chainRoot);
    engine.destroy();
  }
  expect(roots[0]).not.toBe(roots[1]);
});
