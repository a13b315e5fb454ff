// Small synthetic DeepSeek-V2 GGUFs (llama.cpp's LLM_ARCH_DEEPSEEK2, MLA in the split attn_k_b / attn_v_b form current
// converters write), generated deterministically from a seed: the same bytes feed llama.cpp in
// scripts/make-deepseek2-fixtures.ts (greedy tokens and logits in tests/fixtures/arch-deepseek2*.json) and our CPU
// reference and engine.
//
// DeepSeek-V2-Lite's proportions scaled down: qk_nope 64 + rope 32 per query head (real: 128 + 64), v_head 64 (real
// 128), a latent of 128 (real 512; cache row 128 + 32 = 160 values, five q8_0 blocks), one dense leading layer, then
// MoE layers of 8 routed experts (top-2) plus one shared expert (real: 64 top-6 plus 2 shared).
// - SYNTHETIC_DEEPSEEK2: low-rank query (q_lora_rank 96, as DeepSeek-V2), softmax gating, routed weights times 2.5;
// - SYNTHETIC_DEEPSEEK2_LITE: full attn_q (q_lora_rank 0, as V2-Lite), 16 heads, sigmoid gating with renormalised weights;
// - SYNTHETIC_DEEPSEEK2_YARN: the first with YaRN as V2-Lite carries it (factor 40 over 4096 there; here 4 over 32,
//   so the ramp and the 64 positions meet) and its yarn_log_multiplier (0.1 * mscale_all_dim 0.707);
// - SYNTHETIC_DEEPSEEK2_LITE_HEADS: V2-Lite's attention exactly (16 heads of 128 + 64, latent 512: cache rows of 576,
//   v_head 128) in a two-layer model of width 256: the kernels at the real row width.
import { GgmlType } from '../../src/gpu/gguf/types';
import { quantize } from '../../src/gpu/quant/quantize';
import { v, writeGguf, type MetaValue, type TensorSpec } from '../gguf/writer';
import { uniform } from './numeric';
import { f32Tensor, FIRST_PIECE, tokenizerMetadata, weightStream } from './synthetic-gguf';

export interface SyntheticDeepseek2Spec {
  readonly arch: 'deepseek2';
  readonly seed: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  /** 0: a full attn_q. */
  readonly qLoraRank: number;
  readonly kvLoraRank: number;
  readonly qkNope: number;
  readonly rope: number;
  readonly vHead: number;
  readonly denseLayers: number;
  readonly ffn: number;
  readonly experts: number;
  readonly expertsUsed: number;
  readonly sharedExperts: number;
  readonly expertFfn: number;
  /** llama.cpp's expert_gating_func: 1 softmax, 2 sigmoid. */
  readonly gating: 1 | 2;
  readonly normalizeWeights: boolean;
  /** expert_weights_scale (routed_scaling_factor); absent: not written. */
  readonly weightsScale?: number;
  readonly vocab: number;
  readonly contextLength: number;
  readonly ropeBase: number;
  readonly yarn?: { readonly factor: number; readonly originalContext: number; readonly logMultiplier: number };
}

export const SYNTHETIC_DEEPSEEK2: SyntheticDeepseek2Spec = {
  arch: 'deepseek2',
  seed: 22,
  dim: 256,
  layers: 3,
  heads: 8,
  qLoraRank: 96,
  kvLoraRank: 128,
  qkNope: 64,
  rope: 32,
  vHead: 64,
  denseLayers: 1,
  ffn: 384,
  experts: 8,
  expertsUsed: 2,
  sharedExperts: 1,
  expertFfn: 128,
  gating: 1,
  normalizeWeights: false,
  weightsScale: 2.5,
  vocab: 384,
  contextLength: 128,
  ropeBase: 10000,
};

export const SYNTHETIC_DEEPSEEK2_LITE: SyntheticDeepseek2Spec = {
  ...SYNTHETIC_DEEPSEEK2,
  seed: 23,
  heads: 16,
  qLoraRank: 0,
  gating: 2,
  normalizeWeights: true,
  weightsScale: undefined,
};

export const SYNTHETIC_DEEPSEEK2_YARN: SyntheticDeepseek2Spec = {
  ...SYNTHETIC_DEEPSEEK2,
  yarn: { factor: 4, originalContext: 32, logMultiplier: 0.0707 },
};

