// qwen3moe metadata and tensor shapes: the MoE hyperparameters are read, the 3-D expert tensors are checked.
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../src/gpu/gguf/errors';
import { parseGguf } from '../../src/gpu/gguf/reader';
import { expectedTensorShapes, readModelConfig } from '../../src/gpu/model/config';
import { buildMoeModel, MOE_FIXTURE_SPEC } from '../helpers/moe-model';

describe('qwen3moe model config', () => {
  const header = parseGguf(buildMoeModel(MOE_FIXTURE_SPEC));

  it('reads the expert count, top-k and expert width; the FFN tensors are the router and the 3-D experts', () => {
    const c = readModelConfig(header);
    expect(c).toMatchObject({ architecture: 'qwen3moe', ropeStyle: 'neox', hasQkNorm: true, headDim: 32, nKvHeads: 2 });
    expect(c.moe).toEqual({ experts: 8, used: 2, expertFfnDim: 64, normalizeWeights: true, gating: 'softmax', oai: false });
    const shapes = expectedTensorShapes(c);
    expect(shapes.get('blk.0.ffn_gate_exps.weight')).toEqual([128, 64, 8]);
    expect(shapes.get('blk.2.ffn_down_exps.weight')).toEqual([64, 128, 8]);
    expect(shapes.has('blk.0.ffn_gate.weight')).toBe(false);
  });

  it('an expert tensor of the wrong shape is refused, naming it', () => {
    const h = parseGguf(buildMoeModel({ ...MOE_FIXTURE_SPEC, experts: 4 }));
    // Metadata says 8 experts; the tensors hold 4.
    const patched = { ...h, metadata: new Map(h.metadata).set('qwen3moe.expert_count', 8) };
    expect(() => readModelConfig(patched)).toThrow(GgufError);
    expect(() => readModelConfig(patched)).toThrow(/ffn_gate_inp.weight has shape \[128, 4\], expected \[128, 8\]/);
  });
});
