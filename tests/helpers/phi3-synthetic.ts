// Small synthetic F32 GGUF files for the RoPE scalings real files use, generated deterministically from a seed:
// a Phi-3 (fused QKV and gate|up, partial rotary dims, LongRoPE factors and attention factor) and a Llama with YaRN.
// The same bytes feed llama.cpp in scripts/make-phi3-fixtures.ts (which stores its greedy tokens and logits under
// tests/fixtures/) and our engine in tests/engine/phi3.gpu.test.ts and llama-yarn.gpu.test.ts.
import { GgmlType } from '../../src/gpu/gguf/types';
import { v, writeGguf, type MetaValue, type TensorSpec } from '../gguf/writer';
import { uniform } from './numeric';
import { f32Tensor, FIRST_PIECE, tokenizerMetadata, weightStream } from './synthetic-gguf';

export { FIRST_PIECE };

export interface SyntheticRopeSpec {
  readonly arch: 'phi3' | 'llama';
  readonly seed: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Rotated dims of each head (Phi-3: fewer than headDim). */
  readonly ropeDim: number;
  readonly ffn: number;
  readonly vocab: number;
  /** The trained context (`<arch>.context_length`). */
  readonly contextLength: number;
  /** `rope.scaling.original_context_length`: LongRoPE's switch point, YaRN's correction dims. */
  readonly originalContext: number;
  readonly ropeBase: number;
  /** Phi-3: attn_qkv fused (as Phi-3.5 / Phi-4-mini ship) or separate q/k/v. */
  readonly fusedQkv?: boolean;
  /** Phi-3: written but not applied, as llama.cpp ignores Phi's sliding window. */
  readonly slidingWindow?: number;
  /** Llama: YaRN's rope.scaling.factor. */
  readonly yarnFactor?: number;
}

/**
 * Phi-4-mini's proportions scaled down (head dim 128 -> 32 with 3/4 of it rotated, GQA 24:8 -> 4:2), LongRoPE
 * factors random in [1, 4], trained context 4x the original one as in Phi-3.5's 128K / 4K (here 1024 / 256), and
 * a 48-position window llama.cpp does not apply. The Llama uses YaRN x4 over an original context of 256: with
 * head dim 32, pairs 0..6 of 16 are on YaRN's ramp, the rest interpolated.
 */
export const SYNTHETIC_ROPE: Readonly<Record<'phi3' | 'llamaYarn', SyntheticRopeSpec>> = {
  phi3: { arch: 'phi3', seed: 31, dim: 128, layers: 3, heads: 4, kvHeads: 2, headDim: 32, ropeDim: 24, ffn: 256, vocab: 384, contextLength: 1024, originalContext: 256, ropeBase: 10000, fusedQkv: true, slidingWindow: 48 },
  llamaYarn: { arch: 'llama', seed: 37, dim: 128, layers: 3, heads: 4, kvHeads: 2, headDim: 32, ropeDim: 32, ffn: 256, vocab: 384, contextLength: 1024, originalContext: 256, ropeBase: 10000, yarnFactor: 4 },
};

/** The contexts each fixture loads the model with: at most the original context (short factors) and past it. */
export const FIXTURE_CONTEXTS = { phi3Short: 256, phi3Long: 512, llamaYarn: 512 } as const;

/** Positions each fixture sequence covers (prompt + generated tokens). */
export const FIXTURE_POSITIONS = 64;

/** LongRoPE's sqrt(1 + ln(s) / ln(L)) for s = trained / original context (convert_hf_to_gguf's Phi-3 writer). */
export const longRopeAttnFactor = (s: SyntheticRopeSpec): number =>
  Math.sqrt(1 + Math.log(s.contextLength / s.originalContext) / Math.log(s.originalContext));

