// What DeepSeek-V2 (GGUF architecture `deepseek2`) adds to the Llama-family description, read as llama.cpp reads it
// (src/models/deepseek2.cpp, llama-context.cpp's YaRN attention factor): multi-head latent attention (MLA) and a
// mixture-of-experts FFN with shared experts after `leading_dense_block_count` dense layers.
//
// MLA per layer and token, x the normed input (dim), H heads:
//   q       = attn_q x, or attn_q_b rmsnorm_{attn_q_a_norm}(attn_q_a x)    (H, qkNope + ropeDim): [q_nope | q_pe]
//   [c | kp] = attn_kv_a_mqa x                                              (kvLoraRank + ropeDim): latent, shared RoPE key
//   c       = rmsnorm_{attn_kv_a_norm}(c);  q_pe, kp roped (GGML's adjacent pairs)
//   per head h: K_h = [k_b[h] c | kp], V_h = v_b[h] c; scores scaled by attnScale; out = attn_output (concat of heads)
// The cache holds one row per token, [c | kp] (kvLoraRank + ropeDim values): ModelConfig's nKvHeads 1 and headDim
// kvLoraRank + ropeDim, the `key_length` current converters write. Only the split `attn_k_b` / `attn_v_b` form
// (`key_length_mla` and `value_length_mla` present) is read; old files with a fused `attn_kv_b` are refused.
import { GgufError } from '../gguf/errors';
import { optionalBool, optionalNumber, requireCount, type Metadata } from '../gguf/metadata';
import type { MoeConfig } from './moe-config';
import type { RopeScaling } from './rope-scaling';

export const DEEPSEEK2 = 'deepseek2';

export interface Deepseek2Traits {
  /** Rank of the low-rank query (attn_q_a / attn_q_a_norm / attn_q_b); 0: a full attn_q (DeepSeek-V2-Lite). */
  readonly qLoraRank: number;
  /** Width of the cached latent (attn_kv_a_norm); V is read from it. */
  readonly kvLoraRank: number;
  /** Per-head query/key dims without RoPE (`key_length_mla` - rope dims). */
  readonly qkNopeDim: number;
  /** Per-head value dims after attn_v_b (`value_length_mla`). */
  readonly vHeadDim: number;
  /** Layers 0 .. denseLayers - 1 have a dense SwiGLU FFN (ffn_gate/up/down), the rest the MoE. */
  readonly denseLayers: number;
  /** Softmax scale of the scores: mscale^2 / sqrt(qkNopeDim + ropeDim), mscale from YaRN's log multiplier. */
  readonly attnScale: number;
}

/** The per-head query width of the expanded form: qkNopeDim + ropeDim (`key_length_mla`). */
export const mlaQueryHeadDim = (t: Deepseek2Traits, ropeDim: number): number => t.qkNopeDim + ropeDim;

/** The KV pool's row of an MLA model: kvLoraRank + ropeDim values a token, one kind, whose value is its latent. */
export const mlaKvRow = (c: { ropeDim: number; deepseek2?: Deepseek2Traits }): { nKvHeads: 1; headDim: number; latentDim: number } | undefined =>
  c.deepseek2 ? { nKvHeads: 1, headDim: c.deepseek2.kvLoraRank + c.ropeDim, latentDim: c.deepseek2.kvLoraRank } : undefined;

/** The attention-relevant settings readModelConfig has already read. */
export interface Deepseek2Base {
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly ropeDim: number;
  /** From readRopeScaling: linear scaling is refused (llama.cpp's deepseek2 would scale the scores by 1 + 0.1 ln f). */
  readonly ropeLinearScale: number;
  readonly ropeScaling?: RopeScaling;
}

/**
 * Reads the MLA keys. `base.headDim` (`key_length`) must be kvLoraRank + ropeDim and `head_count_kv` 1, as
 * converters write them; `ropeScaling` comes from readRopeScaling and is corrected here (deepseek2's YaRN magnitude).
 */
