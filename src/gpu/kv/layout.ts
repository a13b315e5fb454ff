// Where K and V of one token live in the GPU block pool. Shared by the kernels (append, attention) and the
// block manager's swap paths, so every reader agrees on the bytes.

/** Tokens per KV block. */
export const KV_BLOCK_TOKENS = 16;

/**
 * f32, f16 (pack2x16float pairs), q8_0 or q4_0 (llama.cpp's `-ctk/-ctv q8_0|q4_0`: 32 values and an f16 scale in 34
 * or 18 bytes).
 */
export type KvDtype = 'f32' | 'f16' | 'q8_0' | 'q4_0';
export type KvQuantDtype = 'q8_0' | 'q4_0';

/** The KV types a user chooses between (f32 is the exact path the device picks without shader-f16). */
export const KV_TYPES = ['f16', 'q8_0', 'q4_0'] as const satisfies readonly KvDtype[];
export type KvType = (typeof KV_TYPES)[number];

/** Values of one q8_0 or q4_0 block. */
export const QUANT_BLOCK_VALUES = 32;
/**
 * Bytes of one block: q8_0, f16 scale d then 32 int8 q (value d * q); q4_0, f16 scale d then 16 bytes of nibbles, value
 * j in the low nibble of byte j and value j + 16 in its high nibble (value d * (q - 8)).
 */
export const QUANT_BLOCK_BYTES: Readonly<Record<KvQuantDtype, number>> = { q8_0: 34, q4_0: 18 };

export function isQuantized(dtype: KvDtype): dtype is KvQuantDtype {
  return dtype === 'q8_0' || dtype === 'q4_0';
}

export interface KvLayout {
  readonly nLayers: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly dtype: KvDtype;
  /**
   * Multi-head latent attention (DeepSeek-V2's MLA): a block holds one kind, not K and V. Each token's row (nKvHeads
   * 1, headDim = latentDim + RoPE dims) is [latent (latentDim values, after attn_kv_a_norm) | k_pe (RoPE applied)];
   * its value is the row's first latentDim values (V is a view of K, as in llama.cpp's MLA cache).
   */
  readonly latentDim?: number;
}

type RowShape = Pick<KvLayout, 'nKvHeads' | 'headDim' | 'latentDim'>;

/** Kinds a block holds: 2 (K then V), or 1 for MLA (the latent row is both). */
export function kvKinds(l: Pick<KvLayout, 'latentDim'>): 1 | 2 {
  return l.latentDim === undefined ? 2 : 1;
}

/** Values of one token's value row per KV head: headDim, or latentDim under MLA. */
export function valueDim(l: Pick<KvLayout, 'headDim' | 'latentDim'>): number {
  return l.latentDim ?? l.headDim;
}

/**
 * One pool buffer per layer; physical block b occupies the same slot in every layer's buffer.
 * Inside a layer's slot (elements): K then V, each (nKvHeads, KV_BLOCK_TOKENS, headDim); under MLA only the one
 * kind, (1, KV_BLOCK_TOKENS, headDim).
 * f16 pools pack two elements per u32 (pack2x16float), so element e lives in word e / 2.
 * q8_0 / q4_0 pools quantize each token's whole K (or V) row, (nKvHeads * headDim) values as llama.cpp's K cache row,
 * in blocks of 32: the slot is (kinds, KV_BLOCK_TOKENS, rowBlocks) blocks (see quantBlockIndex), so a
 * token's row is quantized once, when it is appended.
 */
export function blockElements(l: RowShape): number {
  return kvKinds(l) * l.nKvHeads * KV_BLOCK_TOKENS * l.headDim;
}

/** Bytes per K/V value; fractional for q8_0 and q4_0 (34 / 32, 18 / 32: a scale shared by 32 values). */
export function bytesPerElement(dtype: KvDtype): number {
  return isQuantized(dtype) ? QUANT_BLOCK_BYTES[dtype] / QUANT_BLOCK_VALUES : dtype === 'f16' ? 2 : 4;
}

/**
 * Throws unless the layout's token rows split into whole blocks (when it is quantized) and an MLA layout is one
 * row of whole vec4s holding its latent.
 */
export function checkKvLayout(l: Pick<KvLayout, 'nKvHeads' | 'headDim' | 'dtype' | 'latentDim'>): void {
  const { latentDim } = l;
  if (latentDim !== undefined) {
    if (l.nKvHeads !== 1) throw new RangeError(`an MLA KV layout has one KV head (the latent row), not ${l.nKvHeads}`);
    if (!Number.isInteger(latentDim) || latentDim <= 0 || latentDim % 4 !== 0 || latentDim > l.headDim) {
      throw new RangeError(`MLA latentDim ${latentDim} must be a positive multiple of 4 and at most headDim ${l.headDim} (latent + RoPE dims)`);
    }
  }
  const row = l.nKvHeads * l.headDim;
  if (isQuantized(l.dtype) && row % QUANT_BLOCK_VALUES !== 0) {
    throw new RangeError(`${l.dtype} KV needs a K/V row (nKvHeads ${l.nKvHeads} x headDim ${l.headDim} = ${row}) that is a multiple of ${QUANT_BLOCK_VALUES} values; use f16`);
  }
}

/** Quantized blocks in one token's K (or V) row. */
export function quantRowBlocks(l: RowShape): number {
  return (l.nKvHeads * l.headDim) / QUANT_BLOCK_VALUES;
}

/**
 * Index, within a quantized layer buffer, of the block holding values [32 j, 32 j + 32) of (block, kind, token)'s row.
 * Under MLA kind 1 (V) names the same row as kind 0: V is a view of the latent.
 */
export function quantBlockIndex(l: RowShape, block: number, kind: 0 | 1, token: number, j: number): number {
  const kinds = kvKinds(l);
  return ((block * kinds + (kinds === 1 ? 0 : kind)) * KV_BLOCK_TOKENS + token) * quantRowBlocks(l) + j;
}

/** Bytes of one block in one layer's pool buffer. */
export function layerBlockBytes(l: KvLayout): number {
  checkKvLayout(l);
  return blockElements(l) * bytesPerElement(l.dtype);
}

/** Bytes of one block across all layers: what swapping a block moves. */
export function blockBytes(l: KvLayout): number {
  return layerBlockBytes(l) * l.nLayers;
}

/**
 * Element index of K (kind 0) or V (kind 1) for (block, kv head, token in block, dim) within an f32/f16 layer buffer.
 * Under MLA V is a view of the latent: kind 1 names kind 0's element, for dim < latentDim only.
 */
export function kvElementIndex(l: RowShape, block: number, kind: 0 | 1, head: number, token: number, dim: number): number {
  if (l.latentDim !== undefined && kind === 1) {
    if (dim >= l.latentDim) throw new RangeError(`an MLA value has ${l.latentDim} dims, not dim ${dim}`);
    kind = 0;
  }
  return block * blockElements(l) + ((kind * l.nKvHeads + head) * KV_BLOCK_TOKENS + token) * l.headDim + dim;
}
