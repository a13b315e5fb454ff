// CPU reference for ggml tensor formats: bit-exact dequantization and a row-at-a-time matvec.
// This is the oracle the GPU kernels and the CPU reference forward pass are checked against.
// Why a GPU kernel can match it exactly: in every format here each product of an f16 scale (11 significant bits)
// with integer sub-scales and quants needs at most 24 bits, so it is exact in f32 in any order; the only rounding
// is the one add or subtract of a min (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K), and fma(d1, q, -m1) rounds the same way.
// MXFP4's scale is a power of two: exact too, except where a GPU flushes f32 subnormals (scales below 2^-120).
import { GgufError } from '../gguf/errors';
import { blockGeometry, GgmlType, ggmlTypeName, type BlockGeometry } from '../gguf/types';
import type { RowDecoder } from './decoder';
import { decodeIQ4_XS, decodeQ2_K, decodeQ3_K, decodeQ4_K, decodeQ5_K, decodeQ6_K } from './kquants';
import {
  decodeBF16,
  decodeF16,
  decodeF32,
  decodeIQ4_NL,
  decodeMXFP4,
  decodeQ4_0,
  decodeQ4_1,
  decodeQ5_0,
  decodeQ5_1,
  decodeQ8_0,
} from './legacy';

const DECODERS: ReadonlyMap<number, RowDecoder> = new Map<GgmlType, RowDecoder>([
  [GgmlType.F32, decodeF32],
  [GgmlType.F16, decodeF16],
  [GgmlType.BF16, decodeBF16],
  [GgmlType.Q4_0, decodeQ4_0],
  [GgmlType.Q4_1, decodeQ4_1],
  [GgmlType.Q5_0, decodeQ5_0],
  [GgmlType.Q5_1, decodeQ5_1],
  [GgmlType.Q8_0, decodeQ8_0],
  [GgmlType.Q2_K, decodeQ2_K],
  [GgmlType.Q3_K, decodeQ3_K],
  [GgmlType.Q4_K, decodeQ4_K],
  [GgmlType.Q5_K, decodeQ5_K],
  [GgmlType.Q6_K, decodeQ6_K],
  [GgmlType.IQ4_NL, decodeIQ4_NL],
  [GgmlType.IQ4_XS, decodeIQ4_XS],
  [GgmlType.MXFP4, decodeMXFP4],
]);

/** The ggml types this module can dequantize, in ggml's numbering. */
export const DEQUANTIZABLE_TYPES: readonly number[] = [...DECODERS.keys()];

interface Codec {
  readonly decode: RowDecoder;
  readonly geometry: BlockGeometry;
}

export function isDequantizable(type: number): boolean {
  return DECODERS.has(type) && blockGeometry(type) !== undefined;
}

function describe(tensorName: string | undefined): string {
  return tensorName === undefined ? 'tensor' : `tensor ${tensorName}`;
}

function codecFor(type: number, tensorName?: string): Codec {
  const decode = DECODERS.get(type);
  const geometry = blockGeometry(type);
  if (!decode || !geometry) {
    const supported = DEQUANTIZABLE_TYPES.map(ggmlTypeName).join(', ');
    throw new GgufError(
      'unsupported-tensor-type',
      `${describe(tensorName)} has ggml type ${ggmlTypeName(type)} (${type}), which has no CPU dequantizer; ` +
        `supported: ${supported}`,
    );
  }
  return { decode, geometry };
}

/** Throws GgufError('unsupported-tensor-type') naming the type (and the tensor, if given) unless it can be decoded. */
export function assertDequantizable(type: number, tensorName?: string): void {
  codecFor(type, tensorName);
}

/** Bytes that `elementCount` elements of `type` occupy; the count must be a whole number of blocks. */
function byteSizeOf(codec: Codec, type: number, elementCount: number, tensorName?: string): number {
  const { blockSize, typeSize } = codec.geometry;
  if (!Number.isInteger(elementCount) || elementCount < 0 || elementCount % blockSize !== 0) {
    throw new GgufError(
      'bad-shape',
      `${describe(tensorName)}: ${elementCount} elements is not a whole number of ${ggmlTypeName(type)} ` +
        `blocks of ${blockSize}`,
    );
  }
  return (elementCount / blockSize) * typeSize;
}

function requireBytes(bytes: Uint8Array, needed: number, tensorName?: string): void {
  if (bytes.length < needed) {
    throw new GgufError('truncated', `${describe(tensorName)} needs ${needed} bytes of data, got ${bytes.length}`);
  }
}

/**
 * Decodes `elementCount` elements of ggml type `type` from `bytes` (any offset or alignment) into f32,
 * reproducing ggml's dequantize_row_* bit for bit. Returns `out` (at least elementCount long) or a new array.
 */
export function dequantize(
  type: number,
  bytes: Uint8Array,
  elementCount: number,
  out?: Float32Array,
  tensorName?: string,
): Float32Array {
  const codec = codecFor(type, tensorName);
  requireBytes(bytes, byteSizeOf(codec, type, elementCount, tensorName), tensorName);
  const dst = out ?? new Float32Array(elementCount);
  if (dst.length < elementCount) throw new RangeError(`out holds ${dst.length} floats, needs ${elementCount}`);
  codec.decode(bytes, dst, elementCount / codec.geometry.blockSize);
  return dst;
}

/** Σ a[i] * b[i] over the first n elements, in f64 (each f32 product is exact in f64). */
function dotF64(a: Float32Array, b: Float32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i]! * b[i]!;
  return sum;
}

/**
 * y = W x for a row-major weight W (rows, cols) of ggml type `type` (ggml dims [cols, rows]):
 * y[r] = Σ_c W[r, c] * x[c], W dequantized bit-exactly one row at a time and accumulated in f64,
 * so y is the exact dot product of ggml's dequantized weights with x, rounded once to f32.
 * bytes: rows * rowBytes raw tensor bytes; x: (cols); out: (rows), returned (or a new array).
 */
export function matvecRows(
  type: number,
  bytes: Uint8Array,
  rows: number,
  cols: number,
  x: Float32Array,
  out?: Float32Array,
  tensorName?: string,
): Float32Array {
  const codec = codecFor(type, tensorName);
  const rowBytes = byteSizeOf(codec, type, cols, tensorName);
  requireBytes(bytes, rows * rowBytes, tensorName);
  if (x.length !== cols) throw new RangeError(`x holds ${x.length} floats, the rows hold ${cols}`);
  const y = out ?? new Float32Array(rows);
  if (y.length < rows) throw new RangeError(`out holds ${y.length} floats, needs ${rows}`);
  const row = new Float32Array(cols); // (cols) one dequantized row of W
  const blocksPerRow = cols / codec.geometry.blockSize;
  for (let r = 0; r < rows; r++) {
    codec.decode(bytes.subarray(r * rowBytes, (r + 1) * rowBytes), row, blocksPerRow);
    y[r] = dotF64(row, x, cols);
  }
  return y;
}
