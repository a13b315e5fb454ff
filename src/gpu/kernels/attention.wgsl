// Attention over the paged KV cache: GQA flash-decode with split-K and its merge, tiled causal prefill, and the
// naive three-pass baseline. One source, one entry point per VARIANT; the wrapper (attention.ts) supplies:
//   VARIANT     decode | merge | prefill | naive_scores | naive_softmax | naive_sum
//   POOL        the variant reads the KV pool (binding `pool`)
//   KV_F16      pool holds f16 pairs packed in u32 (pack2x16float), else f32
//   D4          headDim / 4 (head rows are read as vec4)
//   GROUP       query heads per KV head (nHeads / nKvHeads)
//   decode:  HEAD_TILE (query heads per workgroup), LANES (threads per key in the score phase),
//            SLOTS (key slots in the value phase, SLOTS * D4 <= 16 * LANES)
//   prefill: ROWS (query rows = (token, head) pairs per workgroup), LANES (threads per row), CHUNKS
//            (vec4 per thread = ceil(D4 / LANES)), SPLIT_ROWS (LANES > 1: partial dots meet in workgroup memory),
//            KEY_TILE (keys per workgroup-memory tile, 8 or 16)
//
// Pool layout (src/gpu/kv/layout.ts), per layer, in elements: block b at b * 2 * nKvHeads * 16 * headDim, then
// K (nKvHeads, 16, headDim), then V (nKvHeads, 16, headDim). vec4 index of (b, kind, head, token, d4):
//   ((b * 2 + kind) * nKvHeads + head) * 16 * D4 + token * D4 + d4

// Below every real score: the running max of a row that has seen no key yet.
const NEG: f32 = -3.0e38;

#if POOL
#if KV_F16
fn kv4(i: u32) -> vec4<f32> {
  let w = pool[i];
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}
#else
fn kv4(i: u32) -> vec4<f32> {
  return pool[i];
}
#endif

// vec4 index of token 0, dim 0 of K (kind 0) or V (kind 1) of `head` in physical block `b`.
fn block_base(b: u32, kind: u32, head: u32, n_kv_heads: u32) -> u32 {
  return ((b * 2u + kind) * n_kv_heads + head) * 16u * D4;
}
#endif

#if VARIANT == decode
// One workgroup per (token, kv head, head tile, split). Each K/V block of the split's range is read once from
// global memory for the HEAD_TILE query heads of the tile; per block, three barriers and no serial phase:
//   1. thread (key t, lane l) dots K[t] chunks l, l+LANES, ... with every head's q (shared): part_s
//   2. thread (head g, key t) sums its LANES partials: the score
//   3. thread (head g, key t) takes the block max of head g, its probability p, and (t = 0) the rescale alpha
//   4. thread (slot s, d4) rescales acc[head] (registers) by alpha and adds p * V[t][d4] for keys t = s,
//      s+SLOTS, ...; the running sum l rides along in the same threads. Slots are summed after the last block.
struct Params {
  n_tokens: u32,
  n_kv_heads: u32,
  max_blocks: u32,  // columns of the block table
  n_splits: u32,
  grid_x: u32,
  scale: f32,
  direct: u32,      // 1: one split, write normalized o; 0: write partial (m, l, acc) for the merge pass
};

const W: u32 = 16u * LANES;
const HT: u32 = HEAD_TILE;
const HEAD_TILES: u32 = (GROUP + HEAD_TILE - 1u) / HEAD_TILE;
const PART_STRIDE: u32 = LANES + 1u;  // padded against bank conflicts when a thread sums its lanes

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;  // (nTokens, nHeads, D4)
#if KV_F16
@group(0) @binding(1) var<storage, read> pool: array<vec2<u32>>;  // one layer's pool, 4 halves per vec2<u32>
#else
@group(0) @binding(1) var<storage, read> pool: array<vec4<f32>>;  // one layer's pool
#endif
@group(0) @binding(2) var<storage, read> block_tables: array<u32>;  // (nSeqs, max_blocks)
@group(0) @binding(3) var<storage, read> token_seq: array<u32>;     // (nTokens)
@group(0) @binding(4) var<storage, read> token_pos: array<u32>;     // (nTokens)
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>;         // (nTokens, nHeads, D4), direct
@group(0) @binding(6) var<storage, read_write> part_acc: array<vec4<f32>>;  // (nTokens, nHeads, n_splits, D4)
@group(0) @binding(7) var<storage, read_write> part_ml: array<vec2<f32>>;   // (nTokens, nHeads, n_splits): m, l
@group(0) @binding(8) var<uniform> params: Params;

