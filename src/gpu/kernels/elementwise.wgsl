// SwiGLU: H[i] = silu(H[i]) * U[i] over (tokens, ffn), in place on the gate activations.

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> H: array<f32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;

@compute @workgroup_size(64)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.count) { return; }
  let g = H[i];
  H[i] = g / (1.0 + exp(-g)) * U[i];
}
