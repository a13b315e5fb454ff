// A crafted Llama-family model split the way llama.cpp's gguf-split does it: the first part holds every metadata
// key (with split.no / split.count / split.tensors.count) and some tensors, later parts hold the split.* keys and
// the rest of the tensors. Small (F32 zeros) but accepted by the probe and the library's header check.
import { parseGguf } from '../../src/gpu/gguf/reader';
import { GgmlType, type GgufTensorInfo } from '../../src/gpu/gguf/types';
import { craftModel, GgufValueType, v, walkGguf, writeGguf, type MetaValue } from '../gguf/writer';

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

/**
 * Splits a whole GGUF file into `count` parts as gguf-split does: part 1 keeps every metadata entry (its bytes
 * copied as they are), each part gets split.no / split.count / split.tensors.count and a consecutive run of the
 * tensors, whose bytes are copied into its own aligned data section.
 */
export function splitGgufBytes(bytes: Uint8Array, count: number): Uint8Array[] {
  const header = parseGguf(bytes);
  const infoBytes = (t: GgufTensorInfo): number => 8 + utf8.encode(t.name).byteLength + 4 + 8 * t.dims.length + 4 + 8;
  const kvEnd = walkGguf(bytes).headerEnd - header.tensors.reduce((n, t) => n + infoBytes(t), 0);
  const kvBytes = bytes.subarray(24, kvEnd); // after magic, version, tensor count, kv count
  const kvCount = header.metadata.size;
  const per = Math.ceil(header.tensors.length / count);
  return Array.from({ length: count }, (_, i) => {
    const tensors = header.tensors.slice(i * per, (i + 1) * per);
    // Later parts have no general.alignment: they use the default 32.
    const alignment = i === 0 ? header.alignment : 32;
    const keys = writeGguf({ metadata: splitKeysOf(i, count, header.tensors.length), omitData: true });
    const keysBody = keys.subarray(24, walkGguf(keys).headerEnd);
    const w = new PartWriter();
    w.u32(0x46554747);
    w.u32(3);
    w.u64(tensors.length);
    w.u64((i === 0 ? kvCount : 0) + 3);
    if (i === 0) w.bytes(kvBytes);
    w.bytes(keysBody);
    let offset = 0;
    for (const t of tensors) {
      w.str(t.name);
      w.u32(t.dims.length);
      for (const d of t.dims) w.u64(d);
      w.u32(t.type);
      w.u64(offset);
      offset = alignTo(offset + t.byteSize, alignment);
    }
    w.pad(alignment);
    for (const t of tensors) {
      w.bytes(bytes.subarray(header.dataOffset + t.offset, header.dataOffset + t.offset + t.byteSize));
      w.pad(alignment);
    }
    return w.finish();
  });
}

const utf8 = new TextEncoder();
const alignTo = (n: number, a: number): number => Math.ceil(n / a) * a;
const splitKeysOf = (no: number, count: number, tensors: number): [string, MetaValue][] => [
  ['split.no', v.u16(no)], ['split.count', v.u16(count)], ['split.tensors.count', v.i32(tensors)],
];

/** A little-endian byte builder for the parts. */
class PartWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  bytes(b: Uint8Array): void {
    this.chunks.push(b.slice());
    this.length += b.byteLength;
  }
  u32(x: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, x, true);
    this.bytes(b);
  }
  u64(x: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(x), true);
    this.bytes(b);
  }
  str(s: string): void {
    const b = utf8.encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
  }
  pad(alignment: number): void {
    this.bytes(new Uint8Array(alignTo(this.length, alignment) - this.length));
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}
