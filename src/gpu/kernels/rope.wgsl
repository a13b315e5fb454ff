// Rotary position embedding in place on X (tokens, heads, head_dim), angles from a host-computed table
// COSSIN (positions, rope_dim / 2) of (cos, sin): WGSL's sin/cos are only accurate to 2^-11 absolute, so the
// angles are computed once in double precision on the host. One invocation per (token, head, pair).
// NEOX: pairs (i, i + rope_dim / 2); else GGML's normal adjacent pairs (2i, 2i + 1).

struct Params {
  tokens: u32,
  heads: u32,
  head_dim: u32,
  half: u32,      // rope_dim / 2
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> POS: array<u32>;
@group(0) @binding(3) var<storage, read> COSSIN: array<vec2<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * 64u;
  let i = idx % P.half;
  let th = idx / P.half;
  if (th >= P.tokens * P.heads) { return; }
  let t = th / P.heads;
  let base = th * P.head_dim;
#if NEOX
  let a = base + i;
  let b = a + P.half;
#else
  let a = base + 2u * i;
  let b = a + 1u;
#endif
  let cs = COSSIN[POS[t] * P.half + i];
  let x0 = X[a];
  let x1 = X[b];
  X[a] = x0 * cs.x - x1 * cs.y;
  X[b] = x0 * cs.y + x1 * cs.x;
}
