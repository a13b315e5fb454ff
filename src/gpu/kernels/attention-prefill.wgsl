// Tiled causal prefill attention over the paged KV cache. The wrapper (attention.ts) supplies:
//   KV_F16, D4  see attention-paged-kv.wgsl
//   KINDS, VD4  see attention-paged-kv.wgsl: under MLA (KINDS 1, one KV head) every query head scores the whole
//               latent row and sums its first VD4 vec4s, read from the staged keys; o rows are VD4 wide
//   GROUP       query heads per KV head (nHeads / nKvHeads)
//   ROWS        query rows = (token, head) pairs per workgroup
//   LANES       threads per row
//   CHUNKS      vec4 of q per thread = ceil(D4 / LANES)
//   ACC_CHUNKS  vec4 of acc per thread = ceil(VD4 / LANES)
//   SPLIT_ROWS  LANES > 1: partial dots meet in workgroup memory
//   KEY_TILE    keys per workgroup-memory tile, 8 or 16
//   SINKS       per-head sink logits (gpt-oss): binding 7, joining the softmax denominator only
#include "paged-kv"

// One workgroup per (kv head, tile of ROWS query rows); row = token * GROUP + g over the call's tokens, so a
// tile holds consecutive tokens x all GROUP heads of the kv head. Thread (row r, lane c) keeps the q and acc
// chunks c, c+LANES, ... of its row in registers. Per KEY_TILE keys: K and V are staged once in workgroup memory
// for all rows; with several lanes per row the partial dots meet in part_s; each row's scores get the causal mask
// (key pos <= row pos) and the online softmax. The tile walks the block table of each distinct sequence among
// its tokens in turn (one pass for a prompt chunk), so tokens of any sequences and positions are correct.
struct Params {
  n_tokens: u32,
  n_kv_heads: u32,
  max_blocks: u32,
  n_tiles: u32,   // row tiles per kv head
  grid_x: u32,
  scale: f32,
  window: u32,    // > 0: a query at pos p sees keys p - window < key <= p only (sliding-window layers)
  softcap: f32,   // > 0: scores become softcap * tanh(score / softcap) (Gemma 2)
};

const W: u32 = ROWS * LANES;
const KT: u32 = KEY_TILE;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;  // (nTokens, nHeads, D4)
// bindings 1-4: pool, block_tables, token_seq, token_pos (attention-paged-kv.wgsl)
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>; // (nTokens, nHeads, VD4)
@group(0) @binding(6) var<uniform> params: Params;
#if SINKS
@group(0) @binding(7) var<storage, read> sinks: array<f32>;  // (nHeads) sink logit per query head, unscaled
#endif

var<workgroup> k_s: array<vec4<f32>, KT * D4>;  // (KT, D4)
#if KINDS == 2u
var<workgroup> v_s: array<vec4<f32>, KT * D4>;  // (KT, D4); under MLA values are the first VD4 vec4s of k_s rows
#endif
#if SPLIT_ROWS
var<workgroup> part_s: array<f32, KT * W>;      // (KT, ROWS, LANES) partial dot products
var<workgroup> s_s: array<f32, ROWS * KT>;      // (ROWS, KT) scores
#endif
var<workgroup> pass_s: vec3<u32>;               // (sequence of this pass, its largest and smallest position in the tile)

