// Multi-head latent attention's per-head pieces (DeepSeek-V2; model/mla-forward.ts). Both address their input and
// output as (tokens, heads, width) f32 with strides, so a head's slice can sit inside a wider row:
//   HEAD_MATVEC: Y[t, h, y_off + r] = sum_j W[h, r, j] * X[t, h, x_off + j]
//                (W: (heads, rows, cols) in its GGUF format, WTYPE, decoded by quant.wgsl; rows of ROW_BYTES)
//                absorbs q_nope into the latent space with attn_k_b, and expands the latent output with attn_v_b.
//   COPY:        Y[t, h, y_off + i] = X[t, h, x_off + i], i < n   (assembles [latent | k_pe] rows and queries).

struct Params {
  tokens: u32,
  heads: u32,
  width: u32,    // values written per token and head (HEAD_MATVEC: W's rows; COPY: values copied)
  cols: u32,     // HEAD_MATVEC: values read per token and head (W's cols); COPY: unused
  // Strides in elements (flat: a nested struct in a uniform would need 16-byte alignment).
  x_token: u32,  // between tokens of X
  x_head: u32,   // between heads of a token in X
  x_offset: u32, // first element of a head's slice in X
  y_token: u32,
  y_head: u32,
  y_offset: u32,
  w_row_bytes: u32, // HEAD_MATVEC: bytes of one W row (cols values in WTYPE); COPY: unused
}
@group(0) @binding(0) var<uniform> P: Params;

#if OP == HEAD_MATVEC
@group(0) @binding(1) var<storage, read> W: array<u32>;        // (heads, rows, cols): raw GGUF rows
@group(0) @binding(2) var<storage, read> X: array<f32>;        // (tokens, heads, >= x.offset + cols) through P.x_*
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;  // (tokens, heads, >= y.offset + rows) through P.y_*

#include "quant"

// One thread an output value; rows of a head are adjacent threads, so X's slice is shared through the cache.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.tokens * P.heads * P.width) { return; }
  let r = i % P.width;
  let h = (i / P.width) % P.heads;
  let t = i / (P.width * P.heads);
  let row_byte = (h * P.width + r) * P.w_row_bytes;
  let x0 = t * P.x_token + h * P.x_head + P.x_offset;
  var s = 0.0;
  // In column order either way, as the f64 reference sums.
#if SCALAR
  for (var j = 0u; j < P.cols; j++) { s += dequant_elem(row_byte, j) * X[x0 + j]; }
#else
  for (var c = 0u; c < P.cols / 32u; c++) {
    let hd = chunk_header(row_byte, c);
    for (var i = 0u; i < 8u; i++) {
      let w = chunk_quad(hd, i);
      let j = x0 + c * 32u + i * 4u;
      s += w.x * X[j];
      s += w.y * X[j + 1u];
      s += w.z * X[j + 2u];
      s += w.w * X[j + 3u];
    }
  }
#endif
  Y[t * P.y_token + h * P.y_head + P.y_offset + r] = s;
}
#elif OP == COPY
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= P.tokens * P.heads * P.width) { return; }
  let i = k % P.width;
  let h = (k / P.width) % P.heads;
  let t = k / (P.width * P.heads);
  Y[t * P.y_token + h * P.y_head + P.y_offset + i] = X[t * P.x_token + h * P.x_head + P.x_offset + i];
}
#endif
