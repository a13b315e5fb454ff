// A small synthetic Qwen3-MoE GGUF, regenerated bit for bit from a seed, so that no model binary is committed:
// the llama.cpp fixtures (bench/make-moe-fixtures.ts) and the tests build the same file from the same spec.
// Proportions of the real Qwen3-30B-A3B scaled down: GQA 2:1, head dim 32 (real: 128), 8 experts of which 2 are
// used (real: 128 / 8), QK norms, neox RoPE, untied output. Vocabulary: a valid SentencePiece one (llama.cpp wants
// its byte tokens), 3 control tokens + 256 bytes + normal pieces; token ids are fed directly, never tokenized.
import { GgmlType } from '../../src/gpu/gguf/types';
import { quantize } from '../../src/gpu/quant/quantize';
import { GgufValueType, v, writeGguf, type MetaValue, type TensorSpec } from '../gguf/writer';
import { mulberry32 } from './numeric';

export interface MoeModelSpec {
  readonly seed: number;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly experts: number;
  readonly expertsUsed: number;
  readonly expertFfn: number;
  readonly vocab: number;
  readonly contextLength: number;
  /** Type of the three expert tensors (the rest is F32). */
  readonly expertType: GgmlType.F32 | GgmlType.Q8_0;
}

export const MOE_FIXTURE_SPEC: MoeModelSpec = {
  seed: 16,
  dim: 128,
  layers: 3,
  heads: 4,
  kvHeads: 2,
  headDim: 32,
  experts: 8,
  expertsUsed: 2,
  expertFfn: 64,
  vocab: 320,
  contextLength: 256,
  expertType: GgmlType.F32,
};

function vocabulary(n: number): { tokens: string[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // unknown, control, control
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // byte
  }
  for (let i = 0; tokens.length < n; i++) {
    tokens.push(`▁w${i}`);
    types.push(1); // normal
  }
  return { tokens, types };
}

/** Builds the GGUF bytes of `spec`. */
export function buildMoeModel(spec: MoeModelSpec = MOE_FIXTURE_SPEC): Uint8Array {
  const s = spec;
  const arch = 'qwen3moe';
  const rand = mulberry32(s.seed);
  // Uniform in [-a, a] with the variance of N(0, std^2).
  const values = (n: number, std: number, mean = 0): Float32Array => {
    const a = std * Math.sqrt(3);
    return Float32Array.from({ length: n }, () => mean + (2 * rand() - 1) * a);
  };
  const tensors: TensorSpec[] = [];
  const f32 = (name: string, dims: number[], std: number, mean = 0): void => {
    const data = values(dims.reduce((p, d) => p * d, 1), std, mean);
    tensors.push({ name, dims, type: GgmlType.F32, data: new Uint8Array(data.buffer) });
  };
  const expert = (name: string, dims: number[], std: number): void => {
    const data = values(dims.reduce((p, d) => p * d, 1), std);
    const bytes = s.expertType === GgmlType.F32 ? new Uint8Array(data.buffer) : quantize(s.expertType, data);
    tensors.push({ name, dims, type: s.expertType, data: bytes });
  };
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  f32('token_embd.weight', [s.dim, s.vocab], 1);
  for (let l = 0; l < s.layers; l++) {
    const b = `blk.${l}.`;
    f32(`${b}attn_norm.weight`, [s.dim], 0.1, 1);
    f32(`${b}attn_q.weight`, [s.dim, q], 1 / Math.sqrt(s.dim));
    f32(`${b}attn_k.weight`, [s.dim, kv], 1 / Math.sqrt(s.dim));
    f32(`${b}attn_v.weight`, [s.dim, kv], 1 / Math.sqrt(s.dim));
    f32(`${b}attn_output.weight`, [q, s.dim], 1 / Math.sqrt(q));
    f32(`${b}attn_q_norm.weight`, [s.headDim], 0.1, 1);
    f32(`${b}attn_k_norm.weight`, [s.headDim], 0.1, 1);
    f32(`${b}ffn_norm.weight`, [s.dim], 0.1, 1);
    // A wide router (std 0.3 per weight, logits of std ~3): clear winners, so no routing decision rests on a
    // difference of a few ulps between two experts' probabilities.
    f32(`${b}ffn_gate_inp.weight`, [s.dim, s.experts], 0.3);
    expert(`${b}ffn_gate_exps.weight`, [s.dim, s.expertFfn, s.experts], 1 / Math.sqrt(s.dim));
    expert(`${b}ffn_up_exps.weight`, [s.dim, s.expertFfn, s.experts], 1 / Math.sqrt(s.dim));
    expert(`${b}ffn_down_exps.weight`, [s.expertFfn, s.dim, s.experts], 1 / Math.sqrt(s.expertFfn));
  }
  f32('output_norm.weight', [s.dim], 0.1, 1);
  f32('output.weight', [s.dim, s.vocab], 2 / Math.sqrt(s.dim));
  const { tokens, types } = vocabulary(s.vocab);
  const metadata: [string, MetaValue][] = [
    ['general.architecture', v.str(arch)],
    ['general.name', v.str(`synthetic qwen3moe seed ${s.seed}`)],
    [`${arch}.context_length`, v.u32(s.contextLength)],
    [`${arch}.embedding_length`, v.u32(s.dim)],
    [`${arch}.block_count`, v.u32(s.layers)],
    [`${arch}.feed_forward_length`, v.u32(s.expertFfn * s.expertsUsed)],
    [`${arch}.expert_feed_forward_length`, v.u32(s.expertFfn)],
    [`${arch}.expert_count`, v.u32(s.experts)],
    [`${arch}.expert_used_count`, v.u32(s.expertsUsed)],
    [`${arch}.attention.head_count`, v.u32(s.heads)],
    [`${arch}.attention.head_count_kv`, v.u32(s.kvHeads)],
    [`${arch}.attention.key_length`, v.u32(s.headDim)],
    [`${arch}.attention.value_length`, v.u32(s.headDim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, v.f32(1e-6)],
    [`${arch}.rope.freq_base`, v.f32(1e6)],
    ['tokenizer.ggml.model', v.str('llama')],
    ['tokenizer.ggml.tokens', v.arr(GgufValueType.STRING, tokens)],
    ['tokenizer.ggml.scores', v.arr(GgufValueType.FLOAT32, tokens.map((_, i) => -i))],
    ['tokenizer.ggml.token_type', v.arr(GgufValueType.INT32, types)],
    ['tokenizer.ggml.bos_token_id', v.u32(1)],
    ['tokenizer.ggml.eos_token_id', v.u32(2)],
    ['tokenizer.ggml.unknown_token_id', v.u32(0)],
  ];
  return writeGguf({ metadata, tensors });
}

/** The fixture's prompts: token ids drawn from the normal pieces and bytes (never control tokens). */
export function moeFixturePrompts(spec: MoeModelSpec = MOE_FIXTURE_SPEC): number[][] {
  const rand = mulberry32(spec.seed * 7919 + 1);
  const pick = (): number => 3 + Math.floor(rand() * (spec.vocab - 3));
  return [[1, pick()], Array.from({ length: 7 }, pick), Array.from({ length: 23 }, pick)];
}

export interface MoeFixture {
  readonly llama_cpp: string;
  readonly spec: MoeModelSpec;
  readonly cases: readonly {
    readonly prompt_tokens: number[];
    readonly generated_tokens: number[];
    readonly first_generated_position_logits: number[];
  }[];
}
