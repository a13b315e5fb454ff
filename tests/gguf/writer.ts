// Test-side GGUF writer (v2/v3, little or big endian) for crafting valid and deliberately broken files,
// plus an independent walker that finds the count/length/type fields of a file (used to aim the fuzzer).
// Independent of src/gpu/gguf/reader.ts on purpose: only the shared type numbers are imported.
import { blockGeometry, GgmlType, GgufValueType } from '../../src/gpu/gguf/types';

export { GgufValueType };

/** One array element: a scalar, a string, or (for arrays of arrays) a nested array. */
export type ItemValue = number | bigint | boolean | string | ArrayValue;

export interface ArrayValue {
  readonly elemType: GgufValueType;
  readonly items: ItemValue[];
}

/** A typed metadata value. `type` may be any u32 (an unknown type id crafts an invalid file). */
export type MetaValue =
  | { readonly type: GgufValueType | number; readonly value: number | bigint | boolean | string }
  | ({ readonly type: GgufValueType.ARRAY } & ArrayValue);

/** Shorthand constructors: `v.u32(5)`, `v.str('x')`, `v.arr(GgufValueType.STRING, ['a'])`. */
export const v = {
  u8: (value: number): MetaValue => ({ type: GgufValueType.UINT8, value }),
  i8: (value: number): MetaValue => ({ type: GgufValueType.INT8, value }),
  u16: (value: number): MetaValue => ({ type: GgufValueType.UINT16, value }),
  i16: (value: number): MetaValue => ({ type: GgufValueType.INT16, value }),
  u32: (value: number): MetaValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): MetaValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): MetaValue => ({ type: GgufValueType.FLOAT32, value }),
  bool: (value: boolean): MetaValue => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): MetaValue => ({ type: GgufValueType.STRING, value }),
  u64: (value: number | bigint): MetaValue => ({ type: GgufValueType.UINT64, value }),
  i64: (value: number | bigint): MetaValue => ({ type: GgufValueType.INT64, value }),
  f64: (value: number): MetaValue => ({ type: GgufValueType.FLOAT64, value }),
  arr: (elemType: GgufValueType, items: readonly ItemValue[]): MetaValue => ({ type: GgufValueType.ARRAY, elemType, items: [...items] }),
  /** An element of an array of arrays. */
  item: (elemType: GgufValueType, items: readonly ItemValue[]): ArrayValue => ({ elemType, items: [...items] }),
};

export interface TensorSpec {
  readonly name: string;
  /** ggml order: dims[0] is the row length. */
  readonly dims: readonly (number | bigint)[];
  readonly type: number;
  /** Tensor bytes; default zeros of the size the type's block geometry gives (required for unknown types unless byteSize). */
  readonly data?: Uint8Array;
  readonly byteSize?: number;
  /** Offset written into the tensor info (relative to the data section); default: packed, aligned. */
  readonly offset?: number | bigint;
}

export interface GgufSpec {
  /** Default 3. Any u32 (1 and 4 craft unsupported files). */
  readonly version?: number;
  /** Default 0x46554747 ("GGUF"); always written little endian, as gguf-py does. */
  readonly magic?: number;
  /** Write every field after the magic big endian. */
  readonly bigEndian?: boolean;
  /** Ordered; a key may repeat (crafts a duplicate-key file). */
  readonly metadata?: readonly (readonly [string, MetaValue])[];
  readonly tensors?: readonly TensorSpec[];
  /** Padding used for the data section and tensor offsets; default general.alignment when it is a u32, else 32. */
  readonly alignment?: number;
  /** Counts written in the header instead of the real ones. */
  readonly tensorCount?: number | bigint;
  readonly kvCount?: number | bigint;
  /** Omit the tensor data section entirely (header only). */
  readonly omitData?: boolean;
}

export interface KvLayout {
  readonly key: string;
  readonly keyLengthAt: number;
  readonly typeAt: number;
  readonly valueAt: number;
}

export interface TensorLayout {
  readonly name: string;
  readonly nameLengthAt: number;
  readonly nDimsAt: number;
  readonly dimsAt: readonly number[];
  readonly typeAt: number;
  readonly offsetAt: number;
  /** Offset relative to the data section, as written. */
  readonly offset: number;
}

export interface GgufLayout {
  readonly versionAt: number;
  readonly tensorCountAt: number;
  readonly kvCountAt: number;
  readonly kvs: readonly KvLayout[];
  readonly tensors: readonly TensorLayout[];
  /** End of the tensor infos (before padding). */
  readonly headerEnd: number;
  readonly dataOffset: number;
}