export function readDeepseek2Traits(meta: Metadata, arch: string, base: Deepseek2Base): { traits: Deepseek2Traits; ropeScaling?: RopeScaling } {
  const kvLoraRank = requireCount(meta, `${arch}.attention.kv_lora_rank`);
  const qLoraRank = optionalNumber(meta, `${arch}.attention.q_lora_rank`) ?? 0;
  const kMla = optionalNumber(meta, `${arch}.attention.key_length_mla`);
  const vMla = optionalNumber(meta, `${arch}.attention.value_length_mla`);
  if (kMla === undefined || vMla === undefined) {
    throw new GgufError('unknown-architecture', `${arch}: the file has no attention.key_length_mla / value_length_mla, so it holds the old fused attn_kv_b; only the split attn_k_b / attn_v_b form is supported (reconvert with a current convert_hf_to_gguf.py)`);
  }
  if (!Number.isInteger(qLoraRank) || qLoraRank < 0) throw new GgufError('corrupt', `${arch}.attention.q_lora_rank ${qLoraRank} is not a whole number`);
  const { ropeDim } = base;
  const qkNopeDim = kMla - ropeDim;
  if (!Number.isInteger(kMla) || qkNopeDim < 1 || !Number.isInteger(vMla) || vMla < 1) {
    throw new GgufError('corrupt', `${arch}: key_length_mla ${kMla} must exceed rope.dimension_count ${ropeDim}, value_length_mla ${vMla} must be positive`);
  }
  if (ropeDim % 2 !== 0) throw new GgufError('corrupt', `${arch}.rope.dimension_count ${ropeDim} is odd`);
  if (base.nKvHeads !== 1 || base.headDim !== kvLoraRank + ropeDim) {
    throw new GgufError('corrupt', `${arch}: MLA files have head_count_kv 1 and key_length kv_lora_rank + rope dims (${kvLoraRank + ropeDim}), not ${base.nKvHeads} and ${base.headDim}`);
  }
  const temperature = optionalNumber(meta, `${arch}.attention.temperature_scale`) ?? 0;
  if (temperature !== 0) throw new GgufError('unknown-architecture', `${arch}: attention temperature scaling (Mistral Large 3) is not supported`);
  const denseLayers = optionalNumber(meta, `${arch}.leading_dense_block_count`) ?? 0;
  const nLayers = requireCount(meta, `${arch}.block_count`);
  if (!Number.isInteger(denseLayers) || denseLayers < 0 || denseLayers > nLayers) throw new GgufError('corrupt', `${arch}.leading_dense_block_count ${denseLayers} is not 0 to ${nLayers}`);
  if (base.ropeLinearScale !== 1 || (base.ropeScaling && !base.ropeScaling.yarn && base.ropeScaling.freqScale !== 1)) {
    throw new GgufError('unknown-architecture', `${arch}: linear RoPE scaling is not supported (none or yarn)`);
  }
  const { ropeScaling, mscale } = yarnMagnitudes(meta, arch, base.ropeScaling);
  const attnScale = (mscale * mscale) / Math.sqrt(kMla);
  return { traits: { qLoraRank, kvLoraRank, qkNopeDim, vHeadDim: vMla, denseLayers, attnScale }, ...(ropeScaling ? { ropeScaling } : {}) };
}

/**
 * deepseek2's YaRN, as llama.cpp computes it with f = rope.scaling.factor, L = yarn_log_multiplier / 0.1 (the
 * converter stores 0.1 * mscale_all_dim), A = rope.scaling.attn_factor:
 *   cos/sin magnitude M = A when L != 0 (the context's yarn_attn_factor cancels YaRN's 1 + 0.1 ln f), else A (1 + 0.1 ln f)
 *   mscale = M (1 + 0.1 L ln f), which scales the scores by its square.
 * Without YaRN, M = A and mscale = A.
 */
function yarnMagnitudes(meta: Metadata, arch: string, s: RopeScaling | undefined): { ropeScaling?: RopeScaling; mscale: number } {
  const logMulRaw = optionalNumber(meta, `${arch}.rope.scaling.yarn_log_multiplier`) ?? 0;
  const logMul = logMulRaw / 0.1;
  if (!s) return { mscale: 1 };
  if (!s.yarn) return { ropeScaling: s, mscale: s.attnFactor };
  const lnF = Math.log(1 / s.freqScale);
  const fileAttnFactor = optionalNumber(meta, `${arch}.rope.scaling.attn_factor`) ?? 1;
  const magnitude = logMul !== 0 ? fileAttnFactor : fileAttnFactor * (1 + 0.1 * lnF);
  return { ropeScaling: { ...s, attnFactor: magnitude }, mscale: magnitude * (1 + 0.1 * logMul * lnF) };
}

/** llama.cpp's expert_gating_func: 0 (absent) and 1 softmax, 2 sigmoid. */
function gating(meta: Metadata, arch: string): MoeConfig['gating'] {
  const f = optionalNumber(meta, `${arch}.expert_gating_func`) ?? 0;
  if (f === 0 || f === 1) return 'softmax';
  if (f === 2) return 'sigmoid';
  throw new GgufError('unknown-architecture', `${arch}.expert_gating_func ${f} is not supported (1 softmax, 2 sigmoid)`);
}