@compute @workgroup_size(W)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let wg = wid.x + wid.y * params.grid_x;
  let tile = wg % params.n_tiles;
  let kvh = wg / params.n_tiles;
  if (kvh >= params.n_kv_heads) {
    return;
  }
  let n_heads = params.n_kv_heads * GROUP;
  let n_rows = params.n_tokens * GROUP;
  let r = i / LANES;
  let c = i % LANES;
  let row = tile * ROWS + r;
  let row_ok = row < n_rows;
  let tok = min(row, n_rows - 1u) / GROUP;
  let h = kvh * GROUP + row % GROUP;
  let my_seq = select(NONE, token_seq[tok], row_ok);
  let my_pos = token_pos[tok];
  let tok_begin = tile * ROWS / GROUP;
  let tok_end = min(params.n_tokens, (tile * ROWS + ROWS + GROUP - 1u) / GROUP);

  var qr: array<vec4<f32>, CHUNKS>;
  var acc: array<vec4<f32>, ACC_CHUNKS>;
  for (var k = 0u; k < CHUNKS; k++) {
    let d4 = c + k * LANES;
    if (row_ok && d4 < D4) {
      qr[k] = q[(tok * n_heads + h) * D4 + d4] * params.scale;
    }
  }
  var m = NEG;
  var l = 0.0;

  var seq_floor = 0u;  // passes go through the tile's sequences in increasing id
  loop {
    if (i == 0u) {
      var s = NONE;
      for (var t = tok_begin; t < tok_end; t++) {
        let ts = token_seq[t];
        if (ts >= seq_floor && ts < s) {
          s = ts;
        }
      }
      var max_pos = 0u;
      var min_pos = NONE;
      for (var t = tok_begin; t < tok_end; t++) {
        if (token_seq[t] == s) {
          max_pos = max(max_pos, token_pos[t]);
          min_pos = min(min_pos, token_pos[t]);
        }
      }
      pass_s = vec3<u32>(s, max_pos, min_pos);
    }
    let ps = workgroupUniformLoad(&pass_s);
    if (ps.x == NONE) {
      break;
    }
    seq_floor = ps.x + 1u;
    let in_pass = my_seq == ps.x;
    let n_keys = ps.y + 1u;
    // Sliding window: key tiles wholly before the first key the tile's earliest row sees are skipped.
    let first_tile = select(0u, ps.z + 1u - params.window, params.window > 0u && ps.z + 1u > params.window) / KT * KT;
    let my_first = select(0u, my_pos + 1u - params.window, params.window > 0u && my_pos + 1u > params.window);

    for (var k0 = first_tile; k0 < n_keys; k0 += KT) {
      let phys = block_tables[ps.x * params.max_blocks + k0 / 16u];
      let k_base = block_base(phys, 0u, kvh, params.n_kv_heads) + (k0 % 16u) * D4;
#if KINDS == 2u
      let v_base = block_base(phys, 1u, kvh, params.n_kv_heads) + (k0 % 16u) * D4;
#endif
      let keys = min(KT, n_keys - k0);
      for (var e = i; e < KT * D4; e += W) {
        var kv = vec4<f32>(0.0);
#if KINDS == 2u
        var vv = vec4<f32>(0.0);
#endif
        if (e / D4 < keys) {  // slots past the sequence's last key may hold anything, NaN included
          kv = kv4(k_base + e);
#if KINDS == 2u
          vv = kv4(v_base + e);
#endif
        }
        k_s[e] = kv;
#if KINDS == 2u
        v_s[e] = vv;
#endif
      }
      workgroupBarrier();

      // Scores of this row for the tile's keys (j >= keys: zero K, masked below).
      var sc = array<f32, KT>();
      for (var j = 0u; j < KT; j++) {
        var p = 0.0;
        for (var k = 0u; k < CHUNKS; k++) {
          p += dot(qr[k], k_s[j * D4 + min(c + k * LANES, D4 - 1u)]);
        }
        sc[j] = p;
      }
#if SPLIT_ROWS
      for (var j = 0u; j < KT; j++) {
        part_s[j * W + i] = sc[j];
      }
      workgroupBarrier();
      for (var j = c; j < KT; j += LANES) {
        var s = 0.0;
        for (var cc = 0u; cc < LANES; cc++) {
          s += part_s[j * W + r * LANES + cc];
        }
        s_s[r * KT + j] = s;
      }
      workgroupBarrier();
      for (var j = 0u; j < KT; j++) {
        sc[j] = s_s[r * KT + j];
      }
#endif

      if (params.softcap > 0.0) {
        for (var j = 0u; j < KT; j++) {
          sc[j] = params.softcap * tanh(clamp(sc[j] / params.softcap, -15.0, 15.0));  // WGSL tanh is NaN past |x| ~ 44
        }
      }
      if (in_pass) {
        let visible = min(keys, select(0u, my_pos + 1u - k0, my_pos >= k0));  // causal: keys k0 ..= my_pos
        let lo = select(0u, my_first - k0, my_first > k0);                   // window: keys my_first ..
        var tile_max = NEG;
        for (var j = 0u; j < KT; j++) {
          tile_max = select(tile_max, max(tile_max, sc[j]), j >= lo && j < visible);
        }
        let m_new = max(m, tile_max);
        let alpha = exp(m - m_new);
        l *= alpha;
        for (var k = 0u; k < ACC_CHUNKS; k++) {
          acc[k] *= alpha;
        }
        for (var j = 0u; j < KT; j++) {
          let p = select(0.0, exp(sc[j] - m_new), j >= lo && j < visible);
          l += p;
          for (var k = 0u; k < ACC_CHUNKS; k++) {
#if KINDS == 2u
            acc[k] += p * v_s[j * D4 + min(c + k * LANES, D4 - 1u)];
#else
            acc[k] += p * k_s[j * D4 + min(c + k * LANES, VD4 - 1u)];
#endif
          }
        }
        m = m_new;
      }
      workgroupBarrier();
    }
  }

  if (row_ok) {
#if SINKS
    // exp(sink - M) joins the denominator, M = max(running max, sink) as in ggml's soft_max with sinks.
    let big = max(m, sinks[h]);
    let num = exp(m - big);
    let den = l * num + exp(sinks[h] - big);
#else
    let num = 1.0;  // exact: acc * 1 / l is acc / l
    let den = l;
#endif
    for (var k = 0u; k < ACC_CHUNKS; k++) {
      let d4 = c + k * LANES;
      if (d4 < VD4) {
        o[(tok * n_heads + h) * VD4 + d4] = acc[k] * num / den;
      }
    }
  }
}
