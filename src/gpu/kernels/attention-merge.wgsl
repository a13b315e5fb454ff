// The merge pass of split-K flash-decode (attention-decode.wgsl). The wrapper (attention.ts) supplies:
//   D4          headDim / 4 (rows are read as vec4)
//   SINKS       per-head sink logits (gpt-oss): binding 4, joining the softmax denominator only

// Below every real score, as in attention-paged-kv.wgsl: the running max before the first split.
const NEG: f32 = -3.0e38;

// One thread per (token, head, vec4 of the row): combines the splits' (m, l, acc) into the normalized output.
// An empty split has m = NEG, l = 0, acc = 0 and weighs exp(NEG - M) = 0.
struct Params {
  n_rows: u32,    // nTokens * nHeads
  n_splits: u32,
  grid_x: u32,    // in workgroups
  n_heads: u32,   // a row's head is row % n_heads (SINKS)
};

@group(0) @binding(0) var<storage, read> part_acc: array<vec4<f32>>;  // (rows, n_splits, D4)
@group(0) @binding(1) var<storage, read> part_ml: array<vec2<f32>>;   // (rows, n_splits)
@group(0) @binding(2) var<storage, read_write> o: array<vec4<f32>>;   // (rows, D4)
@group(0) @binding(3) var<uniform> params: Params;
#if SINKS
@group(0) @binding(4) var<storage, read> sinks: array<f32>;  // (nHeads) sink logit per head, unscaled
#endif

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let id = (wid.x + wid.y * params.grid_x) * 64u + i;
  let row = id / D4;
  let d4 = id % D4;
  if (row >= params.n_rows) {
    return;
  }
  let S = params.n_splits;
  var m = NEG;
  for (var s = 0u; s < S; s++) {
    m = max(m, part_ml[row * S + s].x);
  }
  var l = 0.0;
  var acc = vec4<f32>(0.0);
  for (var s = 0u; s < S; s++) {
    let ml = part_ml[row * S + s];
    let w = exp(ml.x - m);
    l += ml.y * w;
    acc += part_acc[(row * S + s) * D4 + d4] * w;
  }
#if SINKS
  // As in attention-decode.wgsl: exp(sink - M) joins the denominator, M = max(m, sink).
  let sink = sinks[row % params.n_heads];
  let big = max(m, sink);
  let r = exp(m - big);
  o[row * D4 + d4] = acc * r / (l * r + exp(sink - big));
#else
  o[row * D4 + d4] = acc / l;
#endif
}