var<workgroup> q_s: array<vec4<f32>, HT * D4>;            // (HT, D4), pre-scaled
var<workgroup> part_s: array<f32, HT * 16u * PART_STRIDE>; // (HT, 16 keys, LANES) partial dot products
var<workgroup> score_s: array<f32, HT * 16u>;              // (HT, 16 keys)
var<workgroup> prob_s: array<f32, HT * 16u>;               // (HT, 16 keys)
var<workgroup> alpha_s: array<f32, HT>;                    // rescale of acc and l for this block
var<workgroup> max_s: array<f32, 2u * HT>;                 // running max, ping-pong by block parity
var<workgroup> red_s: array<vec4<f32>, W>;                 // (SLOTS, D4) slot partials of one head's acc
var<workgroup> l_red_s: array<f32, 16u>;                   // (SLOTS) slot partials of one head's l
var<workgroup> tok_s: vec2<u32>;                           // (seq, pos) of this workgroup's token

@compute @workgroup_size(W)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let wg = wid.x + wid.y * params.grid_x;
  let split = wg % params.n_splits;
  let rest = wg / params.n_splits;
  let tile = rest % HEAD_TILES;
  let kvh = (rest / HEAD_TILES) % params.n_kv_heads;
  let tok = rest / HEAD_TILES / params.n_kv_heads;
  if (tok >= params.n_tokens) {
    return;
  }
  let n_heads = params.n_kv_heads * GROUP;
  let h0 = kvh * GROUP + tile * HT;          // first query head of the tile
  let heads = min(HT, GROUP - tile * HT);    // query heads of the tile that exist

  if (i == 0u) {
    tok_s = vec2<u32>(token_seq[tok], token_pos[tok]);
  }
  if (i < HT) {
    max_s[i] = NEG;
  }
  for (var e = i; e < HT * D4; e += W) {
    let g = e / D4;
    var v = vec4<f32>(0.0);
    if (g < heads) {
      v = q[(tok * n_heads + h0 + g) * D4 + e % D4] * params.scale;
    }
    q_s[e] = v;
  }
  let sp = workgroupUniformLoad(&tok_s);  // also orders q_s and max_s before their first use
  let seq = sp.x;
  let n_keys = sp.y + 1u;
  let n_blocks = (n_keys + 15u) / 16u;
  let per_split = (n_blocks + params.n_splits - 1u) / params.n_splits;
  let b_begin = min(n_blocks, split * per_split);
  let b_end = min(n_blocks, b_begin + per_split);

  let st = i / LANES;  // phase 1: key in block
  let sl = i % LANES;  //          lane
  let vt = i / D4;     // phase 4: key slot (working when < SLOTS)
  let vd = i % D4;     //          vec4 of the head row
  var acc: array<vec4<f32>, HT>;
  var l: array<f32, HT>;
  var parity = 0u;

  for (var b = b_begin; b < b_end; b++) {
    let phys = block_tables[seq * params.max_blocks + b];
    let keys = min(16u, n_keys - b * 16u);
    let k_base = block_base(phys, 0u, kvh, params.n_kv_heads);
    let v_base = block_base(phys, 1u, kvh, params.n_kv_heads);

    // A bare `var` in a loop body is not re-zeroed on every iteration by every compiler: initialize explicitly.
    var part = array<f32, HT>();
    if (st < keys) {
      for (var c = sl; c < D4; c += LANES) {
        let k = kv4(k_base + st * D4 + c);
        for (var g = 0u; g < HT; g++) {
          part[g] += dot(q_s[g * D4 + c], k);
        }
      }
    }
    for (var g = 0u; g < HT; g++) {
      part_s[(g * 16u + st) * PART_STRIDE + sl] = part[g];
    }
    workgroupBarrier();

    for (var e = i; e < HT * 16u; e += W) {
      var s = 0.0;
      for (var c = 0u; c < LANES; c++) {
        s += part_s[e * PART_STRIDE + c];
      }
      score_s[e] = s;
    }
    workgroupBarrier();

    for (var e = i; e < HT * 16u; e += W) {
      let g = e / 16u;
      let t = e % 16u;
      var block_max = NEG;
      for (var u = 0u; u < keys; u++) {
        block_max = max(block_max, score_s[g * 16u + u]);
      }
      let m_old = max_s[parity * HT + g];
      let m_new = max(m_old, block_max);
      prob_s[e] = select(0.0, exp(score_s[e] - m_new), t < keys);
      if (t == 0u) {
        alpha_s[g] = exp(m_old - m_new);
        max_s[(1u - parity) * HT + g] = m_new;
      }
    }
    parity = 1u - parity;
    workgroupBarrier();

    if (vt < SLOTS) {
      for (var g = 0u; g < HT; g++) {
        acc[g] *= alpha_s[g];
        l[g] *= alpha_s[g];
      }
      for (var t = vt; t < keys; t += SLOTS) {
        let v = kv4(v_base + t * D4 + vd);
        for (var g = 0u; g < HT; g++) {
          let p = prob_s[g * 16u + t];
          acc[g] += p * v;
          l[g] += p;
        }
      }
    }
    // The next block's first barrier separates these reads of prob_s / alpha_s from their next writes.
  }

  for (var g = 0u; g < HT; g++) {
    if (vt < SLOTS) {
      red_s[vt * D4 + vd] = acc[g];
      if (vd == 0u) {
        l_red_s[vt] = l[g];
      }
    }
    workgroupBarrier();
    if (i < D4 && g < heads) {
      var sum = red_s[i];
      var l_sum = l_red_s[0];
      for (var s = 1u; s < SLOTS; s++) {
        sum += red_s[s * D4 + i];
        l_sum += l_red_s[s];
      }
      let row = tok * n_heads + h0 + g;
      if (params.direct != 0u) {
        o[row * D4 + i] = sum / l_sum;
      } else {
        part_acc[(row * params.n_splits + split) * D4 + i] = sum;
        if (i == 0u) {
          part_ml[row * params.n_splits + split] = vec2<f32>(max_s[parity * HT + g], l_sum);
        }
      }
    }
    workgroupBarrier();
  }
}
#endif

