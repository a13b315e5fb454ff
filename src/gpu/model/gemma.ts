// What Gemma 2 and Gemma 3 add to the Llama-family description, read as llama.cpp reads it (llama-model.cpp's
// hparams for LLM_ARCH_GEMMA2 / LLM_ARCH_GEMMA3), and the extra tensors they carry. Their GGUF norm weights already
// hold Gemma's (1 + w) (convert_hf_to_gguf.py adds the 1), so every norm is the plain x / rms(x) * w.
import { GgufError } from '../gguf/errors';
import { optionalNumber, type Metadata } from '../gguf/metadata';

export interface GemmaTraits {
  /** The token embedding is multiplied by this (sqrt(dim), rounded to f32 as llama.cpp's sqrtf). */
  readonly embedScale: number;
  /** Per layer: true where attention sees only the last `slidingWindow` positions. */
  readonly slidingLayers: readonly boolean[];
  /** Keys a sliding layer's query at position p sees: p - slidingWindow < key <= p. */
  readonly slidingWindow: number;
  /** RoPE base of the sliding layers (global layers use ModelConfig.ropeBase). */
  readonly ropeBaseLocal: number;
  /** Attention score scale (llama.cpp's f_attention_scale). */
  readonly attnScale: number;
  /** Scores become c * tanh(s / c); 0 for none (Gemma 2: 50). */
  readonly attnSoftcap: number;
  /** Logits become c * tanh(z / c); 0 for none (Gemma 2: 30). */
  readonly finalSoftcap: number;
}

export const GEMMA_ARCHITECTURES = ['gemma2', 'gemma3'] as const;

export const isGemma = (arch: string): boolean => (GEMMA_ARCHITECTURES as readonly string[]).includes(arch);

/** Layer counts llama.cpp takes for the 27B models, which scale scores by 1/sqrt(dim / heads), not 1/sqrt(headDim). */
const LARGE_LAYER_COUNT: Readonly<Record<string, number>> = { gemma2: 46, gemma3: 62 };

export function readGemmaTraits(meta: Metadata, arch: string, s: { dim: number; nLayers: number; nHeads: number; headDim: number; ropeBase: number }): GemmaTraits {
  const gemma2 = arch === 'gemma2';
  // Gemma 2 alternates sliding and global layers from layer 0; Gemma 3 has five sliding layers per global one.
  const pattern = optionalNumber(meta, `${arch}.attention.sliding_window_pattern`) ?? (gemma2 ? 2 : 6);
  const window = optionalNumber(meta, `${arch}.attention.sliding_window`) ?? (gemma2 ? 4096 : undefined);
  if (window === undefined || !Number.isInteger(window) || window < 1) {
    throw new GgufError('missing-key', `the model's metadata has no valid ${arch}.attention.sliding_window`);
  }
  if (!Number.isInteger(pattern) || pattern < 1) throw new GgufError('corrupt', `${arch}: sliding window pattern ${pattern} is not a positive integer`);
  const large = s.nLayers === LARGE_LAYER_COUNT[arch];
  return {
    embedScale: Math.fround(Math.sqrt(s.dim)),
    slidingLayers: Array.from({ length: s.nLayers }, (_, l) => l % pattern < pattern - 1),
    slidingWindow: window,
    ropeBaseLocal: optionalNumber(meta, `${arch}.rope.freq_base_swa`) ?? (gemma2 ? s.ropeBase : 10000),
    attnScale: 1 / Math.sqrt(large ? s.dim / s.nHeads : s.headDim),
    attnSoftcap: gemma2 ? (optionalNumber(meta, `${arch}.attn_logit_softcapping`) ?? 50) : 0,
    finalSoftcap: optionalNumber(meta, `${arch}.final_logit_softcapping`) ?? (gemma2 ? 30 : 0),
  };
}

/** The per-layer norms Gemma adds after attention and after the FFN: (dim) each. */
export function* gemmaLayerTensorShapes(layerTensor: (l: number, name: string) => string, dim: number, nLayers: number): Generator<[string, readonly number[]]> {
  for (let l = 0; l < nLayers; l++) {
    yield [layerTensor(l, 'post_attention_norm'), [dim]];
    yield [layerTensor(l, 'post_ffw_norm'), [dim]];
  }
}
