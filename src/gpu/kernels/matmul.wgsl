// Y(T, R) = X(T, K) @ W(R, K)^T for a GGUF weight W read as raw blocks and decoded in registers.
// Decode is T = 1 (matvec); prefill and batched decode tile T_TILE tokens per workgroup so that each decoded
// weight chunk serves T_TILE tokens. TPR threads share a row (they split its 32-element chunks), WG / TPR rows
// per workgroup; partial sums are reduced in workgroup memory (TPR = 1, on CPU drivers: none).
// Defines: WTYPE, WG, TPR, T_TILE, ACCUMULATE (Y += result, for residual adds), BIAS (adds B[r]),
// SCALAR (F32/F16/BF16: row length need only be a multiple of 4).
// GEMM (prefill, from 16 tokens): the tiled kernel below, with WG, BM, BN, RM, TN instead of TPR and T_TILE
// (WG = BM / RM * BN / TN; ROW_LOOP when WG != BM: a thread decodes rows lid, lid + WG, … of the tile).
// WIDE (matvec, Q8_0 / Q4_0 / Q4_K): a chunk's quant words are read with vec4<u32> loads through W4 (W's buffer bound
// again as array<vec4<u32>>, the binding after the last other one: W4_BINDING), see the end of quant.wgsl.
// SUBGROUP (matvec, TPR <= the device's smallest subgroup): a row's TPR partial sums are reduced by a butterfly of
// subgroupShuffleXor instead of workgroup memory and barriers. It assumes a row's TPR consecutive invocations share
// a subgroup; the tuner only picks it where it is exact against the CPU reference on the device.
#if SUBGROUP
enable subgroups;
#endif

struct Params {
  k: u32,          // row length (elements)
  r: u32,          // rows (outputs per token)
  t: u32,          // tokens
  row_bytes: u32,  // bytes of one weight row
  first_row: u32,  // rows of this weight part start at this output index (weights split across bindings)
  y_stride: u32,   // elements between consecutive tokens' outputs in Y
  row_tiles: u32,  // workgroups along R
  flags: u32,      // GEMM only, at run time (one compiled variant fewer each): 1 = Y += result, 2 = add B[r]
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
#if BIAS || GEMM
@group(0) @binding(4) var<storage, read> B: array<f32>;
#endif
#if WIDE
@group(0) @binding(W4_BINDING) var<storage, read> W4: array<vec4<u32>>; // W's buffer again, for 16-byte loads (quant.wgsl)
#endif

#include "quant"

#if GEMM
// Prefill GEMM: a workgroup computes a BM x BN tile of Y (BM weight rows, BN tokens). For each 32-element chunk
// of K, the BM rows' chunks are decoded once into workgroup memory (thread i decodes row i) and the BN tokens' X
// slices are staged beside them; then every thread accumulates an RM x TN register block (rows lid % RT + RT*j,
// tokens (lid / RT) * TN + u), so each decoded weight quad serves TN tokens and each X quad RM rows from
// registers, in the manner of llama.cpp's mul_mm. RT = BM / RM row groups, BN / TN token groups (TN % 4 == 0).
// Workgroup memory: (BM + BN) * 128 bytes.
const RT = BM / RM;
var<workgroup> ws: array<vec4<f32>, BM * 8>;
var<workgroup> xs: array<vec4<f32>, BN * 8>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let row_tile = tile % P.row_tiles;
  let tok0 = (tile / P.row_tiles) * BN;
  if (tok0 >= P.t) { return; }
  let row0 = row_tile * BM;
  let chunks = P.k / 32u;
  let k4 = P.k / 4u;
  let tr = lid % RT;
  let tn = (lid / RT) * TN;