#if VARIANT == merge
// One thread per (token, head, vec4 of the row): combines the splits' (m, l, acc) into the normalized output.
// An empty split has m = NEG, l = 0, acc = 0 and weighs exp(NEG - M) = 0.
struct Params {
  n_rows: u32,    // nTokens * nHeads
  n_splits: u32,
  grid_x: u32,    // in workgroups
};

@group(0) @binding(0) var<storage, read> part_acc: array<vec4<f32>>;  // (rows, n_splits, D4)
@group(0) @binding(1) var<storage, read> part_ml: array<vec2<f32>>;   // (rows, n_splits)
@group(0) @binding(2) var<storage, read_write> o: array<vec4<f32>>;   // (rows, D4)
@group(0) @binding(3) var<uniform> params: Params;

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
  o[row * D4 + d4] = acc / l;
}
#endif

#if VARIANT == prefill
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
};

const W: u32 = ROWS * LANES;
const KT: u32 = KEY_TILE;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;  // (nTokens, nHeads, D4)
#if KV_F16
@group(0) @binding(1) var<storage, read> pool: array<vec2<u32>>;
#else
@group(0) @binding(1) var<storage, read> pool: array<vec4<f32>>;
#endif
@group(0) @binding(2) var<storage, read> block_tables: array<u32>;  // (nSeqs, max_blocks)
@group(0) @binding(3) var<storage, read> token_seq: array<u32>;     // (nTokens)
@group(0) @binding(4) var<storage, read> token_pos: array<u32>;     // (nTokens)
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>; // (nTokens, nHeads, D4)
@group(0) @binding(6) var<uniform> params: Params;

