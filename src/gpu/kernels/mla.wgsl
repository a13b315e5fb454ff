// Multi-head latent attention's per-head pieces (DeepSeek-V2; model/mla-forward.ts). Both address their input and
// output as (tokens, heads, width) f32 with strides, so a head's slice can sit inside a wider row:
//   HEAD_MATVEC: Y[t, h, y_off + r] = sum_j W[h, r, j] * X[t, h, x_off + j]   (W: (heads, rows, cols) f32)
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
}
@group(0) @binding(0) var<uniform> P: Params;

#if OP == HEAD_MATVEC
@group(0) @binding(1) var<storage, read> W: array<f32>;        // (heads, rows, cols)
@group(0) @binding(2) var<storage, read> X: array<f32>;        // (tokens, heads, >= x.offset + cols) through P.x_*
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;  // (tokens, heads, >= y.offset + rows) through P.y_*

// One thread an output value; rows of a head are adjacent threads, so X's slice is shared through the cache.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.tokens * P.heads * P.width) { return; }
  let r = i % P.width;
  let h = (i / P.width) % P.heads;
  let t = i / (P.width * P.heads);
  let w0 = (h * P.width + r) * P.cols;
  let x0 = t * P.x_token + h * P.x_head + P.x_offset;
  var s = 0.0;
  for (var j = 0u; j < P.cols; j++) { s += W[w0 + j] * X[x0 + j]; }
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
