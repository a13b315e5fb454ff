// Token sampling for S sequences: one workgroup of 256 invocations per sequence (workgroup_id.x = sequence).
// The algorithm, step for step, is src/gpu/engine/sampler-cpu.ts: integer weights and integer sums make the
// result independent of the reduction order, so the GPU picks exactly the CPU reference's token.
//
// Passes over the row (vocab reads each): 1 argmax (greedy stops here), 4 top-k radix-select passes (token
// counts per 8-bit digit of the key), 4 top-p radix-select passes (weight per digit), then the inverse-CDF draw:
// 256 contiguous chunk sums, a scan, and the same again inside the chosen chunk until one token is left.
//
// Defines: RECENT_MAX (u32 literal), PARAM_WORDS (u32 literal: 16 + RECENT_MAX).

@group(0) @binding(0) var<storage, read> logits: array<f32>;       // (S, vocab)
@group(0) @binding(1) var<storage, read> params: array<u32>;       // (S, PARAM_WORDS): Header, then recent tokens
@group(0) @binding(2) var<storage, read> exp2_table: array<u32>;   // (257,) round(2^31 * 2^(-k/256))
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>; // (S,) the sampled token ids

const WG: u32 = 256u;
const HEADER_WORDS: u32 = 16u;
const WEIGHT_ONE: u32 = 0x80000000u;
const BLOOM_BITS: u32 = 16384u;

// The first 16 words of a sequence's params; the wrapper (sampling.ts) writes them in this order.
struct Header {
  greedy: u32,
  top_k: u32,        // 0 = disabled
  top_p_fixed: u32,  // round(top_p * 2^24); 0 = disabled
  min_p_weight: u32, // smallest weight kept; 0 = disabled
  temp_scale: u32,   // f32 bits: log2(e) / temperature
  penalty: u32,      // f32 bits
  inv_penalty: u32,  // f32 bits
  seed: u32,
  step: u32,
  n_recent: u32,     // <= RECENT_MAX
  vocab: u32,        // the same in every sequence: the row length of `logits`
  pad0: u32, pad1: u32, pad2: u32, pad3: u32, pad4: u32,
}

// What a scan's search found: the entry that holds the goal, the goal's remainder inside it, the entry's size.
struct Found {
  index: u32,
  rem: vec2<u32>,
  size: vec2<u32>,
}

var<workgroup> hdr: Header;
var<workgroup> table: array<u32, 257>;
var<workgroup> recent_tok: array<u32, RECENT_MAX>;
var<workgroup> recent_bits: array<u32, RECENT_MAX>;      // penalized canonical logit bits of recent_tok
var<workgroup> bloom: array<u32, 512>;                     // bit (token % 16384) set for recent tokens
var<workgroup> scan_lo: array<u32, WG>;                    // u64 scratch: reductions and scans
var<workgroup> scan_hi: array<u32, WG>;
var<workgroup> run_lo: array<u32, 16>;                    // inclusive_scan's run offsets
var<workgroup> run_hi: array<u32, 16>;
var<workgroup> hist_lo: array<atomic<u32>, WG>;            // radix histogram, bin b at position 255 - b
var<workgroup> hist_hi: array<atomic<u32>, WG>;            // carries of hist_lo (weights need 49 bits)
var<workgroup> found: Found;

// ---- u64 as vec2(lo, hi)

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

fn less64(a: vec2<u32>, b: vec2<u32>) -> bool {
  return a.y < b.y || (a.y == b.y && a.x < b.x);
}

// The 64-bit product of two u32, from 16-bit halves.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>((p00 & 0xffffu) | (mid << 16u), a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

// floor(z * r / 2^24) for z < 2^56, r <= 2^24, through a 96-bit product.
fn mul_shr24(z: vec2<u32>, r: u32) -> vec2<u32> {
  let low = mul_wide(z.x, r);
  let high = mul_wide(z.y, r);
  let w1 = low.y + high.x;
  let w2 = high.y + select(0u, 1u, w1 < low.y);
  return vec2<u32>((low.x >> 24u) | (w1 << 8u), (w1 >> 24u) | (w2 << 8u));
}

