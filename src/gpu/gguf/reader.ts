// GGUF v2/v3 reader: header, metadata (every value type, nested arrays), tensor infos, alignment.
// Every count read from the file is checked against the bytes that remain before anything is allocated,
// so a corrupt file fails fast with a GgufError instead of hanging or allocating gigabytes.
import { GgufError } from './errors';
import {
  blockGeometry,
  ggmlTypeName,
  GgufValueType,
  type GgufHeader,
  type GgufTensorInfo,
  type GgufValue,
} from './types';

const GGUF_MAGIC = 0x46554747; // "GGUF" little endian
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
const MAX_ARRAY_DEPTH = 16;
/**
 * Bounds on what a header may claim, checked before anything is read or allocated (a hostile file can claim a
 * 3e9-byte string in a 3 GiB sparse file). The largest real headers are a few tens of MiB (a 262K-token
 * vocabulary with its scores and merges); a name longer than 64 KiB is no real key or tensor name.
 */
export const MAX_HEADER_BYTES = 256 * 2 ** 20;
export const MAX_NAME_BYTES = 64 * 2 ** 10;

/** Random access to the bytes of a model file: an in-memory buffer, a Blob, a file handle, an HTTP range reader. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => {
      if (offset < 0 || offset + length > bytes.byteLength) {
        throw new GgufError('out-of-bounds', `read of ${length} bytes at ${offset} is outside a ${bytes.byteLength}-byte buffer`);
      }
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** Thrown internally when a header prefix ends before the header does; the async reader then reads further. */
class NeedMoreBytes {
  constructor(readonly end: number) {}
}

class Cursor {
  private readonly view: DataView;
  pos = 0;

  /** `bytes` is a prefix of a file of `fileSize` bytes. */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes the rest of the header may still take: to the end of the file, and at most MAX_HEADER_BYTES in all. */
  remainingInHeader(): number {
    return Math.min(this.fileSize, MAX_HEADER_BYTES) - this.pos;
  }

  private need(n: number): number {
    const at = this.pos;
    const end = at + n;
    if (end > this.fileSize) {
      throw new GgufError('truncated', `file ends at byte ${this.fileSize} inside the header (needed ${end})`);
    }
    if (end > MAX_HEADER_BYTES) throw new GgufError('corrupt', `the header would be larger than ${MAX_HEADER_BYTES / 2 ** 20} MiB (needed ${end} bytes)`);
    if (end > this.bytes.byteLength) throw new NeedMoreBytes(end);
    this.pos = end;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }
  i8(): number {
    return this.view.getInt8(this.need(1));
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.need(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.need(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.need(8), true);
  }
  u64Big(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }
  i64Big(): bigint {
    return this.view.getBigInt64(this.need(8), true);
  }

  /** A u64 that must be a usable count or offset (fits a double exactly). */
  u64(what: string): number {
    const v = this.u64Big();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError('corrupt', `${what} is ${v}, larger than any real file`);
    return Number(v);
  }

  bytesView(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }

  /** A copy aligned for typed-array views. */
  bytesCopy(n: number): ArrayBuffer {
    const v = this.bytesView(n);
    const out = new Uint8Array(n);
    out.set(v);
    return out.buffer;
  }
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** A string of at most `max` bytes (default: what the header has left). */
function readString(c: Cursor, what: string, max = c.remainingInHeader()): string {
  const len = c.u64(`length of ${what}`);
  if (len > c.remainingInHeader()) {
    throw new GgufError('corrupt', `${what} claims ${len} bytes but only ${c.remainingInHeader()} remain in the header (at most ${MAX_HEADER_BYTES / 2 ** 20} MiB, and the file)`);
  }
  if (len > max) throw new GgufError('corrupt', `${what} claims ${len} bytes; a name has at most ${max}`);
  return utf8.decode(c.bytesView(len));
}

const SCALAR_SIZE: Partial<Record<GgufValueType, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

function bigToValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function readScalar(c: Cursor, type: GgufValueType): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8();
    case GgufValueType.INT8:
      return c.i8();
    case GgufValueType.UINT16:
      return c.u16();
    case GgufValueType.INT16:
      return c.i16();
    case GgufValueType.UINT32:
      return c.u32();
    case GgufValueType.INT32:
      return c.i32();
    case GgufValueType.FLOAT32:
      return c.f32();
    case GgufValueType.BOOL:
      return c.u8() !== 0;
    case GgufValueType.UINT64:
      return bigToValue(c.u64Big());
    case GgufValueType.INT64:
      return bigToValue(c.i64Big());
    case GgufValueType.FLOAT64:
      return c.f64();
    default:
      throw new GgufError('corrupt', `unknown metadata value type ${type}`);
  }
}

