// Mixture-of-experts kernels (Qwen3-MoE and gpt-oss, as llama.cpp's build_moe_ffn). A "pair" is one (token, slot)
// of the top-k: pair p = t * USED + k. OP picks the entry point:
//   ROUTE:  per token, softmax over the router logits, top-k by probability, renormalised weights; or (gpt-oss's
//           softmax-weight gating) top-k of the raw logits and a softmax over the k selected; or (DeepSeek's sigmoid
//           gating) top-k of the logits' sigmoids. The weights are then multiplied by a scale (DeepSeek's w_scale).
//   EXPERT: Y(pair, R) = W[IDS[pair]](R, K) @ X(row, K): the matvec of each pair's own expert, reading only that
//           expert's rows of the 3-D expert tensor (the expert id comes from IDS on the GPU, never the host).
//   COMBINE: X(t, D) += sum over k of Y(t * USED + k, D) (each already weighted), in slot order.
//   SWIGLU_OAI: gpt-oss's clamped SwiGLU (ggml_swiglu_oai) of the experts' gate and up rows.
// EXPERT and EXPERT_GROUPED with BIAS add the pair's expert's bias row before the routing weight (gpt-oss).

#if OP == ROUTE
struct Params {
  tokens: u32,
  experts: u32,
  used: u32,       // top-k
  normalize: u32,  // 1: weights divided by their sum (clamped below at 2^-14, as llama.cpp)
  by_logit: u32,   // 1: top-k of the logits, weights softmax over the k (llama.cpp's SOFTMAX_WEIGHT gating)
  sigmoid: u32,    // 1: probabilities are sigmoid(logit) (llama.cpp's SIGMOID gating)
  scale: f32,      // the final weights times this (1: none)
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> L: array<f32>;          // (tokens, experts) router logits
@group(0) @binding(2) var<storage, read_write> IDS: array<u32>;  // (tokens, used) selected experts, best first
@group(0) @binding(3) var<storage, read_write> WTS: array<f32>;  // (tokens, used) their weights

// One thread a token: expert counts are small (8 to 128) and this runs once per layer.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= P.tokens) { return; }
  let l0 = t * P.experts;
  var mx = L[l0];
  for (var e = 1u; e < P.experts; e++) { mx = max(mx, L[l0 + e]); }
  var sum = 0.0;
  for (var e = 0u; e < P.experts; e++) { sum += exp(L[l0 + e] - mx); }
  // Top-k by probability (or logit); strict > keeps the lower index on ties (llama.cpp leaves their order unspecified).
  let by_logit = P.by_logit == 1u;
  let sigmoid = P.sigmoid == 1u;
  var total = 0.0;
  for (var k = 0u; k < P.used; k++) {
    var best = 0xffffffffu;
    var best_p = 0.0;
    for (var e = 0u; e < P.experts; e++) {
      var taken = false;
      for (var j = 0u; j < k; j++) { taken = taken || IDS[t * P.used + j] == e; }
      let p = select(select(exp(L[l0 + e] - mx) / sum, 1.0 / (1.0 + exp(-L[l0 + e])), sigmoid), L[l0 + e], by_logit);
      if (!taken && (best == 0xffffffffu || p > best_p)) {
        best = e;
        best_p = p;
      }
    }
    IDS[t * P.used + k] = best;
    WTS[t * P.used + k] = best_p;
    total += best_p;
  }
  if (by_logit) {
    // Softmax over the k selected logits; the first is their max.
    let top = WTS[t * P.used];
    var s = 0.0;
    for (var k = 0u; k < P.used; k++) {
      let p = exp(WTS[t * P.used + k] - top);
      WTS[t * P.used + k] = p;
      s += p;
    }
    total = 0.0;
    for (var k = 0u; k < P.used; k++) {
      WTS[t * P.used + k] = WTS[t * P.used + k] / s;
      total += WTS[t * P.used + k];
    }
  }
  if (P.normalize == 1u) {
    let d = max(total, 6.103515625e-5);
    for (var k = 0u; k < P.used; k++) { WTS[t * P.used + k] = WTS[t * P.used + k] / d; }
  }
  if (P.scale != 1.0) {
    for (var k = 0u; k < P.used; k++) { WTS[t * P.used + k] = WTS[t * P.used + k] * P.scale; }
  }
}
#elif OP == EXPERT
struct Params {
  k: u32,             // row length (elements)
  r: u32,             // rows of one expert (outputs per pair)
  pairs: u32,         // tokens * used
  used: u32,          // experts per token
  row_bytes: u32,     // bytes of one weight row
  first_expert: u32,  // W holds experts [first_expert, first_expert + experts) (tensors split across bindings)
  experts: u32,
  row_tiles: u32,     // workgroups along r
  x_per_pair: u32,    // 0: X row = pair / used (gate, up: the token's input); 1: X row = pair (down)
  weighted: u32,      // 1: Y = WTS[pair] * result (down)
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;          // (experts, r) rows of raw GGUF blocks
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;    // (tokens or pairs, k)
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;    // (pairs, r)
@group(0) @binding(4) var<storage, read> IDS: array<u32>;        // (pairs) expert of each pair
@group(0) @binding(5) var<storage, read> WTS: array<f32>;        // (pairs) routing weight of each pair
#if BIAS
@group(0) @binding(6) var<storage, read> B: array<f32>;          // (all experts, r) bias rows
#endif

#include "quant"

// A workgroup: 64 rows of one pair's expert, a thread a row (no reduction, no barrier).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let pair = tile / P.row_tiles;
  let r = (tile % P.row_tiles) * 64u + lid;
  if (pair >= P.pairs || r >= P.r) { return; }
  let e = IDS[pair];
  if (e < P.first_expert || e >= P.first_expert + P.experts) { return; }
  let row_byte = ((e - P.first_expert) * P.r + r) * P.row_bytes;
  let xrow = select(pair / P.used, pair, P.x_per_pair == 1u);
  let xo = xrow * (P.k / 4u);
  var s = 0.0;
  for (var c = 0u; c < P.k / 32u; c++) {
    let h = chunk_header(row_byte, c);
    for (var i = 0u; i < 8u; i++) { s += dot(chunk_quad(h, i), X[xo + c * 8u + i]); }
  }
#if BIAS
  s += B[e * P.r + r];
#endif
  if (P.weighted == 1u) { s *= WTS[pair]; }
  Y[pair * P.r + r] = s;
}
#elif OP == GROUP
// Prefill / batched decode: the pairs sorted by expert (a counting sort in one workgroup), and the work cut into
// tiles of up to TT pairs of one expert, so that each decoded weight row serves TT pairs.
struct Params {
  pairs: u32,
  experts: u32,    // at most 256
  max_tiles: u32,  // tiles allotted: ceil(pairs / TT) + min(experts, pairs)
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> IDS: array<u32>;         // (pairs) expert of each pair
@group(0) @binding(2) var<storage, read_write> LIST: array<u32>;  // (pairs) pair indices, grouped by expert
@group(0) @binding(3) var<storage, read_write> TILES: array<u32>; // (max_tiles, 3): expert, first LIST index, count (0: none)

var<workgroup> counts: array<atomic<u32>, 256>;
var<workgroup> cursor: array<atomic<u32>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  atomicStore(&counts[lid], 0u);
  workgroupBarrier();
  for (var p = lid; p < P.pairs; p += 256u) { atomicAdd(&counts[IDS[p]], 1u); }
  workgroupBarrier();
  if (lid == 0u) {
    var off = 0u;
    var n = 0u;
    for (var e = 0u; e < P.experts; e++) {
      let c = atomicLoad(&counts[e]);
      atomicStore(&cursor[e], off);
      for (var s = 0u; s < c; s += TT) {
        TILES[n * 3u] = e;
        TILES[n * 3u + 1u] = off + s;
        TILES[n * 3u + 2u] = min(TT, c - s);
        n++;
      }
      off += c;
    }
    for (; n < P.max_tiles; n++) { TILES[n * 3u + 2u] = 0u; }
  }
  workgroupBarrier();
  // The order within an expert's group is whatever the atomics give: each pair's result does not depend on it.
  for (var p = lid; p < P.pairs; p += 256u) { LIST[atomicAdd(&cursor[IDS[p]], 1u)] = p; }
}
#elif OP == EXPERT_GROUPED
struct Params {
  k: u32,             // row length (elements)
  r: u32,             // rows of one expert
  used: u32,          // experts per token
  row_bytes: u32,     // bytes of one weight row
  first_expert: u32,  // W holds experts [first_expert, first_expert + experts)
  experts: u32,
  row_tiles: u32,     // workgroups along r
  x_per_pair: u32,    // 0: X row = pair / used; 1: X row = pair
  weighted: u32,      // 1: Y = WTS[pair] * result
  max_tiles: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;          // (experts, r) rows of raw GGUF blocks
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;    // (tokens or pairs, k)
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;    // (pairs, r)
@group(0) @binding(4) var<storage, read> LIST: array<u32>;       // (pairs) grouped by expert (GROUP)
@group(0) @binding(5) var<storage, read> WTS: array<f32>;        // (pairs) routing weights
@group(0) @binding(6) var<storage, read> TILES: array<u32>;      // (max_tiles, 3) from GROUP
#if BIAS
@group(0) @binding(7) var<storage, read> B: array<f32>;          // (all experts, r) bias rows
#endif

#include "quant"

// A workgroup: 64 rows of one expert for up to TT of its pairs, a thread a row; each decoded weight quad serves
// every pair of the tile. The arithmetic of a pair is the per-pair kernel's, in the same order.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let ti = tile / P.row_tiles;
  let r = (tile % P.row_tiles) * 64u + lid;
  if (ti >= P.max_tiles || r >= P.r) { return; }
  let n = TILES[ti * 3u + 2u];
  let e = TILES[ti * 3u];
  if (n == 0u || e < P.first_expert || e >= P.first_expert + P.experts) { return; }
  let first = TILES[ti * 3u + 1u];
  let k4 = P.k / 4u;
  var xo: array<u32, TT>;
  for (var j = 0u; j < TT; j++) {
    let pair = LIST[first + min(j, n - 1u)];
    xo[j] = select(pair / P.used, pair, P.x_per_pair == 1u) * k4;
  }
  let row_byte = ((e - P.first_expert) * P.r + r) * P.row_bytes;
  var acc: array<f32, TT>;
  for (var c = 0u; c < P.k / 32u; c++) {
    let h = chunk_header(row_byte, c);
    for (var i = 0u; i < 8u; i++) {
      let w = chunk_quad(h, i);
      for (var j = 0u; j < TT; j++) { acc[j] += dot(w, X[xo[j] + c * 8u + i]); }
    }
  }
  for (var j = 0u; j < n; j++) {
    let pair = LIST[first + j];
    var y = acc[j];
#if BIAS
    y += B[e * P.r + r];
#endif
    if (P.weighted == 1u) { y *= WTS[pair]; }
    Y[pair * P.r + r] = y;
  }
}
#elif OP == COMBINE
struct Params {
  tokens: u32,
  dim: u32,
  used: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Y: array<f32>;          // (tokens * used, dim) weighted expert outputs
@group(0) @binding(2) var<storage, read_write> X: array<f32>;    // (tokens, dim) residual stream

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.tokens * P.dim) { return; }
  let t = i / P.dim;
  let d = i % P.dim;
  // llama.cpp's order: the experts' outputs summed first, then added to the residual.
  var s = Y[(t * P.used) * P.dim + d];
  for (var k = 1u; k < P.used; k++) { s += Y[(t * P.used + k) * P.dim + d]; }
  X[i] = X[i] + s;
}
#elif OP == SWIGLU_OAI
struct Params {
  n: u32,
  alpha: f32,
  limit: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> G: array<f32>;    // (n) gate in, activation out
@group(0) @binding(2) var<storage, read> U: array<f32>;          // (n) up

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.n) { return; }
  // ggml_swiglu_oai, in its order: x / (1 + exp(alpha * -x)) * (y + 1).
  let x = min(G[i], P.limit);
  let y = clamp(U[i], -P.limit, P.limit);
  G[i] = x / (1.0 + exp(P.alpha * (-x))) * (y + 1.0);
}
#endif
