// A small synthetic gpt-oss GGUF (llama.cpp's LLM_ARCH_OPENAI_MOE), generated deterministically from a seed: the
// same bytes feed llama.cpp in scripts/make-gpt-oss-fixtures.ts (which stores its greedy tokens and logits in
// tests/fixtures/arch-gpt-oss.json) and our engine in tests/engine/gpt-oss.gpu.test.ts. No RoPE scaling (real files
// use YaRN; the plain neox RoPE is what this fixture proves).
//
// gpt-oss-20b's proportions scaled down: head dim 64 (as real), GQA 8:1 (real: 64 / 8), query width twice the
// residual width (real: 4096 / 2880), 8 experts of which 4 run (real: 32 / 4), sliding window on even layers, every
// bias, attention sinks, untied output. Expert tensors F32, or MXFP4 (random valid blocks, as real files ship them).
// SYNTHETIC_GPT_OSS_YARN adds YaRN RoPE scaling as real files carry it (there: factor 32 over 4096 positions).
import { GgmlType } from '../../src/gpu/gguf/types';
import { dequantize } from '../../src/gpu/quant';
import { v, writeGguf, type MetaValue, type TensorSpec } from '../gguf/writer';
import { uniform } from './numeric';
import { f32Tensor, FIRST_PIECE, tokenizerMetadata, weightStream } from './synthetic-gguf';
import { randomBlocks } from './random-blocks';

export { FIRST_PIECE };

export interface SyntheticGptOssSpec {
  readonly arch: 'gpt-oss';
  readonly seed: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly experts: number;
  readonly expertsUsed: number;
  readonly expertFfn: number;
  readonly vocab: number;
  readonly contextLength: number;
  readonly slidingWindow: number;
  readonly ropeBase: number;
  /** YaRN scaling (`rope.scaling.*` keys); absent: plain RoPE. */
  readonly yarn?: { readonly factor: number; readonly originalContext: number };
}

export const SYNTHETIC_GPT_OSS: SyntheticGptOssSpec = {
  arch: 'gpt-oss',
  seed: 20,
  dim: 256,
  layers: 4,
  heads: 8,
  kvHeads: 1,
  headDim: 64,
  experts: 8,
  expertsUsed: 4,
  expertFfn: 128,
  vocab: 384,
  contextLength: 128,
  slidingWindow: 32,
  ropeBase: 150000, // gpt-oss's
};

/** The same model with YaRN scaled down: factor 4 over 32 original positions, so the ramp and the 64 positions meet. */
export const SYNTHETIC_GPT_OSS_YARN: SyntheticGptOssSpec = { ...SYNTHETIC_GPT_OSS, yarn: { factor: 4, originalContext: 32 } };

/** How the three expert tensors of each layer are stored. */
export type ExpertStorage = 'f32' | 'mxfp4' | 'mxfp4-dequantized';

/**
 * The GGUF bytes. `mxfp4` writes the experts as random MXFP4 blocks; `mxfp4-dequantized` writes the same blocks
 * dequantized to F32 (ggml's values), everything else identical: the F32 run the MXFP4 run must equal.
 */
