// What the seeded synthetic GGUF writers (gemma-, phi3-, gpt-oss-synthetic.ts) share: their Gaussian weight stream,
// F32 tensors, and a valid SentencePiece-style vocabulary with its tokenizer keys. The bytes feed committed llama.cpp
// fixtures: any change here changes every synthetic model.
import { GgmlType } from '../../src/gpu/gguf/types';
import { GgufValueType, v, type MetaValue, type TensorSpec } from '../gguf/writer';
import { uniform } from './numeric';

/** Token ids: 0 <pad>, 1 <eos>, 2 <bos>, 3 <unk>, 4..259 the bytes, then word pieces. */
export const FIRST_PIECE = 260;

/** A writer's random stream from `seed`: `next` uniform [0, 1), `gauss` standard normal (Box-Muller over the same stream). */
export function weightStream(seed: number): { next: () => number; gauss: () => number } {
  const next = uniform(seed * 7919 + 1);
  const gauss = (): number => {
    // Box-Muller from two uniforms; 1 - u keeps log away from 0.
    const u = 1 - next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  return { next, gauss };
}

/** An F32 tensor of `dims` (ggml order), its values drawn from `f` in order. */
export function f32Tensor(name: string, dims: number[], f: () => number): TensorSpec {
  const n = dims.reduce((a, b) => a * b, 1);
  return { name, dims, type: GgmlType.F32, data: new Uint8Array(Float32Array.from({ length: n }, f).buffer) };
}

function vocabulary(n: number): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<pad>', '<eos>', '<bos>', '<unk>'];
  const types = [3, 3, 3, 2]; // llama_token_type: 1 normal, 2 unknown, 3 control, 6 byte
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  for (let i = 0; tokens.length < n; i++) {
    tokens.push(`\u2581w${i}`);
    types.push(1);
  }
  return { tokens, scores: tokens.map((_, i) => -i), types };
}

/** The tokenizer keys of an `n`-token vocabulary laid out as FIRST_PIECE describes. */
export function tokenizerMetadata(n: number): [string, MetaValue][] {
  const voc = vocabulary(n);
  return [
    ['tokenizer.ggml.model', v.str('llama')],
    ['tokenizer.ggml.tokens', v.arr(GgufValueType.STRING, voc.tokens)],
    ['tokenizer.ggml.scores', v.arr(GgufValueType.FLOAT32, voc.scores)],
    ['tokenizer.ggml.token_type', v.arr(GgufValueType.INT32, voc.types)],
    ['tokenizer.ggml.bos_token_id', v.u32(2)],
    ['tokenizer.ggml.eos_token_id', v.u32(1)],
    ['tokenizer.ggml.unknown_token_id', v.u32(3)],
    ['tokenizer.ggml.padding_token_id', v.u32(0)],
  ];
}
