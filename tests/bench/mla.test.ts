// The MLA bench's pieces that need no device: KV bytes per token from the engine's pool layout, and the
// deepseek2-quick peer shape (V2-Lite's attention widths; its per-head up-projections kept F32 for llama.cpp).
import { describe, expect, it } from 'vitest';
import { kvBytesPerToken } from '../../bench/mla';
import { choosePlan } from '../../bench/peer/run';
import { ARCH_SHAPES, archTensorType } from '../../bench/synthetic-arch';
import { GgmlType } from '../../src/gpu/gguf/types';

describe('MLA bench', () => {
  it('counts one 576-wide row a token and layer for DeepSeek-V2-Lite, a K and a V row per KV head for GQA', () => {
    const [mla, llama8b, oneB] = kvBytesPerToken();
    // 27 layers x 576 values x 2 bytes; q8_0: 18 blocks of 34 bytes a row.
    expect(mla!.bytes_per_token).toEqual({ f16: 27 * 576 * 2, q8_0: 27 * 18 * 34 });
    // 32 layers x (K + V) x 8 heads x 128 values x 2 bytes: 128 KiB.
    expect(llama8b!.bytes_per_token).toEqual({ f16: 32 * 2 * 8 * 128 * 2, q8_0: 32 * 2 * 8 * 4 * 34 });
    expect(llama8b!.vs_mla.f16).toBeCloseTo(4.21, 2);
    expect(oneB!.bytes_per_token.f16).toBe(16 * 2 * 8 * 64 * 2);
  });

  it('--shape deepseek2-quick plans the V2-Lite-attention model alone, its k_b and v_b F32 in a Q8_0 file', () => {
    const plan = choosePlan(['--quick', '--shape', 'deepseek2-quick', '--quant', 'Q8_0']);
    expect(plan.shapes).toEqual([]);
    expect(plan.archShapes.map((s) => s.name)).toEqual(['synthetic-deepseek2-4L']);
    const shape = ARCH_SHAPES['deepseek2-quick']!;
    expect(shape.arch === 'deepseek2' && shape.spec).toMatchObject({ heads: 16, qLoraRank: 0, kvLoraRank: 512, qkNope: 128, rope: 64, vHead: 128, vocab: 32000 });
    expect(archTensorType({ name: 'blk.1.attn_k_b.weight', dims: [128, 512, 16] }, GgmlType.Q8_0)).toBe(GgmlType.F32);
    expect(archTensorType({ name: 'blk.1.attn_v_b.weight', dims: [512, 128, 16] }, GgmlType.Q8_0)).toBe(GgmlType.F32);
    expect(archTensorType({ name: 'blk.1.attn_kv_a_mqa.weight', dims: [512, 576] }, GgmlType.Q8_0)).toBe(GgmlType.Q8_0);
  });
});
