// The elementwise pieces Gemma adds, each over `count` f32 values, one invocation per value:
//   geglu    H[i] = gelu_tanh(H[i]) * U[i]   (tokens, ffn), in place on the gate activations
//   add      H[i] += U[i]                    (tokens, dim): a residual add after a post-norm
//   scale    H[i] *= P.c                     (tokens, dim): the embedding's sqrt(dim)
//   softcap  H[i] = P.c * tanh(H[i] / P.c)   (rows, vocab): final logit soft-capping

struct Params {
  count: u32,
  c: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> H: array<f32>;  // (count)
#if WITH_U
@group(0) @binding(2) var<storage, read> U: array<f32>;        // (count)
#endif

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_COEF_A: f32 = 0.044715;

// WGSL's tanh is (e^2x - 1) / (e^2x + 1), which overflows to NaN past |x| ~ 44; tanh(±15) is ±1 in f32.
fn tanh_safe(x: f32) -> f32 {
  return tanh(clamp(x, -15.0, 15.0));
}

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 64u;
}

#if WITH_U
@compute @workgroup_size(64)
fn geglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.count) { return; }
  let x = H[i];
  H[i] = 0.5 * x * (1.0 + tanh_safe(SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x))) * U[i];
}

@compute @workgroup_size(64)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.count) { return; }
  H[i] += U[i];
}
#else
@compute @workgroup_size(64)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.count) { return; }
  H[i] *= P.c;
}

@compute @workgroup_size(64)
fn softcap(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.count) { return; }
  H[i] = P.c * tanh_safe(H[i] / P.c);
}
#endif