var<workgroup> k_s: array<vec4<f32>, KT * D4>;  // (KT, D4)
var<workgroup> v_s: array<vec4<f32>, KT * D4>;  // (KT, D4)
#if SPLIT_ROWS
var<workgroup> part_s: array<f32, KT * W>;      // (KT, ROWS, LANES) partial dot products
var<workgroup> s_s: array<f32, ROWS * KT>;      // (ROWS, KT) scores
#endif
var<workgroup> pass_s: vec2<u32>;               // (sequence of this pass, its largest position in the tile)

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
  var acc: array<vec4<f32>, CHUNKS>;
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
      for (var t = tok_begin; t < tok_end; t++) {
        if (token_seq[t] == s) {
          max_pos = max(max_pos, token_pos[t]);
        }
      }
      pass_s = vec2<u32>(s, max_pos);
    }
    let ps = workgroupUniformLoad(&pass_s);
    if (ps.x == NONE) {
      break;
    }
    seq_floor = ps.x + 1u;
    let in_pass = my_seq == ps.x;
    let n_keys = ps.y + 1u;

    for (var k0 = 0u; k0 < n_keys; k0 += KT) {
      let phys = block_tables[ps.x * params.max_blocks + k0 / 16u];
      let k_base = block_base(phys, 0u, kvh, params.n_kv_heads) + (k0 % 16u) * D4;
      let v_base = block_base(phys, 1u, kvh, params.n_kv_heads) + (k0 % 16u) * D4;
      let keys = min(KT, n_keys - k0);
      for (var e = i; e < KT * D4; e += W) {
        var kv = vec4<f32>(0.0);
        var vv = vec4<f32>(0.0);
        if (e / D4 < keys) {  // slots past the sequence's last key may hold anything, NaN included
          kv = kv4(k_base + e);
          vv = kv4(v_base + e);
        }
        k_s[e] = kv;
        v_s[e] = vv;
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

      if (in_pass) {
        let visible = min(keys, select(0u, my_pos + 1u - k0, my_pos >= k0));  // causal: keys k0 ..= my_pos
        var tile_max = NEG;
        for (var j = 0u; j < KT; j++) {
          tile_max = select(tile_max, max(tile_max, sc[j]), j < visible);
        }
        let m_new = max(m, tile_max);
        let alpha = exp(m - m_new);
        l *= alpha;
        for (var k = 0u; k < CHUNKS; k++) {
          acc[k] *= alpha;
        }
        for (var j = 0u; j < KT; j++) {
          let p = select(0.0, exp(sc[j] - m_new), j < visible);
          l += p;
          for (var k = 0u; k < CHUNKS; k++) {
            acc[k] += p * v_s[j * D4 + min(c + k * LANES, D4 - 1u)];
          }
        }
        m = m_new;
      }
      workgroupBarrier();
    }
  }

  if (row_ok) {
    for (var k = 0u; k < CHUNKS; k++) {
      let d4 = c + k * LANES;
      if (d4 < D4) {
        o[(tok * n_heads + h) * D4 + d4] = acc[k] / l;
      }
    }
  }
}
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
#if KV_F16
@group(0) @binding(1) var<storage, read> pool: array<vec2<u32>>;
#else
@group(0) @binding(1) var<storage, read> pool: array<vec4<f32>>;
#endif
@group(0) @binding(2) var<storage, read> block_tables: array<u32>;  // (nSeqs, max_blocks)
@group(0) @binding(3) var<storage, read> token_seq: array<u32>;     // (nTokens)
@group(0) @binding(4) var<storage, read> token_pos: array<u32>;     // (nTokens)
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
// Baseline pass 3: one thread per (token, head, vec4 of the row): o = sum_j p_j V_j.
struct Params {
  n_tokens: u32,
  n_kv_heads: u32,
  max_blocks: u32,
  ctx_stride: u32,
  grid_x: u32,
};

#if KV_F16
@group(0) @binding(0) var<storage, read> pool: array<vec2<u32>>;
#else
@group(0) @binding(0) var<storage, read> pool: array<vec4<f32>>;
#endif
@group(0) @binding(1) var<storage, read> block_tables: array<u32>;  // (nSeqs, max_blocks)
@group(0) @binding(2) var<storage, read> token_seq: array<u32>;     // (nTokens)
@group(0) @binding(3) var<storage, read> token_pos: array<u32>;     // (nTokens)
@group(0) @binding(4) var<storage, read> scores: array<f32>;        // (nTokens, nHeads, ctx_stride)
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>; // (nTokens, nHeads, D4)
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let id = (wid.x + wid.y * params.grid_x) * 64u + i;
  let n_heads = params.n_kv_heads * GROUP;
  let th = id / D4;
  let d4 = id % D4;
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
    acc += scores[th * params.ctx_stride + j] * kv4(block_base(phys, 1u, kvh, params.n_kv_heads) + (j % 16u) * D4 + d4);
  }
  o[th * D4 + d4] = acc;
}
#endif
