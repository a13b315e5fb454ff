// Embedding lookup from a (quantized) table: Y[t] = dequant(W row TOKENS[t]). One workgroup per token.

struct Params {
  dim: u32,
  tokens: u32,
  row_bytes: u32,
  first_row: u32,  // rows held by this part of a split table
  part_rows: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> TOKENS: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

#include "quant"

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wid.x;
  if (t >= P.tokens) { return; }
  let tok = TOKENS[t];
  if (tok < P.first_row || tok >= P.first_row + P.part_rows) { return; }
  let row_byte = (tok - P.first_row) * P.row_bytes;
  let chunks = P.dim / 32u;
  for (var c = lid; c < chunks; c += 64u) {
    let h = chunk_header(row_byte, c);
    for (var i = 0u; i < 8u; i++) {
      let v = chunk_quad(h, i);
      let y = t * P.dim + c * 32u + i * 4u;
      Y[y] = v.x;
      Y[y + 1u] = v.y;
      Y[y + 2u] = v.z;
      Y[y + 3u] = v.w;
    }
  }
#if SCALAR
  for (var i = chunks * 32u + lid; i < P.dim; i += 64u) { Y[t * P.dim + i] = dequant_elem(row_byte, i); }
#endif
}
