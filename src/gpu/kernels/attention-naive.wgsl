// The naive three-pass baseline the benchmarks compare flash-decode against: all scores to a buffer, softmax in
// place, weighted sum of V; every query head on its own. One entry point per VARIANT:
//   VARIANT     naive_scores | naive_softmax | naive_sum
//   KV_F16, D4  see attention-paged-kv.wgsl (naive_scores, naive_sum)
//   KINDS, V_KIND, VD4  see attention-paged-kv.wgsl (naive_sum sums VD4-wide value rows; MLA's are the latent)
//   GROUP       query heads per KV head (naive_scores, naive_sum)
#if VARIANT == naive_softmax
// Below every real score, as in attention-paged-kv.wgsl: the running max of a row that has seen no key yet.
const NEG: f32 = -3.0e38;
#else
#include "paged-kv"
#endif

#if VARIANT == naive_scores
// Baseline pass 1: one thread per (token, head, key): scores[t][h][j] = scale * q . k_j for j <= pos.
struct Params {
  n_tokens: u32,
  n_kv_heads: u32,
  max_blocks: u32,
  ctx_stride: u32,  // columns of the scores buffer (>= every token's pos + 1)
  grid_x: u32,
  scale: f32,
};

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;  // (nTokens, nHeads, D4)
// bindings 1-4: pool, block_tables, token_seq, token_pos (attention-paged-kv.wgsl)
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;  // (nTokens, nHeads, ctx_stride)
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let id = (wid.x + wid.y * params.grid_x) * 64u + i;
  let n_heads = params.n_kv_heads * GROUP;
  let j = id % params.ctx_stride;
  let th = id / params.ctx_stride;  // token * nHeads + head
  let tok = th / n_heads;
  if (tok >= params.n_tokens || j > token_pos[tok]) {
    return;
  }
  let kvh = (th % n_heads) / GROUP;
  let phys = block_tables[token_seq[tok] * params.max_blocks + j / 16u];
  let k_base = block_base(phys, 0u, kvh, params.n_kv_heads) + (j % 16u) * D4;
  var s = 0.0;
  for (var d4 = 0u; d4 < D4; d4++) {
    s += dot(q[th * D4 + d4], kv4(k_base + d4));
  }
  scores[id] = s * params.scale;
}
#endif

#if VARIANT == naive_softmax
// Baseline pass 2: one workgroup per (token, head) row, softmax of scores[0 .. pos] in place.
struct Params {
  n_rows: u32,  // nTokens * nHeads
  n_heads: u32,
  ctx_stride: u32,
  grid_x: u32,
};

@group(0) @binding(0) var<storage, read> token_pos: array<u32>;     // (nTokens)
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;  // (nTokens, nHeads, ctx_stride)
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> red: array<f32, 64>;

fn reduce(i: u32, x: f32, is_max: bool) -> f32 {
  red[i] = x;
  for (var w = 32u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (i < w) {
      red[i] = select(red[i] + red[i + w], max(red[i], red[i + w]), is_max);
    }
  }
  return workgroupUniformLoad(&red[0]);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let row = wid.x + wid.y * params.grid_x;
  if (row >= params.n_rows) {
    return;
  }
  let n = token_pos[row / params.n_heads] + 1u;
  let base = row * params.ctx_stride;
  var m = NEG;
  for (var j = i; j < n; j += 64u) {
    m = max(m, scores[base + j]);
  }
  m = reduce(i, m, true);
  var l = 0.0;
  for (var j = i; j < n; j += 64u) {
    let p = exp(scores[base + j] - m);
    scores[base + j] = p;
    l += p;
  }
  workgroupBarrier();  // everyone has read red[0] before it is reused
  l = reduce(i, l, false);
  for (var j = i; j < n; j += 64u) {
    scores[base + j] /= l;
  }
}
#endif

#if VARIANT == naive_sum
// Baseline pass 3: one thread per (token, head, vec4 of the value row): o = sum_j p_j V_j.
struct Params {
  n_tokens: u32,
  n_kv_heads: u32,
  max_blocks: u32,
  ctx_stride: u32,
  grid_x: u32,
};

@group(0) @binding(0) var<storage, read> scores: array<f32>;        // (nTokens, nHeads, ctx_stride)
// bindings 1-4: pool, block_tables, token_seq, token_pos (attention-paged-kv.wgsl)
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>; // (nTokens, nHeads, VD4)
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let id = (wid.x + wid.y * params.grid_x) * 64u + i;
  let n_heads = params.n_kv_heads * GROUP;
  let th = id / VD4;
  let d4 = id % VD4;
  let tok = th / n_heads;
  if (tok >= params.n_tokens) {
    return;
  }
  let kvh = (th % n_heads) / GROUP;
  let seq = token_seq[tok];
  let n = token_pos[tok] + 1u;
  var acc = vec4<f32>(0.0);
  for (var j = 0u; j < n; j++) {
    let phys = block_tables[seq * params.max_blocks + j / 16u];
    acc += scores[th * params.ctx_stride + j] * kv4(block_base(phys, V_KIND, kvh, params.n_kv_heads) + (j % 16u) * D4 + d4);
  }
  o[th * VD4 + d4] = acc;
}
#endif
