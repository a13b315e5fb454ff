// GQA flash-decode over the paged KV cache, split-K: with more than one split each workgroup writes a partial
// (m, l, acc) that attention-merge.wgsl combines. The wrapper (attention.ts) supplies:
//   KV_F16, D4  see attention-paged-kv.wgsl
//   KINDS, V_KIND, VD4  see attention-paged-kv.wgsl: under MLA (one KV head, GROUP = nHeads) every query head
//               scores the whole latent row [latent | k_pe] and sums its first VD4 vec4s; o rows are VD4 wide
//   GROUP       query heads per KV head (nHeads / nKvHeads)
//   HEAD_TILE   query heads per workgroup
//   LANES       threads per key in the score phase
//   SLOTS       key slots in the value phase, SLOTS * VD4 <= 16 * LANES, SLOTS <= KEYS_PER_PHASE
//   KEYS_PER_PHASE  keys per barrier round: 16 (one KV block) or 32 (two consecutive blocks of the split)
//   SINKS       per-head sink logits (gpt-oss): binding 9, joining the softmax denominator only (direct mode)
#include "paged-kv"

// One workgroup per (token, kv head, head tile, split). Each K/V block of the split's range is read once from
// global memory for the HEAD_TILE query heads of the tile; per phase (KEYS_PER_PHASE keys: one or two blocks),
// three barriers and no serial phase:
//   1. thread (key t, lane l) dots K[t] chunks l, l+LANES, ... with every head's q (shared): part_s; with two
//      blocks a phase it does so for key t of each block
//   2. thread (head g, key t) sums its LANES partials: the score
//   3. thread (head g, key t) takes the phase max of head g, its probability p, and (t = 0) the rescale alpha
//   4. thread (slot s, d4 < VD4) rescales acc[head] (registers) by alpha and adds p * V[t][d4] for keys t = s,
//      s+SLOTS, ...; the running sum l rides along in the same threads. Slots are summed after the last phase.
struct Params {
  n_tokens: u32,
  n_kv_heads: u32,
  max_blocks: u32,  // columns of the block table
  n_splits: u32,
  grid_x: u32,
  scale: f32,
  direct: u32,      // 1: one split, write normalized o; 0: write partial (m, l, acc) for the merge pass
  window: u32,      // > 0: a query at pos p sees keys p - window < key <= p only (sliding-window layers)
  softcap: f32,     // > 0: scores become softcap * tanh(score / softcap) (Gemma 2)
};

const W: u32 = 16u * LANES;
const HT: u32 = HEAD_TILE;
const HEAD_TILES: u32 = (GROUP + HEAD_TILE - 1u) / HEAD_TILE;
const PART_STRIDE: u32 = LANES + 1u;  // padded against bank conflicts when a thread sums its lanes
const KEYS: u32 = KEYS_PER_PHASE;
const PHASE_BLOCKS: u32 = KEYS / 16u;

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;  // (nTokens, nHeads, D4)
// bindings 1-4: pool, block_tables, token_seq, token_pos (attention-paged-kv.wgsl)
@group(0) @binding(5) var<storage, read_write> o: array<vec4<f32>>;         // (nTokens, nHeads, VD4), direct
@group(0) @binding(6) var<storage, read_write> part_acc: array<vec4<f32>>;  // (nTokens, nHeads, n_splits, VD4)
@group(0) @binding(7) var<storage, read_write> part_ml: array<vec2<f32>>;   // (nTokens, nHeads, n_splits): m, l
@group(0) @binding(8) var<uniform> params: Params;
#if SINKS
@group(0) @binding(9) var<storage, read> sinks: array<f32>;  // (nHeads) sink logit per query head, unscaled
#endif

