// A crafted Llama-family model split the way llama.cpp's gguf-split does it: the first part holds every metadata
// key (with split.no / split.count / split.tensors.count) and some tensors, later parts hold the split.* keys and
// the rest of the tensors. Small (F32 zeros) but accepted by the probe and the library's header check.
import { GgmlType } from '../../src/gpu/gguf/types';
import { craftModel, GgufValueType, v, writeGguf, type MetaValue } from '../gguf/writer';

const DIM = 32;
const KV = 16; // 2 KV heads of 8
const FFN = 64;
/** Layer 1's tensors, which go to the second part ([name, ggml dims]). */
const SECOND_PART: readonly [string, number[]][] = [
  ['blk.1.attn_norm.weight', [DIM]], ['blk.1.attn_q.weight', [DIM, DIM]], ['blk.1.attn_k.weight', [DIM, KV]],
  ['blk.1.attn_v.weight', [DIM, KV]], ['blk.1.attn_output.weight', [DIM, DIM]], ['blk.1.ffn_norm.weight', [DIM]],
  ['blk.1.ffn_gate.weight', [DIM, FFN]], ['blk.1.ffn_up.weight', [DIM, FFN]], ['blk.1.ffn_down.weight', [FFN, DIM]],
];
const TENSORS = 3 + 9 * 2; // token_embd, output_norm, output + 9 per layer

const splitKeys = (no: number): [string, MetaValue][] => [
  ['split.no', v.u16(no)], ['split.count', v.u16(2)], ['split.tensors.count', v.i32(TENSORS)],
];

/** [part 1, part 2] of a two-layer model. */
export function splitModel(): [Uint8Array, Uint8Array] {
  const first = craftModel({
    extraMeta: [
      ['tokenizer.ggml.model', v.str('llama')],
      ['tokenizer.ggml.scores', v.arr(GgufValueType.FLOAT32, Array.from({ length: 40 }, () => 0))],
      ['tokenizer.ggml.token_type', v.arr(GgufValueType.INT32, Array.from({ length: 40 }, () => 1))],
      ...splitKeys(0),
    ],
    omitTensors: SECOND_PART.map(([n]) => n),
  });
  const second = writeGguf({ metadata: splitKeys(1), tensors: SECOND_PART.map(([name, dims]) => ({ name, dims, type: GgmlType.F32 })) });
  return [first, second];
}
