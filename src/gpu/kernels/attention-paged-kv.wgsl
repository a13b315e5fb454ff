// What every attention pass over the paged KV cache shares (`#include "paged-kv"`): bindings 1-4 (the pool, the
// block tables, each token's sequence and position), the address of a block's K or V rows, and the vec4 load of
// K/V in the pool's dtype. The including file declares binding 0 (q or scores) and those from 5 on. Defines:
//   KV_F16      pool holds f16 pairs packed in u32 (pack2x16float), else f32
//   KV_Q8       pool holds q8_0 blocks (34 bytes: f16 scale, 32 int8) of each token's K/V row; dequantized in kv4
//   KV_Q4       pool holds q4_0 blocks (18 bytes: f16 scale, 16 bytes of nibbles) likewise
//   KV_HEADS, BLOCK_HALVES  (KV_Q8, KV_Q4) nKvHeads; half words per block (17 or 9)
//   D4          headDim / 4 (head rows are read as vec4)
//   KINDS       kinds per block: 2 (K then V), or 1 under MLA (the latent row [latent | k_pe] is K, its first VD4
//               vec4s are V)
//   V_KIND      the kind values are read from: 1, or 0 under MLA
//   VD4         vec4s of a value row: D4, or latentDim / 4 under MLA
//
// Pool layout (src/gpu/kv/layout.ts), per layer, in elements: block b at b * KINDS * nKvHeads * 16 * headDim, then
// K (nKvHeads, 16, headDim), then V (nKvHeads, 16, headDim) unless MLA. vec4 index of (b, kind, head, token, d4):
//   ((b * KINDS + kind) * nKvHeads + head) * 16 * D4 + token * D4 + d4

// Below every real score: the running max of a row that has seen no key yet.
const NEG: f32 = -3.0e38;

#if KV_Q8 || KV_Q4
@group(0) @binding(1) var<storage, read> pool: array<u32>;          // (blocks, KINDS, 16, nKvHeads * D4 / 8) quant blocks
#elif KV_F16
@group(0) @binding(1) var<storage, read> pool: array<vec2<u32>>;    // (blocks, KINDS, nKvHeads, 16, D4), 4 halves each
#else
@group(0) @binding(1) var<storage, read> pool: array<vec4<f32>>;    // (blocks, KINDS, nKvHeads, 16, D4), one layer
#endif
@group(0) @binding(2) var<storage, read> block_tables: array<u32>;  // (nSeqs, max_blocks): logical -> physical block
@group(0) @binding(3) var<storage, read> token_seq: array<u32>;     // (nTokens): row of the block table
@group(0) @binding(4) var<storage, read> token_pos: array<u32>;     // (nTokens)

#if KV_Q8 || KV_Q4
// i is the vec4 index of the f32 layout above; a quantized pool keeps (b, kind, token) rows of all heads instead, in
// 34- or 18-byte blocks: block of row r, value e at r * ROW_BLOCKS + e / 32, starting on a half word.
const ROW_BLOCKS: u32 = KV_HEADS * D4 / 8u;

fn kv4(i: u32) -> vec4<f32> {
  let d4 = i % D4;
  let token = (i / D4) % 16u;
  let head = (i / (16u * D4)) % KV_HEADS;
  let bk = i / (16u * D4 * KV_HEADS);  // b * KINDS + kind
  let e = (head * D4 + d4) * 4u;       // first of the 4 values in the token's row
  let h = ((bk * 16u + token) * ROW_BLOCKS + e / 32u) * BLOCK_HALVES;  // the block's first half word: its f16 scale
  let bits = (pool[h >> 1u] >> ((h & 1u) * 16u)) & 0xffffu;
  // A subnormal half scale (below 6.1e-5) by hand: drivers' unpack2x16float may flush it to zero.
  let d = select(unpack2x16float(bits).x, f32(bits) * 5.9604645e-8, bits < 0x400u);
#if KV_Q8
  let q0 = h + 1u + (e % 32u) / 2u;  // half word of the first int8 pair
#else
  let q0 = h + 1u + (e % 16u) / 2u;  // half word of the first nibble pair: values 16.. are the high nibbles
#endif
  var w = pool[q0 >> 1u];
  if ((q0 & 1u) == 1u) {
    w = (w >> 16u) | (pool[(q0 >> 1u) + 1u] << 16u);
  }
#if KV_Q8
  let q = vec4<i32>(bitcast<i32>(w << 24u), bitcast<i32>(w << 16u), bitcast<i32>(w << 8u), bitcast<i32>(w)) >> vec4<u32>(24u);
#else
  let n = select(w, w >> 4u, e % 32u >= 16u);
  let q = vec4<i32>(vec4<u32>(n, n >> 8u, n >> 16u, n >> 24u) & vec4<u32>(0xfu)) - vec4<i32>(8);
#endif
  return vec4<f32>(q) * d;
}
#elif KV_F16
fn kv4(i: u32) -> vec4<f32> {
  let w = pool[i];
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}
#else
fn kv4(i: u32) -> vec4<f32> {
  return pool[i];
}
#endif

// vec4 index of token 0, dim 0 of K (kind 0) or V (kind V_KIND) of `head` in physical block `b`.
fn block_base(b: u32, kind: u32, head: u32, n_kv_heads: u32) -> u32 {
  return ((b * KINDS + kind) * n_kv_heads + head) * 16u * D4;
}
