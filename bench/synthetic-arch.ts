// Gemma 3-, Qwen3-MoE- and DeepSeek-V2-shaped synthetic GGUF models for the peer bench, quantized as `llama-quantize --pure` would
// quantize them. The architectures' own writers (tests/helpers: the ones whose F32 files llama.cpp checks us against)
// write the tensors and metadata; this file re-encodes their matrices as Q8_0 or Q4_K, keeping the metadata bytes
// as written, so both engines read one quantized file of a known-good layout.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { GgufFile } from '../src/gpu/gguf/reader';
import { GgmlType, ggmlTypeName, type GgufTensorInfo } from '../src/gpu/gguf/types';
import { dequantize } from '../src/gpu/quant';
import { quantize, quantizedByteSize, type QuantizableType } from '../src/gpu/quant/quantize';
import { buildGguf, walkGguf, type TensorSpec } from '../tests/gguf/writer';
import { syntheticGemmaGguf, type SyntheticGemmaSpec } from '../tests/helpers/gemma-synthetic';
import { buildMoeModel, type MoeModelSpec } from '../tests/helpers/moe-model';
import { SYNTHETIC_DEEPSEEK2_LITE_HEADS, syntheticDeepseek2Gguf, type SyntheticDeepseek2Spec } from '../tests/helpers/deepseek2-synthetic';
import { matrixType } from './synthetic';

export type ArchShape =
  | { readonly name: string; readonly arch: 'gemma3'; readonly spec: SyntheticGemmaSpec; readonly bos: number }
  | { readonly name: string; readonly arch: 'qwen3moe'; readonly spec: MoeModelSpec; readonly bos: number }
  | { readonly name: string; readonly arch: 'deepseek2'; readonly spec: SyntheticDeepseek2Spec; readonly bos: number };

// Both writers' vocabularies: control tokens, 256 byte tokens, then word pieces; 32000 like the Llama bench models
// (the real 262K / 152K vocabularies would make the output matrix most of every decode step at these sizes).
const VOCAB = 32000;

/**
 * Gemma 3 270M's geometry (dim 640, 4 query heads on 1 KV head, head dim 256, FFN 2048, window 512, five sliding
 * layers per global one), 6 layers for quick runs and its 18 for full ones; a 32K vocabulary (real: 262K), tied.
 */
const gemma3 = (layers: number): ArchShape => ({
  name: `synthetic-gemma3-${layers}L`,
  arch: 'gemma3',
  bos: 2,
  spec: { arch: 'gemma3', seed: 270, dim: 640, layers, heads: 4, kvHeads: 1, headDim: 256, ffn: 2048, vocab: VOCAB, contextLength: 32768, slidingWindow: 512, ropeBase: 1e6 },
});

/**
 * Qwen3-30B-A3B's proportions at a quarter of its width: 128 experts of which 8 run per token, GQA 8:1, head dim 128
 * (query width twice the model's), expert FFN a half of dim (real: 768 of 2048; 256 keeps every matrix whole Q4_K
 * blocks), QK norms, untied output. 4 layers for quick runs, 12 for full ones (real: 48).
 */
const qwen3moe = (layers: number): ArchShape => ({
  name: `synthetic-qwen3moe-${layers}L`,
  arch: 'qwen3moe',
  bos: 1,
  // Experts generated as Q8_0 (the writer's quantized option), then requantized: a quarter of the F32 file's memory.
  spec: { seed: 30, dim: 512, layers, heads: 8, kvHeads: 1, headDim: 128, experts: 128, expertsUsed: 8, expertFfn: 256, vocab: VOCAB, contextLength: 32768, expertType: GgmlType.Q8_0 },
});

/**
 * DeepSeek-V2-Lite's attention exactly (16 heads of 128 nope + 64 rope, full attn_q, latent 512: cache rows of 576,
 * v_head 128) at a quarter of its width (dim 512, real 2048), one dense leading layer (FFN 1536) then MoE layers of
 * 16 routed experts, top-4, plus 2 shared (real: 64, top-6, 2 shared), expert FFN 256 (real 1408), softmax gating;
 * 4 layers for quick runs, 12 for full ones (real: 27). A 32K vocabulary (real: 102K), untied.
 */
const deepseek2 = (layers: number): ArchShape => ({
  name: `synthetic-deepseek2-${layers}L`,
  arch: 'deepseek2',
  // The synthetic tokenizer's BOS (tests/helpers/synthetic-gguf.ts).
  bos: 2,
  spec: { ...SYNTHETIC_DEEPSEEK2_LITE_HEADS, seed: 2048, dim: 512, layers, ffn: 1536, experts: 16, expertsUsed: 4, sharedExperts: 2, expertFfn: 256, vocab: VOCAB, contextLength: 32768 },
});

