// Where K and V of one token live in the GPU block pool. Shared by the kernels (append, attention) and the
// block manager's swap paths, so every reader agrees on the bytes.

/** Tokens per KV block. */
export const KV_BLOCK_TOKENS = 16;

export type KvDtype = 'f32' | 'f16';

export interface KvLayout {
  readonly nLayers: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly dtype: KvDtype;
}

/**
 * One pool buffer per layer; physical block b occupies the same slot in every layer's buffer.
 * Inside a layer's slot (elements): K then V, each (nKvHeads, KV_BLOCK_TOKENS, headDim).
 * f16 pools pack two elements per u32 (pack2x16float), so element e lives in word e / 2.
 */
export function blockElements(l: Pick<KvLayout, 'nKvHeads' | 'headDim'>): number {
  return 2 * l.nKvHeads * KV_BLOCK_TOKENS * l.headDim;
}

export function bytesPerElement(dtype: KvDtype): number {
  return dtype === 'f16' ? 2 : 4;
}

/** Bytes of one block in one layer's pool buffer. */
export function layerBlockBytes(l: KvLayout): number {
  return blockElements(l) * bytesPerElement(l.dtype);
}

/** Bytes of one block across all layers: what swapping a block moves. */
export function blockBytes(l: KvLayout): number {
  return layerBlockBytes(l) * l.nLayers;
}

/** Element index of K (kind 0) or V (kind 1) for (block, kv head, token in block, dim) within a layer buffer. */
export function kvElementIndex(l: Pick<KvLayout, 'nKvHeads' | 'headDim'>, block: number, kind: 0 | 1, head: number, token: number, dim: number): number {
  return block * blockElements(l) + ((kind * l.nKvHeads + head) * KV_BLOCK_TOKENS + token) * l.headDim + dim;
}
