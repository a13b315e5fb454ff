// Weights on the GPU stay in their GGUF block format. A tensor larger than one storage binding allows is split
// into row ranges, each its own buffer (a 128K-vocab output matrix on a 128 MiB-binding device, for example).
import { GgufError } from '../gguf/errors';
import { blockGeometry, ggmlTypeName, GgmlType } from '../gguf/types';
import type { KernelContext } from './context';

/** The types the GPU kernels decode. */
export const GPU_WEIGHT_TYPES: ReadonlySet<number> = new Set([
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q4_1,
  GgmlType.Q5_0,
  GgmlType.Q5_1,
  GgmlType.Q4_K,
  GgmlType.Q5_K,
  GgmlType.Q6_K,
  GgmlType.Q2_K,
  GgmlType.Q3_K,
  GgmlType.IQ4_NL,
  GgmlType.IQ4_XS,
  GgmlType.MXFP4,
]);

export interface WeightPart {
  readonly buffer: GPUBuffer; // GGUF bytes of rows [firstRow, firstRow + rows) (paired, see below), padded to whole words
  readonly firstRow: number;
  readonly rows: number;
}

/** A 2-D weight (rows, cols) in its GGUF type; ggml dims are [cols, rows]. */
export interface WeightTensor {
  readonly name: string;
  readonly type: GgmlType;
  readonly rows: number;
  readonly cols: number;
  readonly rowBytes: number;
  /**
   * Q8_0 / Q4_0 rows with an even block count are stored as block pairs, [d0 d1][qs0][qs1], instead of GGUF's
   * [d0 qs0][d1 qs1]: same bytes, but every quant word is 4-byte aligned (GGUF's 34- and 18-byte blocks put every
   * other block at a 2-mod-4 offset, and an unaligned load costs two loads, shifts and a branch per word).
   */
  readonly paired: boolean;
  readonly parts: readonly WeightPart[];
}

export function rowBytes(type: number, cols: number): number {
  const g = blockGeometry(type)!;
  return (cols / g.blockSize) * g.typeSize;
}

/** Largest row count whose bytes (plus the padding word the loaders may touch) fit one binding. */
function rowsPerPart(ctx: KernelContext, name: string, bytesPerRow: number): number {
  const limit = Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize) - 8;
  const rows = Math.floor(limit / bytesPerRow);
  if (rows < 1) {
    throw new GgufError('out-of-bounds', `tensor ${name}: one row is ${bytesPerRow} bytes, more than this GPU's maxStorageBufferBindingSize (${ctx.caps.maxStorageBufferBindingSize})`);
  }
  return rows;
}

export function checkGpuType(name: string, type: number): void {
  if (!GPU_WEIGHT_TYPES.has(type)) {
    const names = [...GPU_WEIGHT_TYPES].map(ggmlTypeName).join(', ');
    throw new GgufError('unsupported-tensor-type', `tensor ${name} is ${ggmlTypeName(type)}; the GPU engine reads ${names}`);
  }
}

/** Uploads a (rows, cols) tensor from its raw GGUF bytes. */
export function uploadWeight(ctx: KernelContext, name: string, type: number, bytes: Uint8Array, rows: number, cols: number): WeightTensor {
  checkGpuType(name, type);
  const rb = rowBytes(type, cols);
  if (bytes.byteLength < rb * rows) throw new GgufError('truncated', `tensor ${name}: ${bytes.byteLength} bytes, expected ${rb * rows}`);
  const per = rowsPerPart(ctx, name, rb);
  const paired = pairable(type, cols);
  if (paired) bytes = pairBlocks(type, bytes.subarray(0, rb * rows));
  const parts: WeightPart[] = [];
  for (let first = 0; first < rows; first += per) {
    const n = Math.min(per, rows - first);
    const size = Math.ceil((n * rb) / 4) * 4 + 4; // one spare word: unaligned loads read the next word
    const buffer = ctx.device.createBuffer({ size, usage: 0x80 | 0x08, label: `${name}[${first}..${first + n})` });
    writePadded(ctx.device, buffer, bytes.subarray(first * rb, (first + n) * rb));
    parts.push({ buffer, firstRow: first, rows: n });
  }
  return { name, type: type as GgmlType, rows, cols, rowBytes: rb, paired, parts };
}

/** Q8_0 and Q4_0 rows of an even number of blocks (every real model's: widths are multiples of 64). */
export function pairable(type: number, cols: number): boolean {
  return (type === GgmlType.Q8_0 || type === GgmlType.Q4_0) && (cols / 32) % 2 === 0;
}

/** [d0 qs0][d1 qs1] -> [d0 d1][qs0][qs1] for each pair of blocks (a 2-byte scale, then the quants). */
export function pairBlocks(type: number, bytes: Uint8Array): Uint8Array {
  const block = blockGeometry(type)!.typeSize;
  const qs = block - 2;
  const out = new Uint8Array(bytes.byteLength);
  for (let o = 0; o + 2 * block <= bytes.byteLength; o += 2 * block) {
    out[o] = bytes[o]!;
    out[o + 1] = bytes[o + 1]!;
    out[o + 2] = bytes[o + block]!;
    out[o + 3] = bytes[o + block + 1]!;
    out.set(bytes.subarray(o + 2, o + block), o + 4);
    out.set(bytes.subarray(o + block + 2, o + 2 * block), o + 4 + qs);
  }
  return out;
}

function writePadded(device: GPUDevice, buffer: GPUBuffer, bytes: Uint8Array): void {
  const whole = bytes.byteLength - (bytes.byteLength % 4);
  // writeBuffer wants 4-byte aligned sizes and source offsets; copy when the view is misaligned.
  const src = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (whole > 0) device.queue.writeBuffer(buffer, 0, src.buffer, src.byteOffset, whole);
  if (whole < bytes.byteLength) {
    const tail = new Uint8Array(4);
    tail.set(src.subarray(whole));
    device.queue.writeBuffer(buffer, whole, tail);
  }
}

export function destroyWeight(w: WeightTensor): void {
  for (const p of w.parts) p.buffer.destroy();
}

/** WGSL name of a ggml type for the WTYPE define. */
export function wgslTypeName(type: number): string {
  return ggmlTypeName(type);
}

export function isScalarType(type: number): boolean {
  return type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.BF16;
}
