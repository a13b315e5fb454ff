// What gpt-oss (GGUF architecture `gpt-oss`, llama.cpp's LLM_ARCH_OPENAI_MOE) adds to the Llama-family description,
// read as llama.cpp reads it (src/models/openai-moe.cpp): sliding-window attention on alternate layers (layer 0 is
// sliding), a learnt sink logit per query head (attn_sinks) in every layer's softmax, biases on q/k/v and the
// attention output, post_attention_norm where other models have ffn_norm, and a mixture-of-experts FFN with biases,
// top-k-then-softmax routing and the clamped SwiGLU (moe-config.ts).
import { GgufError } from '../gguf/errors';
import { optionalNumber, requireCount, type Metadata } from '../gguf/metadata';

export interface GptOssTraits {
  /** Per layer: true where attention sees only the last `slidingWindow` positions. */
  readonly slidingLayers: readonly boolean[];
  /** Keys a sliding layer's query at position p sees: p - slidingWindow < key <= p (LLAMA_SWA_TYPE_STANDARD). */
  readonly slidingWindow: number;
}

export const GPT_OSS = 'gpt-oss';

/** Reads `gpt-oss.attention.sliding_window` and the layer pattern. Throws a GgufError naming the key. */
export function readGptOssTraits(meta: Metadata, arch: string): GptOssTraits {
  const nLayers = requireCount(meta, `${arch}.block_count`);
  const window = requireCount(meta, `${arch}.attention.sliding_window`);
  const slidingLayers = slidingPattern(meta, arch, nLayers);
  const base = optionalNumber(meta, `${arch}.rope.freq_base`);
  const baseSwa = optionalNumber(meta, `${arch}.rope.freq_base_swa`);
  if (baseSwa !== undefined && baseSwa !== base) {
    throw new GgufError('unknown-architecture', `${arch}: a separate RoPE base for the sliding layers (${baseSwa}) is not supported yet`);
  }
  return { slidingLayers, slidingWindow: window };
}

/**
 * llama.cpp's load_swa_pattern(ml, 2): a per-layer bool array under `attention.sliding_window_pattern`, or a
 * period n (default 2) with layer l sliding when l % n < n - 1 (n = 0: every layer).
 */
function slidingPattern(meta: Metadata, arch: string, nLayers: number): boolean[] {
  const key = `${arch}.attention.sliding_window_pattern`;
  const raw = meta.get(key);
  if (Array.isArray(raw)) {
    if (raw.length < nLayers || !raw.every((v) => typeof v === 'boolean')) throw new GgufError('corrupt', `${key} must hold ${nLayers} booleans`);
    return (raw as boolean[]).slice(0, nLayers);
  }
  const n = optionalNumber(meta, key) ?? 2;
  if (!Number.isInteger(n) || n < 0) throw new GgufError('corrupt', `${key} ${n} is not a whole number`);
  return Array.from({ length: nLayers }, (_, l) => n === 0 || l % n < n - 1);
}

/** The tensors gpt-oss adds to each layer besides its MoE ones: ggml dims. */
export function* gptOssLayerTensorShapes(layerTensor: (l: number, name: string) => string, layerBias: (l: number, name: string) => string, l: number, c: { dim: number; nHeads: number }): Generator<[string, readonly number[]]> {
  yield [layerBias(l, 'attn_output'), [c.dim]];
  yield [layerTensor(l, 'attn_sinks'), [c.nHeads]];
}