export function syntheticRopeGguf(s: SyntheticRopeSpec): Uint8Array {
  const { next, gauss } = weightStream(s.seed);
  // (rows, cols) row-major; gain 1: unit-variance outputs for unit-variance inputs.
  const gaussRows = (rows: number, cols: number, gain = 1): Float32Array => Float32Array.from({ length: rows * cols }, () => (gain * gauss()) / Math.sqrt(cols));
  const matrix = (name: string, rows: number, cols: number, gain = 1): TensorSpec =>
    ({ name, dims: [cols, rows], type: GgmlType.F32, data: new Uint8Array(gaussRows(rows, cols, gain).buffer) });
  const norm = (name: string, n: number): TensorSpec => f32Tensor(name, [n], () => 0.8 + 0.4 * next());
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const tensors: TensorSpec[] = [f32Tensor('token_embd.weight', [s.dim, s.vocab], gauss)];
  for (let l = 0; l < s.layers; l++) {
    const b = (n: string): string => `blk.${l}.${n}.weight`;
    tensors.push(norm(b('attn_norm'), s.dim));
    // Q and K at 2x so that positions (and so the RoPE scaling) move the attention weights visibly.
    if (s.arch === 'phi3' && s.fusedQkv) {
      // The same values, in the same order, as the separate attn_q, attn_k, attn_v below.
      const qkv = new Float32Array((q + 2 * kv) * s.dim);
      qkv.set(gaussRows(q, s.dim, 2), 0);
      qkv.set(gaussRows(kv, s.dim, 2), q * s.dim);
      qkv.set(gaussRows(kv, s.dim), (q + kv) * s.dim);
      tensors.push({ name: b('attn_qkv'), dims: [s.dim, q + 2 * kv], type: GgmlType.F32, data: new Uint8Array(qkv.buffer) });
    } else {
      tensors.push(matrix(b('attn_q'), q, s.dim, 2), matrix(b('attn_k'), kv, s.dim, 2), matrix(b('attn_v'), kv, s.dim));
    }
    tensors.push(matrix(b('attn_output'), s.dim, q), norm(b('ffn_norm'), s.dim));
    if (s.arch === 'phi3') {
      tensors.push(matrix(b('ffn_up'), 2 * s.ffn, s.dim)); // rows: gate | up
    } else {
      tensors.push(matrix(b('ffn_gate'), s.ffn, s.dim), matrix(b('ffn_up'), s.ffn, s.dim));
    }
    tensors.push(matrix(b('ffn_down'), s.dim, s.ffn));
  }
  tensors.push(norm('output_norm.weight', s.dim), matrix('output.weight', s.vocab, s.dim, 3));
  if (s.arch === 'phi3') {
    tensors.push(f32Tensor('rope_factors_short.weight', [s.ropeDim / 2], () => 1 + 3 * next()));
    tensors.push(f32Tensor('rope_factors_long.weight', [s.ropeDim / 2], () => 1 + 3 * next()));
  }
  const a = s.arch;
  const metadata: [string, MetaValue][] = [
    ['general.architecture', v.str(a)],
    // Not "phi3": llama.cpp's vocabulary loader looks up Phi-3's </s> and <|endoftext|> for a model so named.
    ['general.name', v.str(`synthetic RoPE-scaling model (${s.arch === 'phi3' ? 'LongRoPE' : 'YaRN'}, seed ${s.seed})`)],
    ['general.alignment', v.u32(32)],
    [`${a}.context_length`, v.u32(s.contextLength)],
    [`${a}.embedding_length`, v.u32(s.dim)],
    [`${a}.block_count`, v.u32(s.layers)],
    [`${a}.feed_forward_length`, v.u32(s.ffn)],
    [`${a}.attention.head_count`, v.u32(s.heads)],
    [`${a}.attention.head_count_kv`, v.u32(s.kvHeads)],
    [`${a}.attention.layer_norm_rms_epsilon`, v.f32(1e-5)],
    [`${a}.rope.dimension_count`, v.u32(s.ropeDim)],
    [`${a}.rope.freq_base`, v.f32(s.ropeBase)],
    [`${a}.rope.scaling.original_context_length`, v.u32(s.originalContext)],
    ...tokenizerMetadata(s.vocab),
  ];
  if (s.arch === 'phi3') {
    metadata.push([`${a}.rope.scaling.attn_factor`, v.f32(longRopeAttnFactor(s))]);
    if (s.slidingWindow !== undefined) metadata.push([`${a}.attention.sliding_window`, v.u32(s.slidingWindow)]);
  }
  if (s.yarnFactor !== undefined) metadata.push([`${a}.rope.scaling.type`, v.str('yarn')], [`${a}.rope.scaling.factor`, v.f32(s.yarnFactor)]);
  return writeGguf({ metadata, tensors });
}

/** The fixtures' prompts: word-piece ids from a seed; lengths below, at and past Phi's (unapplied) window. */
export function syntheticPrompts(s: SyntheticRopeSpec): number[][] {
  const next = uniform(s.seed * 104729 + 7);
  return [5, 20, 50].map((n) => Array.from({ length: n }, () => FIRST_PIECE + Math.floor(next() * (s.vocab - FIRST_PIECE))));
}