export interface BuiltGguf {
  readonly bytes: Uint8Array;
  readonly layout: GgufLayout;
}

class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  constructor(private readonly littleEndian: boolean) {}

  private reserve(n: number): number {
    if (this.pos + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.pos + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.pos));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(x: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, x);
  }
  i8(x: number): void {
    const at = this.reserve(1);
    this.view.setInt8(at, x);
  }
  u16(x: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, x, this.littleEndian);
  }
  i16(x: number): void {
    const at = this.reserve(2);
    this.view.setInt16(at, x, this.littleEndian);
  }
  u32(x: number, littleEndian = this.littleEndian): void {
    const at = this.reserve(4);
    this.view.setUint32(at, x, littleEndian);
  }
  i32(x: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, x, this.littleEndian);
  }
  f32(x: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, x, this.littleEndian);
  }
  f64(x: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, x, this.littleEndian);
  }
  u64(x: number | bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(x), this.littleEndian);
  }
  i64(x: number | bigint): void {
    const at = this.reserve(8);
    this.view.setBigInt64(at, BigInt(x), this.littleEndian);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.pos % alignment)) % alignment;
    this.reserve(pad); // new bytes are zero
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function writeItem(w: ByteWriter, type: number, value: ItemValue): void {
  const num = (): number => {
    if (typeof value === 'number') return value;
    if (typeof value === 'boolean') return value ? 1 : 0;
    throw new Error(`writer: ${String(value)} is not a number for value type ${type}`);
  };
  switch (type) {
    case GgufValueType.UINT8:
      return w.u8(num());
    case GgufValueType.INT8:
      return w.i8(num());
    case GgufValueType.UINT16:
      return w.u16(num());
    case GgufValueType.INT16:
      return w.i16(num());
    case GgufValueType.UINT32:
      return w.u32(num());
    case GgufValueType.INT32:
      return w.i32(num());
    case GgufValueType.FLOAT32:
      return w.f32(num());
    case GgufValueType.BOOL:
      return w.u8(num());
    case GgufValueType.FLOAT64:
      return w.f64(num());
    case GgufValueType.UINT64:
    case GgufValueType.INT64: {
      if (typeof value !== 'number' && typeof value !== 'bigint') throw new Error('writer: 64-bit value must be number or bigint');
      return type === GgufValueType.UINT64 ? w.u64(value) : w.i64(value);
    }
    case GgufValueType.STRING:
      if (typeof value !== 'string') throw new Error('writer: string value expected');
      return w.str(value);
    case GgufValueType.ARRAY: {
      if (typeof value !== 'object') throw new Error('writer: nested array value expected');
      w.u32(value.elemType);
      w.u64(value.items.length);
      for (const item of value.items) writeItem(w, value.elemType, item);
      return;
    }
    default:
      // Unknown type id: write nothing more; the reader must reject the type itself.
      return;
  }
}

function writeValue(w: ByteWriter, mv: MetaValue): void {
  if (mv.type === GgufValueType.ARRAY && 'items' in mv) return writeItem(w, GgufValueType.ARRAY, mv);
  if ('value' in mv) return writeItem(w, mv.type, mv.value);
  throw new Error('writer: malformed metadata value');
}

export function tensorByteSize(type: number, dims: readonly (number | bigint)[]): number {
  const geom = blockGeometry(type);
  if (!geom) throw new Error(`writer: unknown tensor type ${type}; give data or byteSize`);
  const n = dims.reduce<number>((a, d) => a * Number(d), 1);
  return Math.ceil(n / geom.blockSize) * geom.typeSize;
}

