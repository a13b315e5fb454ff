// The Llama-family model description read from GGUF metadata, and the tensor names of its weights.
import { GgufError } from '../gguf/errors';
import { optionalNumber, optionalString, requireCount, requireString } from '../gguf/metadata';
import type { GgufHeader, GgufTensorInfo } from '../gguf/types';
import { moeTensorShapes, readMoeConfig, type MoeConfig } from './moe-config';
import { deepseek2AttentionShapes, DEEPSEEK2, deepseek2FfnShapes, readDeepseek2Moe, readDeepseek2Traits, refuseUnsupportedDeepseek2Tensors, type Deepseek2Traits } from './deepseek2';
import { gemmaLayerTensorShapes, isGemma, readGemmaTraits, type GemmaTraits } from './gemma';
import { GPT_OSS, gptOssLayerTensorShapes, readGptOssTraits, type GptOssTraits } from './gpt-oss';
import { phi3LayerTensorShapes, phi3RopeFactorShapes, readPhi3Traits, type Phi3Traits } from './phi3';
import { readRopeScaling, type RopeScaling } from './rope-scaling';

/** `normal`: GGML's adjacent pairs (x[2i], x[2i+1]); `neox`: halves (x[i], x[i + d/2]). */
export type RopeStyle = 'normal' | 'neox';

export interface ModelConfig {
  readonly architecture: string;
  readonly name: string;
  readonly contextLength: number;
  /** Residual stream width. */
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly ffnDim: number;
  readonly vocabSize: number;
  readonly normEps: number;
  readonly ropeBase: number;
  /** Leading dims of each head that RoPE rotates (usually all of headDim). */
  readonly ropeDim: number;
  readonly ropeStyle: RopeStyle;
  /** Positions are divided by this (linear RoPE scaling); 1 when none. */
  readonly ropeLinearScale: number;
  /** YaRN, LongRoPE or an attention factor on cos/sin (rope-scaling.ts); absent for plain or linear RoPE. */
  readonly ropeScaling?: RopeScaling;
  /** Llama 3.1+ per-frequency divisors, in tensor `rope_freqs.weight` (ropeDim / 2 values). */
  readonly hasRopeFreqs: boolean;
  /** `output.weight` absent: logits use `token_embd.weight`. */
  readonly tiedEmbeddings: boolean;
  /** Qwen2 q/k/v biases. */
  readonly hasQkvBias: boolean;
  /** Qwen3 per-head RMSNorm on q and k before RoPE. */
  readonly hasQkNorm: boolean;
  /** Qwen3-MoE: the FFN is a router over experts (moe-config.ts). */
  readonly moe?: MoeConfig;
  /** Gemma 2 / 3: scaled embeddings, post-norms, GeGLU, sliding-window layers, soft-capping (gemma.ts). */
  readonly gemma?: GemmaTraits;
  /** gpt-oss: attention sinks, alternating sliding-window layers, output bias, MoE with biases (gpt-oss.ts). */
  readonly gptOss?: GptOssTraits;
  /** Phi-3 / Phi-4-mini: fused QKV and gate|up matrices, LongRoPE factors (phi3.ts). */
  readonly phi3?: Phi3Traits;
  /**
   * DeepSeek-V2: multi-head latent attention and a MoE with shared experts after dense leading layers (deepseek2.ts).
   * nKvHeads is 1 and headDim kvLoraRank + ropeDim: the width of the one cached row per token.
   */
  readonly deepseek2?: Deepseek2Traits;
}

interface ArchitectureTraits {
  readonly ropeStyle: RopeStyle;
}

// Architectures whose forward pass is the Llama one (RMSNorm, RoPE, GQA attention, SwiGLU).
const ARCHITECTURES: Readonly<Record<string, ArchitectureTraits>> = {
  llama: { ropeStyle: 'normal' },
  mistral: { ropeStyle: 'normal' },
  qwen2: { ropeStyle: 'neox' },
  qwen3: { ropeStyle: 'neox' },
  // Qwen3's attention; the FFN is a mixture of experts (moe-config.ts, moe.ts).
  qwen3moe: { ropeStyle: 'neox' },
  // Gemma 2 / 3: the same skeleton plus the pieces in gemma.ts.
  gemma2: { ropeStyle: 'neox' },
  gemma3: { ropeStyle: 'neox' },
  // gpt-oss: attention sinks, sliding-window layers, biases and a MoE FFN (gpt-oss.ts, moe-config.ts).
  [GPT_OSS]: { ropeStyle: 'neox' },
  // Phi-3 / Phi-4-mini: fused projections split at load, partial rotary dims, LongRoPE (phi3.ts).
  phi3: { ropeStyle: 'neox' },
  // DeepSeek-V2: MLA (a latent KV cache, RoPE on separate dims) and a MoE with shared experts (deepseek2.ts).
  [DEEPSEEK2]: { ropeStyle: 'normal' },
};