export const SYNTHETIC_DEEPSEEK2_LITE_HEADS: SyntheticDeepseek2Spec = {
  ...SYNTHETIC_DEEPSEEK2_LITE,
  seed: 24,
  layers: 2,
  kvLoraRank: 512,
  qkNope: 128,
  rope: 64,
  vHead: 128,
  gating: 1,
  normalizeWeights: false,
  weightsScale: 1,
};

/**
 * The GGUF bytes: every tensor F32, or with `perHeadType` the per-head up-projections attn_k_b / attn_v_b quantized
 * to it (the same values before quantizing), as quantized V2 files carry them.
 */
export function syntheticDeepseek2Gguf(s: SyntheticDeepseek2Spec, perHeadType?: GgmlType.Q8_0 | GgmlType.Q4_0): Uint8Array {
  const { gauss } = weightStream(s.seed);
  // ggml dims [cols, rows(, heads)]; values of std gain / sqrt(cols), so each output has std ~gain.
  const matrix = (name: string, dims: number[], gain = 1): TensorSpec => f32Tensor(name, dims, () => (gain * gauss()) / Math.sqrt(dims[0]!));
  const vector = (name: string, n: number, std: number, mean = 0): TensorSpec => f32Tensor(name, [n], () => mean + std * gauss());
  const qHead = s.qkNope + s.rope;
  const tensors: TensorSpec[] = [f32Tensor('token_embd.weight', [s.dim, s.vocab], gauss)];
  for (let l = 0; l < s.layers; l++) {
    const w = (n: string): string => `blk.${l}.${n}.weight`;
    tensors.push(vector(w('attn_norm'), s.dim, 0.1, 1));
    if (s.qLoraRank > 0) {
      tensors.push(matrix(w('attn_q_a'), [s.dim, s.qLoraRank]), vector(w('attn_q_a_norm'), s.qLoraRank, 0.1, 1), matrix(w('attn_q_b'), [s.qLoraRank, s.heads * qHead]));
    } else {
      tensors.push(matrix(w('attn_q'), [s.dim, s.heads * qHead]));
    }
    tensors.push(
      matrix(w('attn_kv_a_mqa'), [s.dim, s.kvLoraRank + s.rope]),
      vector(w('attn_kv_a_norm'), s.kvLoraRank, 0.1, 1),
      // k_b (heads, kvLoraRank, qkNope): each nope key value sums kvLoraRank latent values.
      f32Tensor(w('attn_k_b'), [s.qkNope, s.kvLoraRank, s.heads], () => gauss() / Math.sqrt(s.kvLoraRank)),
      matrix(w('attn_v_b'), [s.kvLoraRank, s.vHead, s.heads]),
      matrix(w('attn_output'), [s.heads * s.vHead, s.dim]),
      vector(w('ffn_norm'), s.dim, 0.1, 1),
    );
    if (l < s.denseLayers) {
      tensors.push(matrix(w('ffn_gate'), [s.dim, s.ffn]), matrix(w('ffn_up'), [s.dim, s.ffn]), matrix(w('ffn_down'), [s.ffn, s.dim]));
      continue;
    }
    const shared = s.expertFfn * s.sharedExperts;
    tensors.push(
      // A wide router (logits of std ~3): clear winners, so no routing decision rests on a few ulps.
      matrix(w('ffn_gate_inp'), [s.dim, s.experts], 3),
      matrix(w('ffn_gate_exps'), [s.dim, s.expertFfn, s.experts]),
      matrix(w('ffn_up_exps'), [s.dim, s.expertFfn, s.experts]),
      matrix(w('ffn_down_exps'), [s.expertFfn, s.dim, s.experts]),
      matrix(w('ffn_gate_shexp'), [s.dim, shared]),
      matrix(w('ffn_up_shexp'), [s.dim, shared]),
      matrix(w('ffn_down_shexp'), [shared, s.dim]),
    );
  }
  tensors.push(vector('output_norm.weight', s.dim, 0.1, 1), matrix('output.weight', [s.dim, s.vocab], 2));
  const quantized = (t: TensorSpec): TensorSpec =>
    perHeadType !== undefined && /\.attn_[kv]_b\./.test(t.name) ? { ...t, type: perHeadType, data: quantize(perHeadType, new Float32Array(t.data!.slice().buffer)) } : t;
  return writeGguf({ metadata: deepseek2Metadata(s), tensors: tensors.map(quantized) });
}