/** Builds a GGUF file from a description and reports where each field went. */
export function buildGguf(spec: GgufSpec): BuiltGguf {
  const le = !spec.bigEndian;
  const w = new ByteWriter(le);
  const metadata = spec.metadata ?? [];
  const tensors = spec.tensors ?? [];
  const alignMeta = metadata.find(([k]) => k === 'general.alignment')?.[1];
  const alignment =
    spec.alignment ?? (alignMeta && 'value' in alignMeta && alignMeta.type === GgufValueType.UINT32 ? Number(alignMeta.value) : 32);

  w.u32(spec.magic ?? 0x46554747, true);
  const versionAt = w.pos;
  w.u32(spec.version ?? 3);
  const tensorCountAt = w.pos;
  w.u64(spec.tensorCount ?? tensors.length);
  const kvCountAt = w.pos;
  w.u64(spec.kvCount ?? metadata.length);

  const kvs: KvLayout[] = [];
  for (const [key, value] of metadata) {
    const keyLengthAt = w.pos;
    w.str(key);
    const typeAt = w.pos;
    w.u32(value.type);
    const valueAt = w.pos;
    writeValue(w, value);
    kvs.push({ key, keyLengthAt, typeAt, valueAt });
  }

  // Tensor data: each tensor padded to the alignment, offsets packed unless overridden.
  const datas = tensors.map((t) => t.data ?? new Uint8Array(t.byteSize ?? tensorByteSize(t.type, t.dims)));
  const offsets: number[] = [];
  let cursor = 0;
  for (const d of datas) {
    offsets.push(cursor);
    cursor += Math.ceil(d.length / alignment) * alignment;
  }

  const tensorLayouts: TensorLayout[] = [];
  tensors.forEach((t, i) => {
    const nameLengthAt = w.pos;
    w.str(t.name);
    const nDimsAt = w.pos;
    w.u32(t.dims.length);
    const dimsAt: number[] = [];
    for (const d of t.dims) {
      dimsAt.push(w.pos);
      w.u64(d);
    }
    const typeAt = w.pos;
    w.u32(t.type);
    const offsetAt = w.pos;
    const offset = t.offset ?? offsets[i]!;
    w.u64(offset);
    tensorLayouts.push({ name: t.name, nameLengthAt, nDimsAt, dimsAt, typeAt, offsetAt, offset: Number(offset) });
  });
  const headerEnd = w.pos;
  w.padTo(alignment);
  const dataOffset = w.pos;
  if (!spec.omitData) {
    datas.forEach((d) => {
      w.bytes(d);
      w.padTo(alignment);
    });
  }
  return {
    bytes: w.result(),
    layout: { versionAt, tensorCountAt, kvCountAt, kvs, tensors: tensorLayouts, headerEnd, dataOffset },
  };
}

export function writeGguf(spec: GgufSpec): Uint8Array {
  return buildGguf(spec).bytes;
}

/** A field of a GGUF header that the fuzzer aims at. */
export interface GgufField {
  readonly at: number;
  /** Byte width: 4 (u32 type / dim count) or 8 (u64 count, length, dim, offset). */
  readonly size: 4 | 8;
  readonly kind: 'count' | 'string-length' | 'array-count' | 'type' | 'dim' | 'offset' | 'value';
}

/**
 * Walks a valid little-endian GGUF v2/v3 header; lists every count, length and type field and every top-level
 * 4- or 8-byte scalar value, and where the header ends.
 * Array element fields of big arrays are sampled (at most `maxPerArray` per array) to keep the list short.
 */
export function walkGguf(bytes: Uint8Array, maxPerArray = 64): { fields: GgufField[]; headerEnd: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: GgufField[] = [];
  let pos = 8;
  const u32 = (): number => {
    const x = view.getUint32(pos, true);
    pos += 4;
    return x;
  };
  const u64 = (): number => {
    const x = Number(view.getBigUint64(pos, true));
    pos += 8;
    return x;
  };
  const scalarSize: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const skipString = (record: boolean): void => {
    if (record) fields.push({ at: pos, size: 8, kind: 'string-length' });
    const length = u64(); // not `pos += u64()`: that would add to pos as it was before the length was read
    pos += length;
  };
  const skipValue = (type: number, record: boolean): void => {
    if (type === GgufValueType.STRING) return skipString(record);
    if (type !== GgufValueType.ARRAY) {
      pos += scalarSize[type]!;
      return;
    }
    if (record) fields.push({ at: pos, size: 4, kind: 'type' });
    const elem = u32();
    if (record) fields.push({ at: pos, size: 8, kind: 'array-count' });
    const n = u64();
    if (scalarSize[elem] !== undefined) {
      pos += n * scalarSize[elem]!;
      return;
    }
    const every = Math.max(1, Math.floor(n / maxPerArray));
    for (let i = 0; i < n; i++) skipValue(elem, record && i % every === 0);
  };

  fields.push({ at: pos, size: 8, kind: 'count' });
  const tensorCount = u64();
  fields.push({ at: pos, size: 8, kind: 'count' });
  const kvCount = u64();
  for (let i = 0; i < kvCount; i++) {
    skipString(true);
    fields.push({ at: pos, size: 4, kind: 'type' });
    const type = u32();
    // Top-level 4- and 8-byte scalars (dimensions, counts, epsilons, token ids) are fuzz targets too.
    if (scalarSize[type] === 4 || scalarSize[type] === 8) fields.push({ at: pos, size: scalarSize[type], kind: 'value' });
    skipValue(type, true);
  }
  for (let i = 0; i < tensorCount; i++) {
    skipString(true);
    fields.push({ at: pos, size: 4, kind: 'count' });
    const nDims = u32();
    for (let d = 0; d < nDims; d++) {
      fields.push({ at: pos, size: 8, kind: 'dim' });
      pos += 8;
    }
    fields.push({ at: pos, size: 4, kind: 'type' });
    pos += 4;
    fields.push({ at: pos, size: 8, kind: 'offset' });
    pos += 8;
  }
  return { fields, headerEnd: pos };
}

