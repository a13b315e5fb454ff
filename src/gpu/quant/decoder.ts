/**
 * Decodes `blockCount` consecutive blocks of one ggml type.
 * src: the raw block bytes, starting at the first block (any byte offset, any alignment).
 * dst: (blockCount * blockSize) f32 outputs, starting at the first block's first element.
 */
export type RowDecoder = (src: Uint8Array, dst: Float32Array, blockCount: number) => void;

/** A little-endian reader over exactly the bytes of `src`, wherever they sit in their buffer. */
export function viewOf(src: Uint8Array): DataView {
  return new DataView(src.buffer, src.byteOffset, src.byteLength);
}

/** The bits of `dst`, for writes that must keep NaN payloads. Float32Array offsets are always 4-aligned. */
export function bitsOf(dst: Float32Array): Uint32Array {
  return new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
}