// ---- values

// NaN → -inf, -0 → +0.
fn canonical(bits: u32) -> u32 {
  if ((bits & 0x7fffffffu) > 0x7f800000u) { return 0xff800000u; }
  return select(bits, 0u, bits == 0x80000000u);
}

fn order_key(bits: u32) -> u32 {
  return select(bits ^ 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn key_bits(key: u32) -> u32 {
  return select(~key, key ^ 0x80000000u, (key & 0x80000000u) != 0u);
}

// Canonical logit bits of token i after the repetition penalty. The penalized values were rounded and stored
// in workgroup memory, so no later subtraction can be fused with their multiply. The load comes first and
// unconditionally, so that a compiler unrolling the callers' loops can issue several loads at once.
fn value_bits(row: u32, i: u32, n_recent: u32) -> u32 {
  let raw = canonical(bitcast<u32>(logits[row + i]));
  let b = i % BLOOM_BITS;
  if ((bloom[b >> 5u] & (1u << (b & 31u))) != 0u) {
    for (var q = 0u; q < n_recent; q++) {
      if (recent_tok[q] == i) { return recent_bits[q]; }
    }
  }
  return raw;
}

// Fixed-point exp((v - vmax) / T) in [0, 2^31]; see samplingWeight in sampler-cpu.ts.
fn weight(bits: u32, max_bits: u32, vmax: f32, temp_scale: f32) -> u32 {
  if (bits == max_bits) { return WEIGHT_ONE; }
  let d = vmax - bitcast<f32>(bits);
  let e = d * temp_scale;
  if (!(e < 31.0)) { return 0u; }
  let fx = u32(e * 65536.0);
  let j = fx & 0xffffu;
  let t0 = table[j >> 8u];
  let t1 = table[(j >> 8u) + 1u];
  return (t0 - (((t0 - t1) * (j & 0xffu)) >> 8u)) >> (fx >> 16u);
}

fn pcg_hash(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// ---- workgroup scans over scan_lo/scan_hi (256 u64 entries)

// In place inclusive prefix sums, in three barriers: 16 invocations each scan a run of 16 entries, one scans the
// 16 run totals, then every invocation adds its run's offset.
fn inclusive_scan(lid: u32) {
  if (lid < 16u) {
    var s = vec2<u32>(0u, 0u);
    for (var j = lid * 16u; j < lid * 16u + 16u; j++) {
      s = add64(s, vec2<u32>(scan_lo[j], scan_hi[j]));
      scan_lo[j] = s.x;
      scan_hi[j] = s.y;
    }
    run_lo[lid] = s.x;
    run_hi[lid] = s.y;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var s = vec2<u32>(0u, 0u);
    for (var j = 0u; j < 16u; j++) {
      let run = vec2<u32>(run_lo[j], run_hi[j]);
      run_lo[j] = s.x;
      run_hi[j] = s.y;
      s = add64(s, run);
    }
  }
  workgroupBarrier();
  let run = lid / 16u;
  if (run != 0u) {
    let s = add64(vec2<u32>(scan_lo[lid], scan_hi[lid]), vec2<u32>(run_lo[run], run_hi[run]));
    scan_lo[lid] = s.x;
    scan_hi[lid] = s.y;
  }
  workgroupBarrier();
}

// After inclusive_scan: the entry p with prefix(p - 1) <= t < prefix(p). The caller
// guarantees t < prefix(255), so exactly one invocation writes.
fn locate(lid: u32, t: vec2<u32>) -> Found {
  let incl = vec2<u32>(scan_lo[lid], scan_hi[lid]);
  var excl = vec2<u32>(0u, 0u);
  if (lid > 0u) { excl = vec2<u32>(scan_lo[lid - 1u], scan_hi[lid - 1u]); }
  if (!less64(t, excl) && less64(t, incl)) { found = Found(lid, sub64(t, excl), sub64(incl, excl)); }
  return workgroupUniformLoad(&found);
}

// Loads the histogram into the scan scratch (bins in descending order) and scans it.
fn scan_histogram(lid: u32) {
  scan_lo[lid] = atomicLoad(&hist_lo[lid]);
  scan_hi[lid] = atomicLoad(&hist_hi[lid]);
  workgroupBarrier();
  inclusive_scan(lid);
}

fn clear_histogram(lid: u32) {
  atomicStore(&hist_lo[lid], 0u);
  atomicStore(&hist_hi[lid], 0u);
}

// Keys whose bits above the current digit match the prefix found so far: masks for digits at 24, 16, 8, 0.
fn digit_mask(digit: u32) -> u32 {
  return select(0xffffffffu << (32u - 8u * digit), 0u, digit == 0u);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let seq = wid.x;
  let pbase = seq * PARAM_WORDS;
  if (lid == 0u) {
    hdr = Header(params[pbase], params[pbase + 1u], params[pbase + 2u], params[pbase + 3u], params[pbase + 4u],
                 params[pbase + 5u], params[pbase + 6u], params[pbase + 7u], params[pbase + 8u], params[pbase + 9u],
                 params[pbase + 10u], 0u, 0u, 0u, 0u, 0u);
  }
  for (var k = lid; k < 257u; k += WG) { table[k] = exp2_table[k]; }
  let h = workgroupUniformLoad(&hdr);
  let vocab = h.vocab;
  let row = seq * vocab;
  let n_recent = min(h.n_recent, RECENT_MAX);

  // Repetition penalty: the penalized value of each recent token, and a bloom filter that lets the other
  // tokens skip the search. Duplicates in the window write the same value, so "distinct" comes for free.
  for (var q = lid; q < n_recent; q += WG) {
    let t = params[pbase + HEADER_WORDS + q];
    recent_tok[q] = t;
    let l = bitcast<f32>(canonical(bitcast<u32>(logits[row + t])));
    let p = select(l * bitcast<f32>(h.penalty), l * bitcast<f32>(h.inv_penalty), l > 0.0);
    recent_bits[q] = canonical(bitcast<u32>(p));
  }
  workgroupBarrier();
  for (var w = lid; w < 512u; w += WG) {
    var word = 0u;
    for (var q = 0u; q < n_recent; q++) {
      let b = recent_tok[q] % BLOOM_BITS;
      if ((b >> 5u) == w) { word |= 1u << (b & 31u); }
    }
    bloom[w] = word;
  }
  workgroupBarrier();

  // Argmax, lowest id on ties: each invocation scans ids in increasing order and keeps the first best.
  var best_key = 0u; // below every canonical key
  var best_id = 0u;
  for (var i = lid; i < vocab; i += WG) {
    let key = order_key(value_bits(row, i, n_recent));
    if (key > best_key) { best_key = key; best_id = i; }
  }
  scan_lo[lid] = best_key;
  scan_hi[lid] = best_id;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let k2 = scan_lo[lid + s];
      let i2 = scan_hi[lid + s];
      if (k2 > scan_lo[lid] || (k2 == scan_lo[lid] && i2 < scan_hi[lid])) {
        scan_lo[lid] = k2;
        scan_hi[lid] = i2;
      }
    }
    workgroupBarrier();
  }
  let max_key = scan_lo[0];
  let argmax = scan_hi[0];
  if (h.greedy != 0u) {
    if (lid == 0u) { tokens[seq] = argmax; }
    return;
  }
  workgroupBarrier(); // everyone has read scan_lo[0] before the scratch is reused
  let max_bits = key_bits(max_key);
  let vmax = bitcast<f32>(max_bits);
  let temp_scale = bitcast<f32>(h.temp_scale);

  // Top-k: the k-th largest key, by radix select on 8-bit digits from the top. `t` counts the tokens still to
  // be taken below the prefix fixed so far, minus one.
  var thr_k = 0u;
  if (h.top_k != 0u && h.top_k < vocab) {
    var t = vec2<u32>(h.top_k - 1u, 0u);
    for (var digit = 0u; digit < 4u; digit++) {
      let shift = 24u - 8u * digit;
      let mask = digit_mask(digit);
      clear_histogram(lid);
      workgroupBarrier();
      for (var i = lid; i < vocab; i += WG) {
        let key = order_key(value_bits(row, i, n_recent));
        if ((key & mask) == thr_k) { atomicAdd(&hist_lo[255u - ((key >> shift) & 0xffu)], 1u); }
      }
      workgroupBarrier();
      scan_histogram(lid);
      let f = locate(lid, t);
      let bin = 255u - f.index;
      thr_k |= bin << shift;
      t = f.rem;
      // The whole bin is needed: {key >= thr_k} already holds exactly k tokens.
      if (t.x + 1u == f.size.x) { break; }
    }
  }

  // Top-p: the largest key τ whose set {key >= τ, key >= thr_k} holds max(1, floor(Z_k * p)) of weight, by the
  // same radix select over weights; Z_k comes from the first digit's total.
  var thr_p = 0u;
  if (h.top_p_fixed != 0u) {
    var t = vec2<u32>(0u, 0u);
    for (var digit = 0u; digit < 4u; digit++) {
      let shift = 24u - 8u * digit;
      let mask = digit_mask(digit);
      clear_histogram(lid);
      workgroupBarrier();
      for (var i = lid; i < vocab; i += WG) {
        let bits = value_bits(row, i, n_recent);
        let key = order_key(bits);
        if ((key & mask) == thr_p && key >= thr_k) {
          let w = weight(bits, max_bits, vmax, temp_scale);
          if (w != 0u) {
            let pos = 255u - ((key >> shift) & 0xffu);
            let old = atomicAdd(&hist_lo[pos], w);
            if (old + w < old) { atomicAdd(&hist_hi[pos], 1u); }
          }
        }
      }
      workgroupBarrier();
      scan_histogram(lid);
      if (digit == 0u) {
        let goal = mul_shr24(vec2<u32>(scan_lo[WG - 1u], scan_hi[WG - 1u]), h.top_p_fixed);
        t = select(sub64(goal, vec2<u32>(1u, 0u)), vec2<u32>(0u, 0u), goal.x == 0u && goal.y == 0u);
      }
      let f = locate(lid, t);
      thr_p |= (255u - f.index) << shift;
      t = f.rem;
    }
  }

  // Inverse CDF in token-id order over the kept tokens: split the range into 256 contiguous chunks, find the
  // chunk whose cumulative weight passes the goal, and repeat inside it until the chunk is one token.
  let thr = max(thr_k, thr_p);
  let r = pcg_hash(pcg_hash(h.seed) + h.step) >> 8u;
  var base = 0u;
  var len = vocab;
  var goal = vec2<u32>(0u, 0u);
  var level = 0u;
  loop {
    let chunk = (len + WG - 1u) / WG;
    let lo = base + lid * chunk;
    let hi = min(lo + chunk, base + len);
    var sum = vec2<u32>(0u, 0u);
    for (var i = lo; i < hi; i++) {
      let bits = value_bits(row, i, n_recent);
      if (order_key(bits) >= thr) {
        let w = weight(bits, max_bits, vmax, temp_scale);
        if (w >= h.min_p_weight) { sum = add64(sum, vec2<u32>(w, 0u)); }
      }
    }
    scan_lo[lid] = sum.x;
    scan_hi[lid] = sum.y;
    workgroupBarrier();
    inclusive_scan(lid);
    if (level == 0u) { goal = mul_shr24(vec2<u32>(scan_lo[WG - 1u], scan_hi[WG - 1u]), r); }
    let f = locate(lid, goal);
    let end = base + len;
    base += f.index * chunk;
    len = min(chunk, end - base);
    goal = f.rem;
    level++;
    if (chunk == 1u) { break; }
  }
  if (lid == 0u) { tokens[seq] = base; }
}
