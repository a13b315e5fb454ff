// RMSNorm over rows: Y[j] = X[row(j)] / rms(X[row(j)]) * weight. One workgroup per output row.
// GATHER: row(j) = ROWS[j] (the final norm picks the tokens whose logits are wanted); else row(j) = j.
// IN_PLACE: Y is X (no gather).
// The weight has `n` entries, or `weight_len` entries reused across a row's heads (Qwen3's per-head q/k norm).

struct Params {
  n: u32,         // row length
  rows: u32,      // output rows
  weight_len: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
#if IN_PLACE
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
#else
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
#endif
#if GATHER
@group(0) @binding(4) var<storage, read> ROWS: array<u32>;
#endif

var<workgroup> sums: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = wid.x + wid.y * nwg.x;
  if (j >= P.rows) { return; }
#if GATHER
  let src = ROWS[j] * P.n;
#else
  let src = j * P.n;
#endif
  var s = 0.0;
  for (var i = lid; i < P.n; i += WG) {
    let v = X[src + i];
    s += v * v;
  }
  sums[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
    workgroupBarrier();
  }
  let scale = 1.0 / sqrt(sums[0] / f32(P.n) + P.eps);
  for (var i = lid; i < P.n; i += WG) {
#if IN_PLACE
    X[src + i] = X[src + i] * scale * G[i % P.weight_len];
#else
    Y[j * P.n + i] = X[src + i] * scale * G[i % P.weight_len];
#endif
  }
}