  var acc: array<vec4<f32>, RM * TN / 4u>;
  for (var c = 0u; c < chunks; c++) {
#if ROW_LOOP
    for (var lr = lid; lr < BM; lr += WG) {
      let h = chunk_header(min(row0 + lr, P.r - 1u) * P.row_bytes, c);
      for (var i = 0u; i < 8u; i++) { ws[lr * 8u + i] = chunk_quad(h, i); }
    }
#else
    let h = chunk_header(min(row0 + lid, P.r - 1u) * P.row_bytes, c);
    for (var i = 0u; i < 8u; i++) { ws[lid * 8u + i] = chunk_quad(h, i); }
#endif
    for (var e = lid; e < BN * 8u; e += WG) {
      let tok = min(tok0 + e / 8u, P.t - 1u);
      xs[e] = X[tok * k4 + c * 8u + e % 8u];
    }
    workgroupBarrier();
    for (var i = 0u; i < 8u; i++) {
      for (var u = 0u; u < TN; u += 4u) {
        let x0 = xs[(tn + u) * 8u + i];
        let x1 = xs[(tn + u + 1u) * 8u + i];
        let x2 = xs[(tn + u + 2u) * 8u + i];
        let x3 = xs[(tn + u + 3u) * 8u + i];
        for (var j = 0u; j < RM; j++) {
          let w = ws[(tr + RT * j) * 8u + i];
          acc[(j * TN + u) / 4u] += vec4<f32>(dot(w, x0), dot(w, x1), dot(w, x2), dot(w, x3));
        }
      }
    }
    workgroupBarrier();
  }
  for (var j = 0u; j < RM; j++) {
    let r = row0 + tr + RT * j;
    if (r >= P.r) { continue; }
    for (var u = 0u; u < TN; u++) {
      let t = tok0 + tn + u;
      if (t >= P.t) { continue; }
      var y = acc[(j * TN + u) / 4u][u % 4u];
      if ((P.flags & 2u) != 0u) { y += B[P.first_row + r]; }
      let yi = t * P.y_stride + P.first_row + r;
      if ((P.flags & 1u) != 0u) { y += Y[yi]; }
      Y[yi] = y;
    }
  }
}
#else
const ROWS = WG / TPR;
#if !SUBGROUP
var<workgroup> partial: array<f32, WG * T_TILE>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let row_tile = tile % P.row_tiles;
  let tok0 = (tile / P.row_tiles) * T_TILE;
  if (tok0 >= P.t) { return; }
  let lane = lid % TPR;
  let r = row_tile * ROWS + lid / TPR;
  let live = r < P.r;
  let row_byte = r * P.row_bytes;
  let chunks = P.k / 32u;
  let k4 = P.k / 4u;

  var acc: array<f32, T_TILE>;
  if (live) {
    for (var c = lane; c < chunks; c += TPR) {
      let h = chunk_header(row_byte, c);
#if T_TILE == 1u
      let xo = tok0 * k4 + c * 8u;
      var s = 0.0;
#if WIDE
      let q = chunk_words(h);
      for (var i = 0u; i < 8u; i++) { s += dot(wide_quad(h, q, i), X[xo + i]); }
#elif WTYPE == Q4_0
      // Each quant word once: its low nibbles are quad j, its high nibbles quad j + 4 (same values as chunk_quad).
      for (var j = 0u; j < 4u; j++) {
        let w = q4_word(h, j);
        s += dot(h.d * (vec4<f32>(nibbles(w, 0u, 0xfu)) - 8.0), X[xo + j]);
        s += dot(h.d * (vec4<f32>(nibbles(w, 4u, 0xfu)) - 8.0), X[xo + 4u + j]);
      }
#else
      for (var i = 0u; i < 8u; i++) { s += dot(chunk_quad(h, i), X[xo + i]); }
#endif
      acc[0] += s;
#else
#if WIDE
      let q = chunk_words(h);
#endif
      for (var i = 0u; i < 8u; i++) {
#if WIDE
        let w = wide_quad(h, q, i);
#else
        let w = chunk_quad(h, i);
#endif
        for (var t = 0u; t < T_TILE; t++) {
          acc[t] += dot(w, X[min(tok0 + t, P.t - 1u) * k4 + c * 8u + i]);
        }
      }
#endif
    }
#if SCALAR
    // Row lengths that are not a multiple of 32 (F32/F16/BF16 only): the tail element by element.
    for (var i = chunks * 32u + lane; i < P.k; i += TPR) {
      let w = dequant_elem(row_byte, i);
      for (var t = 0u; t < T_TILE; t++) {
        if (tok0 + t < P.t) {
          let xi = (tok0 + t) * P.k + i;
          acc[t] += w * X[xi / 4u][xi % 4u];
        }
      }
    }
#endif
  }
#if TPR == 1u
  // A thread has the whole row: no reduction, no barrier.
  if (live) {
    for (var t = 0u; t < T_TILE; t++) {
      if (tok0 + t < P.t) {
        var y = acc[t];
#elif SUBGROUP
  for (var t = 0u; t < T_TILE; t++) {
    for (var o = TPR / 2u; o > 0u; o /= 2u) { acc[t] += subgroupShuffleXor(acc[t], o); }
  }
  if (lane == 0u && live) {
    for (var t = 0u; t < T_TILE; t++) {
      if (tok0 + t < P.t) {
        var y = acc[t];
#else
  for (var t = 0u; t < T_TILE; t++) { partial[t * WG + lid] = acc[t]; }
  workgroupBarrier();
  for (var stride = TPR / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      for (var t = 0u; t < T_TILE; t++) { partial[t * WG + lid] += partial[t * WG + lid + stride]; }
    }
    workgroupBarrier();
  }
  if (lane == 0u && live) {
    for (var t = 0u; t < T_TILE; t++) {
      if (tok0 + t < P.t) {
        var y = partial[t * WG + lid];
#endif
#if BIAS
        y += B[P.first_row + r];
#endif
        let yi = (tok0 + t) * P.y_stride + P.first_row + r;
#if ACCUMULATE
        y += Y[yi];
#endif
        Y[yi] = y;
      }
    }
  }
}
#endif
