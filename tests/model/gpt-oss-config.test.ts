// gpt-oss metadata and tensor shapes: llama.cpp's sliding-window layer pattern, the MoE gating and biases, the
// attention sinks and output bias; a file missing one of them is refused, naming the tensor.
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../src/gpu/gguf/errors';
import { parseGguf } from '../../src/gpu/gguf/reader';
import type { GgufValue } from '../../src/gpu/gguf/types';
import { expectedTensorShapes, readModelConfig } from '../../src/gpu/model/config';
import { SYNTHETIC_GPT_OSS, syntheticGptOssGguf } from '../helpers/gpt-oss-synthetic';

describe('gpt-oss model config', () => {
  const header = parseGguf(syntheticGptOssGguf(SYNTHETIC_GPT_OSS));

  it('reads the window, the alternating sliding layers (layer 0 sliding), top-k-then-softmax routing and every bias', () => {
    const c = readModelConfig(header);
    expect(c).toMatchObject({ architecture: 'gpt-oss', ropeStyle: 'neox', hasQkvBias: true, hasQkNorm: false, headDim: 64, nHeads: 8, nKvHeads: 1, tiedEmbeddings: false });
    expect(c.gptOss).toEqual({ slidingLayers: [true, false, true, false], slidingWindow: 32 });
    expect(c.moe).toEqual({ experts: 8, used: 4, expertFfnDim: 128, normalizeWeights: false, gating: 'softmax-weight', oai: true });
    const shapes = expectedTensorShapes(c);
    expect(shapes.get('blk.1.attn_sinks.weight')).toEqual([8]);
    expect(shapes.get('blk.1.attn_output.bias')).toEqual([256]);
    expect(shapes.get('blk.0.post_attention_norm.weight')).toEqual([256]);
    expect(shapes.has('blk.0.ffn_norm.weight')).toBe(false);
    expect(shapes.get('blk.3.ffn_gate_inp.bias')).toEqual([8]);
    expect(shapes.get('blk.3.ffn_up_exps.bias')).toEqual([128, 8]);
    expect(shapes.get('blk.3.ffn_down_exps.bias')).toEqual([256, 8]);
  });

  it('a per-layer sliding_window_pattern array or a period are read as llama.cpp reads them', () => {
    const pattern = (v: GgufValue): readonly boolean[] | undefined =>
      readModelConfig({ ...header, metadata: new Map(header.metadata).set('gpt-oss.attention.sliding_window_pattern', v) }).gptOss?.slidingLayers;
    expect(pattern([false, true, true, false])).toEqual([false, true, true, false]);
    expect(pattern(4)).toEqual([true, true, true, false]);
    expect(pattern(0)).toEqual([true, true, true, true]);
  });

  it('a file without attention sinks is refused, naming the tensor', () => {
    const h = { ...header, tensors: header.tensors.filter((t) => t.name !== 'blk.2.attn_sinks.weight') };
    expect(() => readModelConfig(h)).toThrow(GgufError);
    expect(() => readModelConfig(h)).toThrow(/blk\.2\.attn_sinks\.weight/);
  });

  it('a separate RoPE base for the sliding layers is refused with the reason', () => {
    const metadata = new Map(header.metadata).set('gpt-oss.rope.freq_base_swa', 10000);
    expect(() => readModelConfig({ ...header, metadata })).toThrow(/separate RoPE base for the sliding layers/);
  });
});
