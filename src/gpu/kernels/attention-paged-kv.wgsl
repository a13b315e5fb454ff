// What every attention pass over the paged KV cache shares (`#include "paged-kv"`): bindings 1-4 (the pool, the
// block tables, each token's sequence and position), the address of a block's K or V rows, and the vec4 load of
// K/V in the pool's dtype. The including file declares binding 0 (q or scores) and those from 5 on. Defines:
//   KV_F16      pool holds f16 pairs packed in u32 (pack2x16float), else f32
//   D4          headDim / 4 (head rows are read as vec4)
//
// Pool layout (src/gpu/kv/layout.ts), per layer, in elements: block b at b * 2 * nKvHeads * 16 * headDim, then
// K (nKvHeads, 16, headDim), then V (nKvHeads, 16, headDim). vec4 index of (b, kind, head, token, d4):
//   ((b * 2 + kind) * nKvHeads + head) * 16 * D4 + token * D4 + d4

// Below every real score: the running max of a row that has seen no key yet.
const NEG: f32 = -3.0e38;

#if KV_F16
@group(0) @binding(1) var<storage, read> pool: array<vec2<u32>>;    // (blocks, 2, nKvHeads, 16, D4), 4 halves each
#else
@group(0) @binding(1) var<storage, read> pool: array<vec4<f32>>;    // (blocks, 2, nKvHeads, 16, D4), one layer
#endif
@group(0) @binding(2) var<storage, read> block_tables: array<u32>;  // (nSeqs, max_blocks): logical -> physical block
@group(0) @binding(3) var<storage, read> token_seq: array<u32>;     // (nTokens): row of the block table
@group(0) @binding(4) var<storage, read> token_pos: array<u32>;     // (nTokens)

#if KV_F16
fn kv4(i: u32) -> vec4<f32> {
  let w = pool[i];
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}
#else
fn kv4(i: u32) -> vec4<f32> {
  return pool[i];
}
#endif

// vec4 index of token 0, dim 0 of K (kind 0) or V (kind 1) of `head` in physical block `b`.
fn block_base(b: u32, kind: u32, head: u32, n_kv_heads: u32) -> u32 {
  return ((b * 2u + kind) * n_kv_heads + head) * 16u * D4;
}