/** The DeepSeek MoE: `expert_*` keys, the routed weights' scale and normalisation, and the shared experts' width. */
export function readDeepseek2Moe(meta: Metadata, arch: string): MoeConfig {
  const experts = requireCount(meta, `${arch}.expert_count`);
  const used = requireCount(meta, `${arch}.expert_used_count`);
  if (used > experts) throw new GgufError('corrupt', `${arch}.expert_used_count ${used} exceeds expert_count ${experts}`);
  const expertFfnDim = requireCount(meta, `${arch}.expert_feed_forward_length`);
  const shared = optionalNumber(meta, `${arch}.expert_shared_count`);
  if (shared === undefined) throw new GgufError('missing-key', `the model's metadata has no ${arch}.expert_shared_count`);
  if (!Number.isInteger(shared) || shared < 0) throw new GgufError('corrupt', `${arch}.expert_shared_count ${shared} is not a whole number`);
  const groups = optionalNumber(meta, `${arch}.expert_group_count`) ?? 0;
  if (groups > 1) throw new GgufError('unknown-architecture', `${arch}: grouped expert routing (expert_group_count ${groups}, DeepSeek-V3) is not supported`);
  const scale = optionalNumber(meta, `${arch}.expert_weights_scale`) ?? 0;
  return {
    experts,
    used,
    expertFfnDim,
    normalizeWeights: optionalBool(meta, `${arch}.expert_weights_norm`) ?? false,
    gating: gating(meta, arch),
    oai: false,
    // llama.cpp skips a scale of 0 or 1.
    ...(scale !== 0 && scale !== 1 ? { weightsScale: scale } : {}),
    ...(shared > 0 ? { sharedFfnDim: expertFfnDim * shared } : {}),
  };
}

type Shapes = Generator<[string, readonly number[]]>;

interface Deepseek2Shape {
  readonly dim: number;
  readonly nHeads: number;
  readonly ffnDim: number;
  readonly ropeDim: number;
  readonly moe?: MoeConfig;
}

/** Layer `l`'s MLA tensors: ggml dims ([row length, rows, heads]). */
export function* deepseek2AttentionShapes(layerTensor: (l: number, n: string) => string, l: number, c: Deepseek2Shape, t: Deepseek2Traits): Shapes {
  const qHead = mlaQueryHeadDim(t, c.ropeDim);
  if (t.qLoraRank > 0) {
    yield [layerTensor(l, 'attn_q_a'), [c.dim, t.qLoraRank]];
    yield [layerTensor(l, 'attn_q_a_norm'), [t.qLoraRank]];
    yield [layerTensor(l, 'attn_q_b'), [t.qLoraRank, c.nHeads * qHead]];
  } else {
    yield [layerTensor(l, 'attn_q'), [c.dim, c.nHeads * qHead]];
  }
  yield [layerTensor(l, 'attn_kv_a_mqa'), [c.dim, t.kvLoraRank + c.ropeDim]];
  yield [layerTensor(l, 'attn_kv_a_norm'), [t.kvLoraRank]];
  yield [layerTensor(l, 'attn_k_b'), [t.qkNopeDim, t.kvLoraRank, c.nHeads]];
  yield [layerTensor(l, 'attn_v_b'), [t.kvLoraRank, t.vHeadDim, c.nHeads]];
  yield [layerTensor(l, 'attn_output'), [c.nHeads * t.vHeadDim, c.dim]];
}

/** Layer `l`'s FFN tensors: dense SwiGLU on the leading layers, else routed experts plus the shared ones. */
export function* deepseek2FfnShapes(layerTensor: (l: number, n: string) => string, l: number, c: Deepseek2Shape, t: Deepseek2Traits, moeShapes: (l: number) => Shapes): Shapes {
  yield [layerTensor(l, 'ffn_norm'), [c.dim]];
  if (l < t.denseLayers || !c.moe) {
    yield [layerTensor(l, 'ffn_gate'), [c.dim, c.ffnDim]];
    yield [layerTensor(l, 'ffn_up'), [c.dim, c.ffnDim]];
    yield [layerTensor(l, 'ffn_down'), [c.ffnDim, c.dim]];
    return;
  }
  yield* moeShapes(l);
  const s = c.moe.sharedFfnDim;
  if (s === undefined) return;
  yield [layerTensor(l, 'ffn_gate_shexp'), [c.dim, s]];
  yield [layerTensor(l, 'ffn_up_shexp'), [c.dim, s]];
  yield [layerTensor(l, 'ffn_down_shexp'), [s, c.dim]];
}

/** Tensors llama.cpp's deepseek2 graph would use and we do not run: refused by name rather than ignored. */
export function refuseUnsupportedDeepseek2Tensors(tensors: ReadonlyMap<string, unknown>, nLayers: number): void {
  for (let l = 0; l < nLayers; l++) {
    for (const name of [`blk.${l}.exp_probs_b.bias`, `blk.${l}.ffn_gate_up_exps.weight`]) {
      if (tensors.has(name)) throw new GgufError('unknown-architecture', `deepseek2: tensor ${name} is not supported (DeepSeek-V2 routing with separate gate and up experts only)`);
    }
  }
}
