// Small synthetic Gemma 2 / Gemma 3 GGUF files (F32 weights, a valid SentencePiece-style vocabulary), generated
// deterministically from a seed: the same bytes feed llama.cpp in scripts/make-arch-fixtures.ts (which stores its
// greedy tokens and logits under tests/fixtures/) and our engine in tests/engine/gemma.gpu.test.ts.
import { v, writeGguf, type MetaValue, type TensorSpec } from '../gguf/writer';
import { uniform } from './numeric';
import { f32Tensor, FIRST_PIECE, tokenizerMetadata, weightStream } from './synthetic-gguf';

export { FIRST_PIECE };

export interface SyntheticGemmaSpec {
  readonly arch: 'gemma2' | 'gemma3';
  readonly seed: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly contextLength: number;
  readonly slidingWindow: number;
  readonly ropeBase: number;
  /** Gemma 2 only: written as <arch>.attn_logit_softcapping / final_logit_softcapping. */
  readonly attnSoftcap?: number;
  readonly finalSoftcap?: number;
}

/**
 * Gemma 3 1B's proportions scaled down: head dim 256 -> 64, GQA 4:1, 6 layers so layer 5 is the one global
 * layer, a window of 32 positions so it matters within the fixtures' 64. Gemma 2: alternating sliding and global
 * layers, GQA 2:1, soft-capping at values small enough to bend the synthetic model's scores and logits.
 */
export const SYNTHETIC_GEMMA: Readonly<Record<'gemma3' | 'gemma2', SyntheticGemmaSpec>> = {
  gemma3: { arch: 'gemma3', seed: 3, dim: 256, layers: 6, heads: 4, kvHeads: 1, headDim: 64, ffn: 512, vocab: 384, contextLength: 128, slidingWindow: 32, ropeBase: 1e6 },
  gemma2: { arch: 'gemma2', seed: 2, dim: 256, layers: 4, heads: 4, kvHeads: 2, headDim: 64, ffn: 512, vocab: 384, contextLength: 128, slidingWindow: 32, ropeBase: 10000, attnSoftcap: 8, finalSoftcap: 12 },
};

// Sublayer outputs a few times the embedding's scale: otherwise the tied logits mostly repeat the input token.
const POST_NORM = 3;

export function syntheticGemmaGguf(s: SyntheticGemmaSpec): Uint8Array {
  const { next, gauss } = weightStream(s.seed);
  const matrix = (name: string, rows: number, cols: number, gain = 1): TensorSpec => f32Tensor(name, [cols, rows], () => (gain * gauss()) / Math.sqrt(cols));
  // Norm weights as the GGUF holds them (Gemma's 1 + w already added): near 1.
  const norm = (name: string, n: number, centre = 1): TensorSpec => f32Tensor(name, [n], () => centre * (0.8 + 0.4 * next()));
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  // Embedding rows of std 0.1: times sqrt(dim) = 16 a unit-scale residual stream, and tied logits of std ~1.6.
  const tensors: TensorSpec[] = [f32Tensor('token_embd.weight', [s.dim, s.vocab], () => 0.1 * gauss())];
  for (let l = 0; l < s.layers; l++) {
    const b = (n: string): string => `blk.${l}.${n}.weight`;
    tensors.push(
      norm(b('attn_norm'), s.dim),
      matrix(b('attn_q'), q, s.dim),
      matrix(b('attn_k'), kv, s.dim),
      matrix(b('attn_v'), kv, s.dim),
      matrix(b('attn_output'), s.dim, q),
      norm(b('post_attention_norm'), s.dim, POST_NORM),
      norm(b('ffn_norm'), s.dim),
      matrix(b('ffn_gate'), s.ffn, s.dim, 2),
      matrix(b('ffn_up'), s.ffn, s.dim),
      matrix(b('ffn_down'), s.dim, s.ffn),
      norm(b('post_ffw_norm'), s.dim, POST_NORM),
    );
    if (s.arch === 'gemma3') tensors.push(norm(b('attn_q_norm'), s.headDim), norm(b('attn_k_norm'), s.headDim));
  }
  tensors.push(norm('output_norm.weight', s.dim));
  const a = s.arch;
  const metadata: [string, MetaValue][] = [
    ['general.architecture', v.str(a)],
    ['general.name', v.str(`synthetic ${a} (seed ${s.seed})`)],
    ['general.alignment', v.u32(32)],
    [`${a}.context_length`, v.u32(s.contextLength)],
    [`${a}.embedding_length`, v.u32(s.dim)],
    [`${a}.block_count`, v.u32(s.layers)],
    [`${a}.feed_forward_length`, v.u32(s.ffn)],
    [`${a}.attention.head_count`, v.u32(s.heads)],
    [`${a}.attention.head_count_kv`, v.u32(s.kvHeads)],
    [`${a}.attention.key_length`, v.u32(s.headDim)],
    [`${a}.attention.value_length`, v.u32(s.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, v.f32(1e-6)],
    [`${a}.attention.sliding_window`, v.u32(s.slidingWindow)],
    [`${a}.rope.freq_base`, v.f32(s.ropeBase)],
    ...tokenizerMetadata(s.vocab),
  ];
  if (s.attnSoftcap !== undefined) metadata.push([`${a}.attn_logit_softcapping`, v.f32(s.attnSoftcap)]);
  if (s.finalSoftcap !== undefined) metadata.push([`${a}.final_logit_softcapping`, v.f32(s.finalSoftcap)]);
  return writeGguf({ metadata, tensors });
}

/** The fixtures' prompts: word-piece ids from a seed; lengths below, at and past the window. */
export function syntheticPrompts(s: SyntheticGemmaSpec): number[][] {
  const next = uniform(s.seed * 104729 + 7);
  return [5, 20, 40].map((n) => Array.from({ length: n }, () => FIRST_PIECE + Math.floor(next() * (s.vocab - FIRST_PIECE))));
}

/** Positions each fixture sequence covers (prompt + generated tokens). */
export const FIXTURE_POSITIONS = 64;