var<workgroup> q_s: array<vec4<f32>, HT * D4>;            // (HT, D4), pre-scaled
var<workgroup> part_s: array<f32, HT * KEYS * PART_STRIDE>; // (HT, KEYS, LANES) partial dot products
var<workgroup> score_s: array<f32, HT * KEYS>;              // (HT, KEYS)
var<workgroup> prob_s: array<f32, HT * KEYS>;               // (HT, KEYS)
var<workgroup> alpha_s: array<f32, HT>;                     // rescale of acc and l for this phase
var<workgroup> max_s: array<f32, 2u * HT>;                  // running max, ping-pong by phase parity
var<workgroup> red_s: array<vec4<f32>, W>;                  // (SLOTS, VD4) slot partials of one head's acc
var<workgroup> l_red_s: array<f32, KEYS>;                   // (SLOTS) slot partials of one head's l
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
  // Sliding window: blocks wholly before the first visible key are never read; splits share the rest.
  let first_key = select(0u, n_keys - params.window, params.window > 0u && n_keys > params.window);
  let b_first = first_key / 16u;
  let per_split = (n_blocks - b_first + params.n_splits - 1u) / params.n_splits;
  let b_begin = min(n_blocks, b_first + split * per_split);
  let b_end = min(n_blocks, b_begin + per_split);

  let st = i / LANES;  // phase 1: key in a block
  let sl = i % LANES;  //          lane
  let vt = i / VD4;    // phase 4: key slot (working when < SLOTS)
  let vd = i % VD4;    //          vec4 of the value row
  var acc: array<vec4<f32>, HT>;
  var l: array<f32, HT>;
  var parity = 0u;

  for (var b = b_begin; b < b_end; b += PHASE_BLOCKS) {
    // Keys of the phase: its blocks' keys up to the split's end and the token's last key.
    let keys = min(min(KEYS, (b_end - b) * 16u), n_keys - b * 16u);
    let lo = select(0u, first_key - b * 16u, first_key > b * 16u);  // keys before lo lie outside the window
    var v_base = array<u32, PHASE_BLOCKS>();  // (blocks of the phase) vec4 index of V token 0; = K under MLA

    for (var j = 0u; j < PHASE_BLOCKS; j++) {
      let t = j * 16u + st;  // key of the phase
      // Past the split's last block the table entry may be unset: never read it (keys bounds the loads too).
      var phys = 0u;
      if (b + j < b_end) {
        phys = block_tables[seq * params.max_blocks + b + j];
      }
      v_base[j] = block_base(phys, V_KIND, kvh, params.n_kv_heads);
      let k_base = block_base(phys, 0u, kvh, params.n_kv_heads);
      // A bare `var` in a loop body is not re-zeroed on every iteration by every compiler: initialize explicitly.
      var part = array<f32, HT>();
      if (t < keys) {
        for (var c = sl; c < D4; c += LANES) {
          let k = kv4(k_base + st * D4 + c);
          for (var g = 0u; g < HT; g++) {
            part[g] += dot(q_s[g * D4 + c], k);
          }
        }
      }
      for (var g = 0u; g < HT; g++) {
        part_s[(g * KEYS + t) * PART_STRIDE + sl] = part[g];
      }
    }
    workgroupBarrier();

    for (var e = i; e < HT * KEYS; e += W) {
      var s = 0.0;
      for (var c = 0u; c < LANES; c++) {
        s += part_s[e * PART_STRIDE + c];
      }
      if (params.softcap > 0.0) {
        s = params.softcap * tanh(clamp(s / params.softcap, -15.0, 15.0));  // WGSL tanh is NaN past |x| ~ 44
      }
      score_s[e] = s;
    }
    workgroupBarrier();

    for (var e = i; e < HT * KEYS; e += W) {
      let g = e / KEYS;
      let t = e % KEYS;
      var phase_max = NEG;
      for (var u = lo; u < keys; u++) {
        phase_max = max(phase_max, score_s[g * KEYS + u]);
      }
      let m_old = max_s[parity * HT + g];
      let m_new = max(m_old, phase_max);
      prob_s[e] = select(0.0, exp(score_s[e] - m_new), t >= lo && t < keys);
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
        let v = kv4(v_base[t / 16u] + (t % 16u) * D4 + vd);
        for (var g = 0u; g < HT; g++) {
          let p = prob_s[g * KEYS + t];
          acc[g] += p * v;
          l[g] += p;
        }
      }
    }
    // The next phase's first barrier separates these reads of prob_s / alpha_s from their next writes.
  }

  for (var g = 0u; g < HT; g++) {
    if (vt < SLOTS) {
      red_s[vt * VD4 + vd] = acc[g];
      if (vd == 0u) {
        l_red_s[vt] = l[g];
      }
    }
    workgroupBarrier();
    if (i < VD4 && g < heads) {
      var sum = red_s[i];
      var l_sum = l_red_s[0];
      for (var s = 1u; s < SLOTS; s++) {
        sum += red_s[s * VD4 + i];
        l_sum += l_red_s[s];
      }
      let row = tok * n_heads + h0 + g;
      if (params.direct != 0u) {
#if SINKS
        // exp(sink - M) joins the denominator, M = max(running max, sink) as in ggml's soft_max with sinks.
        let m = max_s[parity * HT + g];
        let big = max(m, sinks[h0 + g]);
        let r = exp(m - big);
        o[row * VD4 + i] = sum * r / (l_sum * r + exp(sinks[h0 + g] - big));
#else
        o[row * VD4 + i] = sum / l_sum;
#endif
      } else {
        part_acc[(row * params.n_splits + split) * VD4 + i] = sum;
        if (i == 0u) {
          part_ml[row * params.n_splits + split] = vec2<f32>(max_s[parity * HT + g], l_sum);
        }
      }
    }
    workgroupBarrier();
  }
}
