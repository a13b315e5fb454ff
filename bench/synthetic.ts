// Synthetic GGUF models with realistic shapes and random weights, valid for llama.cpp too: full Llama
// metadata and the shared Llama-2 SentencePiece vocabulary (32000 tokens) for the tokenizer.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { GgufFile } from '../src/gpu/gguf/reader';
import { GgmlType, ggmlTypeName } from '../src/gpu/gguf/types';
import { quantize, quantizedByteSize, type QuantizableType } from '../src/gpu/quant/quantize';
import { buildGguf, v, type MetaValue, type TensorSpec } from '../tests/gguf/writer';

export interface SyntheticShape {
  readonly name: string;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly context: number;
}

/** SmolLM-135M's shape (GQA 3:1, head dim 64) and Llama-3.2-1B's (GQA 4:1, head dim 64), with a 32K vocabulary. */
export const SHAPES: Record<string, SyntheticShape> = {
  '135M': { name: 'synthetic-135M', dim: 576, layers: 30, heads: 9, kvHeads: 3, ffn: 1536, context: 16384 },
  '1B': { name: 'synthetic-1B', dim: 2048, layers: 16, heads: 32, kvHeads: 8, ffn: 8192, context: 16384 },
  // Quick runs on a CPU driver: the 135M geometry with fewer layers.
  tiny: { name: 'synthetic-tiny', dim: 576, layers: 4, heads: 9, kvHeads: 3, ffn: 1536, context: 4096 },
};

const VOCAB_FILE = fileURLToPath(new URL('../../shared/models/vocab/ggml-vocab-llama-spm.gguf', import.meta.url));

async function vocabMetadata(): Promise<[string, MetaValue][]> {
  const vocab = GgufFile.fromBytes(new Uint8Array(await readFile(VOCAB_FILE)));
  const m = vocab.metadata;
  const tokens = m.get('tokenizer.ggml.tokens') as string[];
  return [
    ['tokenizer.ggml.model', v.str('llama')],
    ['tokenizer.ggml.tokens', v.arr(8, tokens)],
    ['tokenizer.ggml.scores', v.arr(6, Array.from(m.get('tokenizer.ggml.scores') as Float32Array))],
    ['tokenizer.ggml.token_type', v.arr(5, Array.from(m.get('tokenizer.ggml.token_type') as Int32Array))],
    ['tokenizer.ggml.bos_token_id', v.u32(1)],
    ['tokenizer.ggml.eos_token_id', v.u32(2)],
    ['tokenizer.ggml.unknown_token_id', v.u32(0)],
  ];
}

/** Deterministic N(0, sigma) values (xorshift32 + Box-Muller). */
export function gaussian(n: number, seed: number, sigma = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 1) / 4294967297;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u())) * sigma;
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

interface TensorPlan {
  readonly name: string;
  readonly dims: [number, number?];
  readonly type: QuantizableType;
  readonly fill: () => Float32Array;
}

/**
 * The type a `cols`-wide matrix of a `quant` model gets, as `llama-quantize --pure` picks it: `quant` itself, unless
 * the row is not a whole number of its blocks. Then llama.cpp's tensor_type_fallback (src/llama-quant.cpp) swaps in
 * a 32-value type: Q4_K -> Q5_0 (so SmolLM-135M's 576-wide matrices are Q5_0 in a Q4_K file; its 1536-wide ffn_down
 * and every Llama-3.2-1B matrix stay Q4_K).
 */
export function matrixType(quant: QuantizableType, cols: number): QuantizableType {
  if (quant !== GgmlType.Q4_K || cols % 256 === 0) return quant;
  if (cols % 32 !== 0) throw new RangeError(`synthetic: a ${cols}-wide row fits neither Q4_K nor its fallback Q5_0`);
  return GgmlType.Q5_0;
}

