// Writes K and V of new tokens into one layer's KV pool through the block table. One thread per
// (token, kv head, vec4 of the head row); the wrapper (kv-append.ts) supplies:
//   KV_F16  pool holds f16 pairs packed in u32 (pack2x16float), else f32
//   D4      headDim / 4
// Pool layout (src/gpu/kv/layout.ts): vec4 index of (block b, kind, head, token, d4) is
//   ((b * 2 + kind) * nKvHeads + head) * 16 * D4 + token * D4 + d4

struct Params {
  n_tokens: u32,
  n_kv_heads: u32,
  max_blocks: u32,  // columns of the block table
  grid_x: u32,      // in workgroups
};

@group(0) @binding(0) var<storage, read> k: array<vec4<f32>>;  // (nTokens, nKvHeads, D4), RoPE applied
@group(0) @binding(1) var<storage, read> v: array<vec4<f32>>;  // (nTokens, nKvHeads, D4)
#if KV_F16
@group(0) @binding(2) var<storage, read_write> pool: array<vec2<u32>>;  // one layer's pool, 4 halves per vec2<u32>
#else
@group(0) @binding(2) var<storage, read_write> pool: array<vec4<f32>>;  // one layer's pool
#endif
@group(0) @binding(3) var<storage, read> block_tables: array<u32>;  // (nSeqs, max_blocks)
@group(0) @binding(4) var<storage, read> token_seq: array<u32>;     // (nTokens)
@group(0) @binding(5) var<storage, read> token_pos: array<u32>;     // (nTokens)
@group(0) @binding(6) var<uniform> params: Params;

#if KV_F16
fn store(i: u32, x: vec4<f32>) {
  pool[i] = vec2<u32>(pack2x16float(x.xy), pack2x16float(x.zw));
}
#else
fn store(i: u32, x: vec4<f32>) {
  pool[i] = x;
}
#endif

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let id = (wid.x + wid.y * params.grid_x) * 64u + i;  // (token, kv head, d4)
  let row = id / D4;
  let tok = row / params.n_kv_heads;
  if (tok >= params.n_tokens) {
    return;
  }
  let head = row % params.n_kv_heads;
  let pos = token_pos[tok];
  let phys = block_tables[token_seq[tok] * params.max_blocks + pos / 16u];
  let slot = (pos % 16u) * D4 + id % D4;
  store(((phys * 2u) * params.n_kv_heads + head) * 16u * D4 + slot, k[id]);
  store(((phys * 2u + 1u) * params.n_kv_heads + head) * 16u * D4 + slot, v[id]);
}