function deepseek2Metadata(s: SyntheticDeepseek2Spec): [string, MetaValue][] {
  const a = s.arch;
  const m: [string, MetaValue][] = [
    ['general.architecture', v.str(a)],
    ['general.name', v.str(`synthetic ${a} (seed ${s.seed})`)],
    ['general.alignment', v.u32(32)],
    [`${a}.context_length`, v.u32(s.contextLength)],
    [`${a}.embedding_length`, v.u32(s.dim)],
    [`${a}.block_count`, v.u32(s.layers)],
    [`${a}.feed_forward_length`, v.u32(s.ffn)],
    [`${a}.leading_dense_block_count`, v.u32(s.denseLayers)],
    [`${a}.vocab_size`, v.u32(s.vocab)],
    // Written even when 0: llama.cpp requires the key unless the layer count is V2-Lite's.
    [`${a}.attention.q_lora_rank`, v.u32(s.qLoraRank)],
    [`${a}.attention.kv_lora_rank`, v.u32(s.kvLoraRank)],
    [`${a}.attention.head_count`, v.u32(s.heads)],
    [`${a}.attention.head_count_kv`, v.u32(1)],
    [`${a}.attention.key_length`, v.u32(s.kvLoraRank + s.rope)],
    [`${a}.attention.value_length`, v.u32(s.kvLoraRank)],
    [`${a}.attention.key_length_mla`, v.u32(s.qkNope + s.rope)],
    [`${a}.attention.value_length_mla`, v.u32(s.vHead)],
    [`${a}.attention.layer_norm_rms_epsilon`, v.f32(1e-6)],
    [`${a}.expert_feed_forward_length`, v.u32(s.expertFfn)],
    [`${a}.expert_count`, v.u32(s.experts)],
    [`${a}.expert_used_count`, v.u32(s.expertsUsed)],
    [`${a}.expert_shared_count`, v.u32(s.sharedExperts)],
    [`${a}.expert_gating_func`, v.u32(s.gating)],
    [`${a}.rope.dimension_count`, v.u32(s.rope)],
    [`${a}.rope.freq_base`, v.f32(s.ropeBase)],
    ...tokenizerMetadata(s.vocab),
  ];
  if (s.normalizeWeights) m.push([`${a}.expert_weights_norm`, v.bool(true)]);
  if (s.weightsScale !== undefined) m.push([`${a}.expert_weights_scale`, v.f32(s.weightsScale)]);
  if (s.yarn) {
    m.push(
      [`${a}.rope.scaling.type`, v.str('yarn')],
      [`${a}.rope.scaling.factor`, v.f32(s.yarn.factor)],
      [`${a}.rope.scaling.original_context_length`, v.u32(s.yarn.originalContext)],
      [`${a}.rope.scaling.yarn_log_multiplier`, v.f32(s.yarn.logMultiplier)],
    );
  }
  return m;
}

/** The fixture's prompts: word-piece ids from a seed; lengths 5, 20 and 40 (past the YaRN variant's 32). */
export function syntheticDeepseek2Prompts(s: SyntheticDeepseek2Spec): number[][] {
  const next = uniform(s.seed * 104729 + 7);
  return [5, 20, 40].map((n) => Array.from({ length: n }, () => FIRST_PIECE + Math.floor(next() * (s.vocab - FIRST_PIECE))));
}

/** Positions each fixture sequence covers (prompt + generated tokens). */
export const DEEPSEEK2_FIXTURE_POSITIONS = 64;

/** The fixtures (tests/fixtures/<name>.json) and the synthetic model each was made from. */
export const DEEPSEEK2_FIXTURES = [
  ['arch-deepseek2', SYNTHETIC_DEEPSEEK2],
  ['arch-deepseek2-lite', SYNTHETIC_DEEPSEEK2_LITE],
  ['arch-deepseek2-yarn', SYNTHETIC_DEEPSEEK2_YARN],
  ['arch-deepseek2-lite-heads', SYNTHETIC_DEEPSEEK2_LITE_HEADS],
] as const;