export const ARCH_SHAPES: Record<string, ArchShape> = {
  'gemma3-quick': gemma3(6),
  gemma3: gemma3(18),
  'qwen3moe-quick': qwen3moe(4),
  qwen3moe: qwen3moe(12),
  'deepseek2-quick': deepseek2(4),
  deepseek2: deepseek2(12),
};

/** The architecture writer's GGUF bytes for `shape` (weights F32, or Q8_0 experts). */
function writerBytes(shape: ArchShape): Uint8Array {
  switch (shape.arch) {
    case 'gemma3':
      return syntheticGemmaGguf(shape.spec);
    case 'qwen3moe':
      return buildMoeModel(shape.spec);
    case 'deepseek2':
      return syntheticDeepseek2Gguf(shape.spec);
  }
}

/**
 * The type a tensor gets in a `quant` file: vectors (norms) and the MoE router stay F32, as llama-quantize keeps
 * them; matrices and expert stacks take `quant`, or its fallback where a row is not whole blocks (see matrixType).
 * DeepSeek-V2's per-head up-projections (attn_k_b, attn_v_b: 3-D, a few MiB a layer) stay F32 too: llama.cpp
 * (node-llama-cpp 3.22.1) aborts on a Q8_0 one, on its CPU backend as well (GGML_ASSERT(*cur_backend_id != -1):
 * its Q8_0 weights go to the CPU's repacked buffer type, which takes no batched 3-D matmul).
 */
export function archTensorType(t: Pick<GgufTensorInfo, 'name' | 'dims'>, quant: QuantizableType): QuantizableType {
  if (t.dims.length < 2 || t.name.includes('ffn_gate_inp') || /\.attn_[kv]_b\./.test(t.name)) return GgmlType.F32;
  return matrixType(quant, t.dims[0]!);
}

/** Writes (or reuses) `<dir>/<shape>-<quant>.gguf` and returns its path. */
export async function archModel(dir: string, shape: ArchShape, quant: QuantizableType): Promise<string> {
  const path = join(dir, `${shape.name}-${ggmlTypeName(quant)}.gguf`);
  if (await stat(path).then((st) => st.size > 0, () => false)) return path;
  await mkdir(dir, { recursive: true });
  // Written under a temporary name so an interrupted run never leaves a truncated file that a later run would reuse.
  const partial = `${path}.partial`;
  await requantizeGguf(writerBytes(shape), partial, (t) => archTensorType(t, quant));
  await rename(partial, path);
  return path;
}

/** Magic (4 bytes), version (4), tensor count (8), metadata count (8): the metadata follows. */
const PREAMBLE_BYTES = 24;

/**
 * Streams `source` (a valid little-endian GGUF) to `path` with each tensor re-encoded as `typeOf` says: the
 * preamble and metadata bytes are copied as they are (every key keeps its value type), the tensor infos are
 * written anew for the new types and offsets.
 */
async function requantizeGguf(source: Uint8Array, path: string, typeOf: (t: GgufTensorInfo) => QuantizableType): Promise<void> {
  const file = GgufFile.fromBytes(source);
  const { tensors, alignment } = file.header;
  const types = tensors.map(typeOf);
  const specs: TensorSpec[] = tensors.map((t, i) => ({ name: t.name, dims: t.dims, type: types[i]!, byteSize: quantizedByteSize(types[i]!, t.elementCount) }));
  const infos = buildGguf({ tensors: specs, alignment, omitData: true });
  const infoBytes = infos.bytes.subarray(PREAMBLE_BYTES, infos.layout.headerEnd);
  // Tensor infos have the same length whatever their types, so the source's metadata ends where its infos begin.
  const metadataEnd = walkGguf(source).headerEnd - infoBytes.byteLength;
  const out = createWriteStream(path);
  const write = async (b: Uint8Array): Promise<void> => {
    if (!out.write(b)) await once(out, 'drain');
  };
  const pad = (n: number): Uint8Array => new Uint8Array((alignment - (n % alignment)) % alignment);
  const headerBytes = metadataEnd + infoBytes.byteLength;
  await write(source.subarray(0, metadataEnd));
  await write(infoBytes);
  await write(pad(headerBytes));
  for (const [i, t] of tensors.entries()) {
    const raw = await file.tensorBytes(t);
    const bytes = t.type === types[i] ? raw : quantize(types[i]!, dequantize(t.type, raw, t.elementCount, undefined, t.name));
    await write(bytes);
    await write(pad(bytes.byteLength));
  }
  out.end();
  await once(out, 'finish');
}