export const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES);

export const layerTensor = (layer: number, name: string): string => `blk.${layer}.${name}.weight`;
export const layerBias = (layer: number, name: string): string => `blk.${layer}.${name}.bias`;

/** Reads the model description. Throws a GgufError naming the missing key or unsupported architecture. */
export function readModelConfig(header: GgufHeader): ModelConfig {
  const meta = header.metadata;
  const arch = requireString(meta, 'general.architecture');
  const traits = ARCHITECTURES[arch];
  if (!traits) {
    throw new GgufError('unknown-architecture', `architecture "${arch}" is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`);
  }
  const tensors = new Map(header.tensors.map((t) => [t.name, t]));
  const dim = requireCount(meta, `${arch}.embedding_length`);
  const nHeads = requireCount(meta, `${arch}.attention.head_count`);
  const nKvHeads = optionalNumber(meta, `${arch}.attention.head_count_kv`) ?? nHeads;
  const headDim = optionalNumber(meta, `${arch}.attention.key_length`) ?? dim / nHeads;
  const embd = tensors.get('token_embd.weight');
  const tokens = meta.get('tokenizer.ggml.tokens');
  const vocabSize =
    optionalNumber(meta, `${arch}.vocab_size`) ?? embd?.dims[1] ?? (Array.isArray(tokens) ? tokens.length : undefined);
  if (vocabSize === undefined) throw new GgufError('missing-key', `the model's metadata has no ${arch}.vocab_size`);
  if (!Number.isInteger(headDim) || headDim < 1 || !Number.isInteger(nKvHeads) || nKvHeads < 1 || nHeads % nKvHeads !== 0) {
    throw new GgufError('corrupt', `inconsistent heads: ${nHeads} query heads, ${nKvHeads} KV heads, head dim ${headDim}`);
  }
  const contextLength = requireCount(meta, `${arch}.context_length`);
  const ropeBase = optionalNumber(meta, `${arch}.rope.freq_base`) ?? 10000;
  const ropeDim = optionalNumber(meta, `${arch}.rope.dimension_count`) ?? headDim;
  const longRope = arch === 'phi3' && tensors.has('rope_factors_long.weight');
  const scaling = readRopeScaling(meta, arch, { ropeDim, ropeBase, contextLength, longRope });
  const mla = arch === DEEPSEEK2 ? readDeepseek2Traits(meta, arch, { nKvHeads, headDim, ropeDim, ...scaling }) : undefined;
  if (mla) refuseUnsupportedDeepseek2Tensors(tensors, requireCount(meta, `${arch}.block_count`));
  // deepseek2 corrects YaRN's magnitude on cos and sin (deepseek2.ts).
  const ropeScaling = mla ? mla.ropeScaling : scaling.ropeScaling;
  const config: ModelConfig = {
    architecture: arch,
    name: optionalString(meta, 'general.name') ?? arch,
    contextLength,
    dim,
    nLayers: requireCount(meta, `${arch}.block_count`),
    nHeads,
    nKvHeads,
    headDim,
    ffnDim: requireCount(meta, `${arch}.feed_forward_length`),
    vocabSize,
    normEps: optionalNumber(meta, `${arch}.attention.layer_norm_rms_epsilon`) ?? 1e-5,
    ropeBase,
    ropeDim,
    ropeStyle: traits.ropeStyle,
    ropeLinearScale: scaling.ropeLinearScale,
    ...(ropeScaling ? { ropeScaling } : {}),
    hasRopeFreqs: tensors.has('rope_freqs.weight'),
    tiedEmbeddings: !tensors.has('output.weight'),
    hasQkvBias: arch === GPT_OSS || tensors.has(layerBias(0, 'attn_q')),
    hasQkNorm: tensors.has(layerTensor(0, 'attn_q_norm')),
    ...(arch === 'qwen3moe' || arch === GPT_OSS ? { moe: readMoeConfig(meta, arch, dim) } : {}),
    ...(arch === GPT_OSS ? { gptOss: readGptOssTraits(meta, arch) } : {}),
    ...(arch === 'phi3' ? { phi3: readPhi3Traits(tensors, { headDim, ropeDim }) } : {}),
    ...(mla ? { deepseek2: mla.traits, ...(meta.has(`${arch}.expert_count`) ? { moe: readDeepseek2Moe(meta, arch) } : {}) } : {}),
  };
  const withGemma: ModelConfig = isGemma(arch) ? { ...config, gemma: readGemmaTraits(meta, arch, config) } : config;
  checkTensorShapes(withGemma, tensors);
  return withGemma;
}