function tensorPlans(s: SyntheticShape, vocab: number, quant: QuantizableType): TensorPlan[] {
  const hd = s.dim / s.heads;
  const plans: TensorPlan[] = [];
  let seed = 1;
  const mat = (name: string, cols: number, rows: number): void => {
    const sd = seed++;
    const type = matrixType(quant, cols);
    plans.push({ name, dims: [cols, rows], type, fill: () => gaussian(cols * rows, sd, 0.02 * Math.sqrt(576 / cols)) });
  };
  const norm = (name: string): void => {
    plans.push({ name, dims: [s.dim], type: GgmlType.F32, fill: () => new Float32Array(s.dim).fill(1) });
  };
  mat('token_embd.weight', s.dim, vocab);
  for (let l = 0; l < s.layers; l++) {
    norm(`blk.${l}.attn_norm.weight`);
    mat(`blk.${l}.attn_q.weight`, s.dim, s.heads * hd);
    mat(`blk.${l}.attn_k.weight`, s.dim, s.kvHeads * hd);
    mat(`blk.${l}.attn_v.weight`, s.dim, s.kvHeads * hd);
    mat(`blk.${l}.attn_output.weight`, s.heads * hd, s.dim);
    norm(`blk.${l}.ffn_norm.weight`);
    mat(`blk.${l}.ffn_gate.weight`, s.dim, s.ffn);
    mat(`blk.${l}.ffn_up.weight`, s.dim, s.ffn);
    mat(`blk.${l}.ffn_down.weight`, s.ffn, s.dim);
  }
  norm('output_norm.weight');
  mat('output.weight', s.dim, vocab);
  return plans;
}

/** Writes (or reuses) `<dir>/<shape>-<quant>.gguf` and returns its path. */
export async function syntheticModel(dir: string, shape: SyntheticShape, quant: QuantizableType): Promise<string> {
  const path = join(dir, `${shape.name}-${ggmlTypeName(quant)}.gguf`);
  if (await stat(path).then((st) => st.size > 0, () => false)) return path;
  await mkdir(dir, { recursive: true });
  const vocabMeta = await vocabMetadata();
  const vocab = (vocabMeta[1]![1] as { items: unknown[] }).items.length;
  const plans = tensorPlans(shape, vocab, quant);
  const metadata: [string, MetaValue][] = [
    ['general.architecture', v.str('llama')],
    ['general.name', v.str(shape.name)],
    ['general.alignment', v.u32(32)],
    ['llama.context_length', v.u32(shape.context)],
    ['llama.embedding_length', v.u32(shape.dim)],
    ['llama.block_count', v.u32(shape.layers)],
    ['llama.feed_forward_length', v.u32(shape.ffn)],
    ['llama.attention.head_count', v.u32(shape.heads)],
    ['llama.attention.head_count_kv', v.u32(shape.kvHeads)],
    ['llama.rope.dimension_count', v.u32(shape.dim / shape.heads)],
    ['llama.rope.freq_base', v.f32(10000)],
    ['llama.attention.layer_norm_rms_epsilon', v.f32(1e-5)],
    ['llama.vocab_size', v.u32(vocab)],
    ...vocabMeta,
  ];
  const specs: TensorSpec[] = plans.map((p) => ({ name: p.name, dims: p.dims.filter((d) => d !== undefined) as number[], type: p.type, byteSize: 0 }));
  // Sizes first (header offsets), then stream each tensor's bytes after the header.
  const sized = specs.map((t, i) => ({ ...t, byteSize: byteSizeOf(plans[i]!) }));
  const header = buildGguf({ metadata, tensors: sized, omitData: true });
  const out = createWriteStream(path);
  const write = async (b: Uint8Array): Promise<void> => {
    if (!out.write(b)) await once(out, 'drain');
  };
  await write(header.bytes);
  for (const p of plans) {
    const bytes = p.type === GgmlType.F32 ? new Uint8Array(p.fill().buffer) : quantize(p.type, p.fill());
    await write(bytes);
    const pad = (32 - (bytes.byteLength % 32)) % 32;
    if (pad) await write(new Uint8Array(pad));
  }
  out.end();
  await once(out, 'finish');
  return path;
}

function byteSizeOf(p: TensorPlan): number {
  return quantizedByteSize(p.type, p.dims.reduce<number>((a, d) => a * (d ?? 1), 1));
}