export interface CraftOptions {
  arch?: string;
  dim?: number;
  layers?: number;
  heads?: number;
  /** undefined: the key is omitted. */
  kvHeads?: number | undefined;
  headDim?: number;
  /** Write `<arch>.attention.key_length` (needed when heads * headDim != dim). */
  keyLength?: boolean;
  ffn?: number;
  vocab?: number;
  tied?: boolean;
  qkvBias?: boolean;
  qkNorm?: boolean;
  ropeFreqs?: boolean;
  extraMeta?: [string, MetaValue][];
  omitKeys?: string[];
  omitTensors?: string[];
  /** Replace a tensor's dims. */
  reshape?: Record<string, number[]>;
}

/** A Llama-family GGUF with zero F32 weights, shaped from the options. */
export function craftModel(o: CraftOptions = {}): Uint8Array {
  const arch = o.arch ?? 'llama';
  const dim = o.dim ?? 32;
  const heads = o.heads ?? 4;
  const kvHeads = 'kvHeads' in o ? o.kvHeads : 2;
  const headDim = o.headDim ?? dim / heads;
  const ffn = o.ffn ?? 64;
  const vocab = o.vocab ?? 40;
  const layers = o.layers ?? 2;
  const q = heads * headDim;
  const kv = (kvHeads ?? heads) * headDim;
  const meta: [string, MetaValue][] = [
    ['general.architecture', v.str(arch)],
    ['general.name', v.str(`crafted ${arch}`)],
    [`${arch}.context_length`, v.u32(128)],
    [`${arch}.embedding_length`, v.u32(dim)],
    [`${arch}.block_count`, v.u32(layers)],
    [`${arch}.feed_forward_length`, v.u32(ffn)],
    [`${arch}.attention.head_count`, v.u32(heads)],
    [`${arch}.attention.layer_norm_rms_epsilon`, v.f32(1e-6)],
    [`${arch}.rope.freq_base`, v.f32(1e6)],
  ];
  if (kvHeads !== undefined) meta.push([`${arch}.attention.head_count_kv`, v.u32(kvHeads)]);
  if (o.keyLength) meta.push([`${arch}.attention.key_length`, v.u32(headDim)]);
  meta.push(['tokenizer.ggml.tokens', v.arr(GgufValueType.STRING, Array.from({ length: vocab }, (_, i) => `t${i}`))]);
  const omitKeys = new Set(o.omitKeys ?? []);
  const metadata = [...meta.filter(([k]) => !omitKeys.has(k)), ...(o.extraMeta ?? [])];
  const shapes: [string, number[]][] = [
    ['token_embd.weight', [dim, vocab]],
    ['output_norm.weight', [dim]],
  ];
  if (!o.tied) shapes.push(['output.weight', [dim, vocab]]);
  if (o.ropeFreqs) shapes.push(['rope_freqs.weight', [headDim / 2]]);
  for (let l = 0; l < layers; l++) {
    const w = (n: string, dims: number[]): void => void shapes.push([`blk.${l}.${n}.weight`, dims]);
    w('attn_norm', [dim]);
    w('attn_q', [dim, q]);
    w('attn_k', [dim, kv]);
    w('attn_v', [dim, kv]);
    w('attn_output', [q, dim]);
    w('ffn_norm', [dim]);
    w('ffn_gate', [dim, ffn]);
    w('ffn_up', [dim, ffn]);
    w('ffn_down', [ffn, dim]);
    if (o.qkvBias) {
      shapes.push([`blk.${l}.attn_q.bias`, [q]], [`blk.${l}.attn_k.bias`, [kv]], [`blk.${l}.attn_v.bias`, [kv]]);
    }
    if (o.qkNorm) {
      w('attn_q_norm', [headDim]);
      w('attn_k_norm', [headDim]);
    }
  }
  const omitTensors = new Set(o.omitTensors ?? []);
  return writeGguf({
    metadata,
    tensors: shapes
      .filter(([n]) => !omitTensors.has(n))
      .map(([name, dims]) => ({ name, dims: o.reshape?.[name] ?? dims, type: GgmlType.F32 })),
  });
}