/** Expected ggml dims ([row length, rows]) of every weight the forward pass reads. */
export function expectedTensorShapes(c: ModelConfig): Map<string, readonly number[]> {
  return new Map(tensorShapes(c));
}

function* tensorShapes(c: ModelConfig): Generator<[string, readonly number[]]> {
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  yield ['token_embd.weight', [c.dim, c.vocabSize]];
  yield ['output_norm.weight', [c.dim]];
  if (!c.tiedEmbeddings) yield ['output.weight', [c.dim, c.vocabSize]];
  if (c.hasRopeFreqs) yield ['rope_freqs.weight', [c.ropeDim / 2]];
  if (c.ropeScaling?.longRopeOriginalContext !== undefined) yield* phi3RopeFactorShapes(c);
  for (let l = 0; l < c.nLayers; l++) {
    yield [layerTensor(l, 'attn_norm'), [c.dim]];
    if (c.deepseek2) {
      yield* deepseek2AttentionShapes(layerTensor, l, c, c.deepseek2);
      yield* deepseek2FfnShapes(layerTensor, l, c, c.deepseek2, (m) => moeTensorShapes(m, c.dim, c.moe!));
      continue;
    }
    if (c.phi3) {
      yield* phi3LayerTensorShapes(l, c, c.phi3.fusedQkv);
      yield [layerTensor(l, 'attn_output'), [q, c.dim]];
      yield [layerTensor(l, 'ffn_norm'), [c.dim]];
      continue;
    }
    yield [layerTensor(l, 'attn_q'), [c.dim, q]];
    yield [layerTensor(l, 'attn_k'), [c.dim, kv]];
    yield [layerTensor(l, 'attn_v'), [c.dim, kv]];
    yield [layerTensor(l, 'attn_output'), [q, c.dim]];
    // gpt-oss names its pre-FFN norm post_attention_norm (llama.cpp's attn_post_norm).
    yield [layerTensor(l, c.gptOss ? 'post_attention_norm' : 'ffn_norm'), [c.dim]];
    if (c.gptOss) yield* gptOssLayerTensorShapes(layerTensor, layerBias, l, c);
    if (c.moe) {
      yield* moeTensorShapes(l, c.dim, c.moe);
    } else {
      yield [layerTensor(l, 'ffn_gate'), [c.dim, c.ffnDim]];
      yield [layerTensor(l, 'ffn_up'), [c.dim, c.ffnDim]];
      yield [layerTensor(l, 'ffn_down'), [c.ffnDim, c.dim]];
    }
    if (c.hasQkvBias) {
      yield [layerBias(l, 'attn_q'), [q]];
      yield [layerBias(l, 'attn_k'), [kv]];
      yield [layerBias(l, 'attn_v'), [kv]];
    }
    if (c.hasQkNorm) {
      yield [layerTensor(l, 'attn_q_norm'), [c.headDim]];
      yield [layerTensor(l, 'attn_k_norm'), [c.headDim]];
    }
  }
  if (c.gemma) yield* gemmaLayerTensorShapes(layerTensor, c.dim, c.nLayers);
}

function checkTensorShapes(c: ModelConfig, tensors: ReadonlyMap<string, GgufTensorInfo>): void {
  // Lazily: a corrupt block_count (up to 2^32) fails at the first absent layer instead of building billions of names.
  for (const [name, dims] of tensorShapes(c)) {
    const t = tensors.get(name);
    if (!t) throw new GgufError('missing-tensor', `the model has no tensor ${name}`);
    const same = t.dims.length === dims.length && t.dims.every((d, i) => d === dims[i]);
    if (!same) {
      throw new GgufError('bad-shape', `tensor ${name} has shape [${t.dims.join(', ')}], expected [${dims.join(', ')}] from the metadata`);
    }
  }
}

/** Number of parameters, counted from the tensor infos. */
export function parameterCount(header: GgufHeader): number {
  return header.tensors.reduce((n, t) => n + t.elementCount, 0);
}