function readTypedArray(c: Cursor, type: GgufValueType, count: number): GgufValue {
  const size = SCALAR_SIZE[type]!;
  const buf = c.bytesCopy(count * size);
  switch (type) {
    case GgufValueType.UINT8:
      return new Uint8Array(buf);
    case GgufValueType.INT8:
      return new Int8Array(buf);
    case GgufValueType.UINT16:
      return new Uint16Array(buf);
    case GgufValueType.INT16:
      return new Int16Array(buf);
    case GgufValueType.UINT32:
      return new Uint32Array(buf);
    case GgufValueType.INT32:
      return new Int32Array(buf);
    case GgufValueType.FLOAT32:
      return new Float32Array(buf);
    case GgufValueType.BOOL:
      return Array.from(new Uint8Array(buf), (b) => b !== 0);
    case GgufValueType.UINT64:
      return new BigUint64Array(buf);
    case GgufValueType.INT64:
      return new BigInt64Array(buf);
    case GgufValueType.FLOAT64:
      return new Float64Array(buf);
    default:
      throw new GgufError('corrupt', `unknown array element type ${type}`);
  }
}

function readValue(c: Cursor, type: number, key: string, depth: number): GgufValue {
  if (type === GgufValueType.STRING) return readString(c, `value of ${key}`);
  if (type !== GgufValueType.ARRAY) return readScalar(c, type);
  if (depth >= MAX_ARRAY_DEPTH) throw new GgufError('corrupt', `${key}: arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
  const elemType = c.u32();
  const count = c.u64(`element count of ${key}`);
  // Smallest possible encoding of one element: a string or array needs at least its 8-byte length.
  const minElem = SCALAR_SIZE[elemType as GgufValueType] ?? (elemType === GgufValueType.STRING ? 8 : 12);
  if (count * minElem > c.remainingInHeader()) {
    throw new GgufError('corrupt', `${key} claims ${count} elements, more than the ${c.remainingInHeader()} bytes left in the header hold`);
  }
  if (SCALAR_SIZE[elemType as GgufValueType] !== undefined) return readTypedArray(c, elemType, count);
  if (elemType !== GgufValueType.STRING && elemType !== GgufValueType.ARRAY) {
    throw new GgufError('corrupt', `${key}: unknown array element type ${elemType}`);
  }
  const out: GgufValue[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = readValue(c, elemType, key, depth + 1);
  return out;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function readTensorInfo(c: Cursor, index: number): Omit<GgufTensorInfo, 'byteSize' | 'elementCount'> {
  const name = readString(c, `name of tensor ${index}`, MAX_NAME_BYTES);
  const nDims = c.u32();
  if (nDims < 1 || nDims > MAX_DIMS) throw new GgufError('corrupt', `tensor ${name} has ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`);
  const dims: number[] = [];
  for (let d = 0; d < nDims; d++) dims.push(c.u64(`dimension ${d} of tensor ${name}`));
  const type = c.u32();
  const offset = c.u64(`data offset of tensor ${name}`);
  return { name, dims, type, offset };
}

function sizeTensor(t: Omit<GgufTensorInfo, 'byteSize' | 'elementCount'>): GgufTensorInfo {
  const geom = blockGeometry(t.type);
  if (!geom) {
    throw new GgufError('unsupported-tensor-type', `tensor ${t.name} has tensor type ${ggmlTypeName(t.type)}, which this app does not know`);
  }
  let elementCount = 1;
  for (const d of t.dims) elementCount *= d;
  if (!Number.isSafeInteger(elementCount)) throw new GgufError('corrupt', `tensor ${t.name} has an impossible shape [${t.dims.join(', ')}]`);
  if (t.dims[0]! % geom.blockSize !== 0) {
    throw new GgufError('bad-shape', `tensor ${t.name}: row length ${t.dims[0]} is not a multiple of the ${ggmlTypeName(t.type)} block size ${geom.blockSize}`);
  }
  return { ...t, elementCount, byteSize: (elementCount / geom.blockSize) * geom.typeSize };
}

/** Parses a header from a prefix of the file. Throws NeedMoreBytes when the prefix is too short. */
function parseHeader(bytes: Uint8Array, fileSize: number): GgufHeader {
  const c = new Cursor(bytes, fileSize);
  if (fileSize < 4 || c.u32() !== GGUF_MAGIC) throw new GgufError('bad-magic', 'not a GGUF file (the first four bytes are not "GGUF")');
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    const why = swapped === 2 || swapped === 3 ? 'a big-endian GGUF, which this app does not read' : `GGUF version ${version}; versions 2 and 3 are supported`;
    throw new GgufError('unsupported-version', `this is ${why}`);
  }
  const tensorCount = c.u64('tensor count');
  const kvCount = c.u64('metadata count');
  // A key-value pair takes at least 13 bytes, a tensor info at least 32.
  if (kvCount * 13 + tensorCount * 32 > c.remainingInHeader()) {
    throw new GgufError('corrupt', `header claims ${kvCount} metadata entries and ${tensorCount} tensors, more than the file (or a ${MAX_HEADER_BYTES / 2 ** 20} MiB header) holds`);
  }
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = readString(c, `metadata key ${i}`, MAX_NAME_BYTES);
    const type = c.u32();
    if (metadata.has(key)) throw new GgufError('corrupt', `metadata key ${key} appears twice`);
    metadata.set(key, readValue(c, type, key, 0));
  }
  const raw: Omit<GgufTensorInfo, 'byteSize' | 'elementCount'>[] = [];
  for (let i = 0; i < tensorCount; i++) raw.push(readTensorInfo(c, i));

  const alignValue = metadata.get('general.alignment') ?? DEFAULT_ALIGNMENT;
  const badAlignment = typeof alignValue !== 'number' || !Number.isInteger(alignValue) || alignValue < 1 || alignValue > 1 << 20;
  if (badAlignment || (alignValue & (alignValue - 1)) !== 0) {
    throw new GgufError('corrupt', `general.alignment is ${String(alignValue)}, not a power of two`);
  }
  const dataOffset = alignUp(c.pos, alignValue);
  const names = new Set<string>();
  const tensors = raw.map((t) => {
    if (names.has(t.name)) throw new GgufError('corrupt', `tensor ${t.name} appears twice`);
    names.add(t.name);
    const info = sizeTensor(t);
    if (info.offset % alignValue !== 0) {
      throw new GgufError('corrupt', `tensor ${t.name} starts at offset ${info.offset}, not aligned to ${alignValue}`);
    }
    const end = dataOffset + info.offset + info.byteSize;
    if (end > fileSize) {
      throw new GgufError('out-of-bounds', `tensor ${t.name} data ends at byte ${end}, past the end of the ${fileSize}-byte file (truncated download?)`);
    }
    return info;
  });
  return { version, metadata, tensors, alignment: alignValue, dataOffset };
}

/** Parses the header of a GGUF file held whole in memory. */
export function parseGguf(bytes: Uint8Array): GgufHeader {
  try {
    return parseHeader(bytes, bytes.byteLength);
  } catch (e) {
    if (e instanceof NeedMoreBytes) throw new GgufError('truncated', 'file ends inside the header');
    throw e;
  }
}

/** Reads the header through a ByteSource, fetching only as many leading bytes as the header needs. */
export async function readGgufHeader(source: ByteSource, firstRead = 1 << 20): Promise<GgufHeader> {
  let length = Math.min(source.size, firstRead);
  for (;;) {
    const prefix = await source.read(0, length);
    // A short read (the file shrank after its size was taken) would otherwise re-read the same prefix forever.
    if (prefix.byteLength < length) {
      throw new GgufError('truncated', `read ${prefix.byteLength} of ${length} header bytes: the file is shorter than its ${source.size}-byte size`);
    }
    try {
      return parseHeader(prefix, source.size);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      length = Math.min(source.size, MAX_HEADER_BYTES, Math.max(e.end, length * 2));
    }
  }
}

/** One file of a model: a whole GGUF, or one part of a split model (split.ts). */
export interface GgufPart {
  readonly header: GgufHeader;
  readonly source: ByteSource;
}

/**
 * A GGUF model: its header and random access to each tensor's bytes. A split model (split.ts) is one GgufFile over
 * all its parts: `header` is the first part's metadata with every part's tensors, and each tensor is read from the
 * part that holds it (its offset is relative to that part's data section).
 */
export class GgufFile {
  private readonly byName: Map<string, GgufTensorInfo>;
  private readonly partOf: Map<string, GgufPart>;

  constructor(
    readonly header: GgufHeader,
    readonly source: ByteSource,
    readonly parts: readonly GgufPart[] = [{ header, source }],
  ) {
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
    this.partOf = new Map(parts.flatMap((p) => p.header.tensors.map((t) => [t.name, p] as const)));
  }

  static async open(source: ByteSource): Promise<GgufFile> {
    return new GgufFile(await readGgufHeader(source), source);
  }

  static fromBytes(bytes: Uint8Array): GgufFile {
    return new GgufFile(parseGguf(bytes), bufferSource(bytes));
  }

  get metadata(): ReadonlyMap<string, GgufValue> {
    return this.header.metadata;
  }

  tensor(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }

  requireTensor(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new GgufError('missing-tensor', `the model has no tensor ${name}`);
    return t;
  }

  /** The raw (still quantized) bytes of a tensor. */
  async tensorBytes(t: GgufTensorInfo): Promise<Uint8Array> {
    const part = this.partOf.get(t.name) ?? { header: this.header, source: this.source };
    return part.source.read(part.header.dataOffset + t.offset, t.byteSize);
  }
}
