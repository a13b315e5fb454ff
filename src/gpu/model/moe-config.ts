// Mixture-of-experts hyperparameters and tensor names (Qwen3-MoE: `qwen3moe`; gpt-oss: `gpt-oss`; DeepSeek-V2:
// `deepseek2`, read in deepseek2.ts). Each layer's FFN is a router over `experts` gated experts of which `used` run
// per token.
import { GgufError } from '../gguf/errors';
import { optionalNumber, requireCount, type Metadata } from '../gguf/metadata';

export interface MoeConfig {
  readonly experts: number;
  /** Experts run per token (top-k). */
  readonly used: number;
  /** Hidden width of one expert. */
  readonly expertFfnDim: number;
  /** Renormalise the k selected probabilities to sum 1 (llama.cpp's `norm_w`; true for Qwen3-MoE). */
  readonly normalizeWeights: boolean;
  /**
   * llama.cpp's gating function: `softmax` over all experts, then top-k of the probabilities (Qwen3-MoE);
   * `softmax-weight`: top-k of the raw logits, then a softmax over the k selected (gpt-oss); `sigmoid`: sigmoid of
   * each logit, then top-k (DeepSeek's expert_gating_func 2).
   */
  readonly gating: 'softmax' | 'softmax-weight' | 'sigmoid';
  /** llama.cpp's w_scale: the k routing weights, after any normalisation, times this (DeepSeek's routed_scaling_factor); absent: 1. */
  readonly weightsScale?: number;
  /** Hidden width of the shared experts' SwiGLU (ffn_*_shexp), run on every token beside the routed ones (DeepSeek); absent: none. */
  readonly sharedFfnDim?: number;
  /** gpt-oss: router and expert biases, and the clamped SwiGLU swiglu_oai (see SWIGLU_OAI). */
  readonly oai: boolean;
}

/** ggml_swiglu_oai's constants as llama.cpp's build_moe_ffn passes them for LLM_FFN_SWIGLU_OAI_MOE. */
export const SWIGLU_OAI = { alpha: 1.702, limit: 7 } as const;

/** Reads `<arch>.expert_*`. Throws a GgufError naming the key. */
export function readMoeConfig(meta: Metadata, arch: string, dim: number): MoeConfig {
  const experts = requireCount(meta, `${arch}.expert_count`);
  const used = requireCount(meta, `${arch}.expert_used_count`);
  if (used > experts) throw new GgufError('corrupt', `${arch}.expert_used_count ${used} exceeds expert_count ${experts}`);
  // llama.cpp's fallback when the key is absent: n_ff / n_expert_used.
  const ffn = optionalNumber(meta, `${arch}.feed_forward_length`) ?? dim;
  const expertFfnDim = optionalNumber(meta, `${arch}.expert_feed_forward_length`) ?? ffn / used;
  if (!Number.isInteger(expertFfnDim) || expertFfnDim < 1) throw new GgufError('corrupt', `expert feed-forward length ${expertFfnDim} is not a positive whole number`);
  const oai = arch === 'gpt-oss';
  return { experts, used, expertFfnDim, normalizeWeights: !oai, gating: oai ? 'softmax-weight' : 'softmax', oai };
}

/** Expected ggml dims of layer `l`'s MoE FFN tensors: 3-D experts are [row length, rows, experts]. */
export function* moeTensorShapes(l: number, dim: number, m: MoeConfig): Generator<[string, readonly number[]]> {
  yield [`blk.${l}.ffn_gate_inp.weight`, [dim, m.experts]];
  yield [`blk.${l}.ffn_gate_exps.weight`, [dim, m.expertFfnDim, m.experts]];
  yield [`blk.${l}.ffn_up_exps.weight`, [dim, m.expertFfnDim, m.experts]];
  yield [`blk.${l}.ffn_down_exps.weight`, [m.expertFfnDim, dim, m.experts]];
  if (!m.oai) return;
  yield [`blk.${l}.ffn_gate_inp.bias`, [m.experts]];
  yield [`blk.${l}.ffn_gate_exps.bias`, [m.expertFfnDim, m.experts]];
  yield [`blk.${l}.ffn_up_exps.bias`, [m.expertFfnDim, m.experts]];
  yield [`blk.${l}.ffn_down_exps.bias`, [dim, m.experts]];
}