export function syntheticGptOssGguf(s: SyntheticGptOssSpec, experts: ExpertStorage = 'f32'): Uint8Array {
  const { gauss } = weightStream(s.seed);
  const matrix = (name: string, rows: number, cols: number, gain = 1): TensorSpec => f32Tensor(name, [cols, rows], () => (gain * gauss()) / Math.sqrt(cols));
  const vector = (name: string, n: number, std: number, mean = 0): TensorSpec => f32Tensor(name, [n], () => mean + std * gauss());
  let blockSeed = s.seed * 1000;
  // A 3-D expert tensor, ggml dims [cols, rows, experts]; random F32 values or random MXFP4 blocks of the same scale.
  const expert = (name: string, cols: number, rows: number, gain = 1): TensorSpec => {
    const dims = [cols, rows, s.experts];
    if (experts === 'f32') return f32Tensor(name, dims, () => (gain * gauss()) / Math.sqrt(cols));
    const n = cols * rows * s.experts;
    const blocks = randomBlocks(GgmlType.MXFP4, n / 32, blockSeed++, gain / Math.sqrt(cols));
    if (experts === 'mxfp4') return { name, dims, type: GgmlType.MXFP4, data: blocks };
    return { name, dims, type: GgmlType.F32, data: new Uint8Array(dequantize(GgmlType.MXFP4, blocks, n).buffer) };
  };
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const f = s.expertFfn;
  const tensors: TensorSpec[] = [f32Tensor('token_embd.weight', [s.dim, s.vocab], gauss)];
  for (let l = 0; l < s.layers; l++) {
    const w = (n: string): string => `blk.${l}.${n}.weight`;
    const b = (n: string): string => `blk.${l}.${n}.bias`;
    tensors.push(
      vector(w('attn_norm'), s.dim, 0.1, 1),
      matrix(w('attn_q'), q, s.dim),
      vector(b('attn_q'), q, 0.1),
      matrix(w('attn_k'), kv, s.dim),
      vector(b('attn_k'), kv, 0.1),
      matrix(w('attn_v'), kv, s.dim),
      vector(b('attn_v'), kv, 0.1),
      matrix(w('attn_output'), s.dim, q),
      vector(b('attn_output'), s.dim, 0.1),
      // Sinks around the scores' scale: some heads give a good part of their attention to the sink.
      vector(w('attn_sinks'), s.heads, 1, 0.5),
      vector(w('post_attention_norm'), s.dim, 0.1, 1),
      // A wide router (logits of std ~3): clear winners, so no routing decision rests on a few ulps.
      matrix(w('ffn_gate_inp'), s.experts, s.dim, 3),
      vector(b('ffn_gate_inp'), s.experts, 0.5),
      // Gate rows of std ~3: swiglu_oai's clamp at 7 bites on a few percent of them.
      expert(w('ffn_gate_exps'), s.dim, f, 3),
      f32Tensor(b('ffn_gate_exps'), [f, s.experts], () => 0.3 * gauss()),
      expert(w('ffn_up_exps'), s.dim, f, 2),
      f32Tensor(b('ffn_up_exps'), [f, s.experts], () => 0.3 * gauss()),
      expert(w('ffn_down_exps'), f, s.dim),
      f32Tensor(b('ffn_down_exps'), [s.dim, s.experts], () => 0.1 * gauss()),
    );
  }
  tensors.push(vector('output_norm.weight', s.dim, 0.1, 1), matrix('output.weight', s.vocab, s.dim, 2));
  const a = s.arch;
  const metadata: [string, MetaValue][] = [
    ['general.architecture', v.str(a)],
    ['general.name', v.str(`synthetic ${a} (seed ${s.seed}, ${experts} experts)`)],
    ['general.alignment', v.u32(32)],
    [`${a}.context_length`, v.u32(s.contextLength)],
    [`${a}.embedding_length`, v.u32(s.dim)],
    [`${a}.block_count`, v.u32(s.layers)],
    [`${a}.feed_forward_length`, v.u32(s.expertFfn)],
    [`${a}.expert_feed_forward_length`, v.u32(s.expertFfn)],
    [`${a}.expert_count`, v.u32(s.experts)],
    [`${a}.expert_used_count`, v.u32(s.expertsUsed)],
    [`${a}.attention.head_count`, v.u32(s.heads)],
    [`${a}.attention.head_count_kv`, v.u32(s.kvHeads)],
    [`${a}.attention.key_length`, v.u32(s.headDim)],
    [`${a}.attention.value_length`, v.u32(s.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, v.f32(1e-5)],
    [`${a}.attention.sliding_window`, v.u32(s.slidingWindow)],
    [`${a}.rope.freq_base`, v.f32(s.ropeBase)],
    ...tokenizerMetadata(s.vocab),
  ];
  if (s.yarn) {
    metadata.push(
      [`${a}.rope.scaling.type`, v.str('yarn')],
      [`${a}.rope.scaling.factor`, v.f32(s.yarn.factor)],
      [`${a}.rope.scaling.original_context_length`, v.u32(s.yarn.originalContext)],
    );
  }
  return writeGguf({ metadata, tensors });
}

/** The fixture's prompts: word-piece ids from a seed; lengths below, at and past the 32-position window. */
export function syntheticGptOssPrompts(s: SyntheticGptOssSpec): number[][] {
  const next = uniform(s.seed * 104729 + 7);
  return [5, 20, 40].map((n) => Array.from({ length: n }, () => FIRST_PIECE + Math.floor(next() * (s.vocab - FIRST_PIECE))));
}

/** Positions each fixture sequence covers (prompt + generated tokens). */
export const GPT_OSS_FIXTURE_POSITIONS = 64;
