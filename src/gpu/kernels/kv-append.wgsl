// Writes K and V of new tokens into one layer's KV pool through the block table. The wrapper (kv-append.ts)
// supplies:
//   KV_F16      pool holds f16 pairs packed in u32 (pack2x16float), else f32
//   KV_Q8       pool holds q8_0 blocks (quantized here, as ggml's quantize_row_q8_0_ref), else:
//   KV_Q4       pool holds q4_0 blocks (as quantize_row_q4_0_ref), else KV_F16 decides
//   D4          headDim / 4
//   ROW_BLOCKS  (KV_Q8, KV_Q4) blocks per token row: nKvHeads * headDim / 32
//   BLOCK_HALVES (KV_Q8, KV_Q4) half words per block: 17 (34 bytes) or 9 (18 bytes)
//   KINDS       kinds per block: 2 (K, V), or 1 under MLA (the latent row only; v is bound but unread)
// f32/f16: one thread per (token, kv head, vec4 of the head row). Pool layout (src/gpu/kv/layout.ts): vec4 index
// of (block b, kind, head, token, d4) is ((b * KINDS + kind) * nKvHeads + head) * 16 * D4 + token * D4 + d4.
// q8_0/q4_0: one thread per (token, kind, 32-value block j of the token's row). Block index of (b, kind, token, j):
// ((b * KINDS + kind) * 16 + token) * ROW_BLOCKS + j; 34 or 18 bytes each, so a block starts on a half word and shares its
// first or last word with a neighbour another thread (or an earlier step) writes: those words are written with
// atomics on the thread's own 16 bits.

struct Params {
  n_tokens: u32,
  n_kv_heads: u32,
  max_blocks: u32,  // columns of the block table
  grid_x: u32,      // in workgroups
};

@group(0) @binding(0) var<storage, read> k: array<vec4<f32>>;  // (nTokens, nKvHeads, D4), RoPE applied
@group(0) @binding(1) var<storage, read> v: array<vec4<f32>>;  // (nTokens, nKvHeads, D4)
#if KV_Q8 || KV_Q4
@group(0) @binding(2) var<storage, read_write> pool: array<atomic<u32>>;  // one layer's pool of blocks, BLOCK_HALVES half words each
#elif KV_F16
@group(0) @binding(2) var<storage, read_write> pool: array<vec2<u32>>;  // one layer's pool, 4 halves per vec2<u32>
#else
@group(0) @binding(2) var<storage, read_write> pool: array<vec4<f32>>;  // one layer's pool
#endif
@group(0) @binding(3) var<storage, read> block_tables: array<u32>;  // (nSeqs, max_blocks)
@group(0) @binding(4) var<storage, read> token_seq: array<u32>;     // (nTokens)
@group(0) @binding(5) var<storage, read> token_pos: array<u32>;     // (nTokens)
@group(0) @binding(6) var<uniform> params: Params;

#if KV_Q8 || KV_Q4
// C's roundf (halfway cases away from zero), which ggml's reference quantizer uses; WGSL's round() ties to even.
fn roundf(x: f32) -> f32 {
  let t = trunc(x);
  return select(t, t + sign(x), abs(x - t) >= 0.5);
}

// IEEE binary16 bits of x, rounded to nearest even, subnormals included (as ggml's GGML_FP32_TO_FP16; drivers'
// pack2x16float may flush or truncate them, and a scale below 6.1e-5 is a subnormal half).
fn f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let e = i32((b >> 23u) & 0xffu) - 112;  // f16 exponent: f32's, rebiased from 127 to 15
  let m = (b & 0x7fffffu) | 0x800000u;    // with the implicit 1
  if (e >= 31) {
    return sign | select(0x7c00u, 0x7e00u, (b & 0x7fffffu) != 0u && e == 143);  // inf, or NaN
  }
  if (e < -10) {
    return sign;
  }
  let shift = u32(select(13, 14 - e, e <= 0));  // mantissa bits dropped
  let h = select((u32(e) << 10u) | ((m >> 13u) & 0x3ffu), m >> shift, e <= 0);
  let rest = m & ((1u << shift) - 1u);
  let mid = 1u << (shift - 1u);
  return sign | (h + select(0u, 1u, rest > mid || (rest == mid && (h & 1u) == 1u)));
}

// Half word h of the pool (little-endian: even h is a word's low 16 bits) := bits, leaving the other half alone.
fn store_half(h: u32, bits: u32) {
  let shift = (h & 1u) * 16u;
  atomicAnd(&pool[h >> 1u], ~(0xffffu << shift));
  atomicOr(&pool[h >> 1u], bits << shift);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let id = (wid.x + wid.y * params.grid_x) * 64u + i;  // (token, kind, j)
  let j = id % ROW_BLOCKS;
  let kind = (id / ROW_BLOCKS) % KINDS;
  let tok = id / ROW_BLOCKS / KINDS;
  if (tok >= params.n_tokens) {
    return;
  }
  var x: array<f32, 32>;
  var amax = 0.0;
  var largest = 0.0;  // the value of largest magnitude, sign kept (q4_0's scale); the first one on ties
  for (var c = 0u; c < 8u; c++) {
    let at = tok * ROW_BLOCKS * 8u + j * 8u + c;
    let x4 = select(k[at], v[at], kind == 1u);
    for (var e = 0u; e < 4u; e++) {
      x[c * 4u + e] = x4[e];
      if (abs(x4[e]) > amax) {
        amax = abs(x4[e]);
        largest = x4[e];
      }
    }
  }
  // BLOCK_HALVES half words: the f16 scale, then the quantized bytes two by two.
  var hw: array<u32, BLOCK_HALVES>;
#if KV_Q8
  let d = amax / 127.0;  // q = roundf(x / d), as quantize_row_q8_0_ref
  let inv = select(0.0, 1.0 / d, d != 0.0);
  for (var n = 0u; n < 16u; n++) {
    let q0 = u32(i32(roundf(x[2u * n] * inv))) & 0xffu;
    let q1 = u32(i32(roundf(x[2u * n + 1u] * inv))) & 0xffu;
    hw[1u + n] = q0 | (q1 << 8u);
  }
#else
  let d = largest / -8.0;  // q = min(15, trunc(x / d + 8.5)), as quantize_row_q4_0_ref
  let inv = select(0.0, 1.0 / d, d != 0.0);
  for (var n = 0u; n < 8u; n++) {
    var b = vec2<u32>(0u);
    for (var e = 0u; e < 2u; e++) {
      let lo = u32(min(15.0, trunc(x[2u * n + e] * inv + 8.5)));
      let hi = u32(min(15.0, trunc(x[16u + 2u * n + e] * inv + 8.5)));
      b[e] = lo | (hi << 4u);
    }
    hw[1u + n] = b.x | (b.y << 8u);
  }
#endif
  hw[0] = f16_bits(d);

  let pos = token_pos[tok];
  let phys = block_tables[token_seq[tok] * params.max_blocks + pos / 16u];
  let h0 = (((phys * KINDS + kind) * 16u + pos % 16u) * ROW_BLOCKS + j) * BLOCK_HALVES;  // the block's first half word
  // A block at an odd half word owns its first word's high half only, else its last word's low half only.
  let odd = h0 & 1u;
  if (odd == 1u) {
    store_half(h0, hw[0]);
  } else {
    store_half(h0 + BLOCK_HALVES - 1u, hw[BLOCK_HALVES - 1u]);
  }
  for (var n = odd; n < BLOCK_HALVES - 1u + odd; n += 2u) {
    atomicStore(&pool[(h0 + n) >> 1u], hw[n] | (hw[n + 1u] << 16u));
  }
}
#else
#if KV_F16
fn store(i: u32, x: vec4<f32>) {
  pool[i] = vec2<u32>(pack2x16float(x.xy), pack2x16float(x.zw));
}
#else
fn store(i: u32, x: vec4<f32>) {
  pool[i] = x;
}
#endif

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let id = (wid.x + wid.y * params.grid_x) * 64u + i;  // (token, kv head, d4)
  let row = id / D4;
  let tok = row / params.n_kv_heads;
  if (tok >= params.n_tokens) {
    return;
  }
  let head = row % params.n_kv_heads;
  let pos = token_pos[tok];
  let phys = block_tables[token_seq[tok] * params.max_blocks + pos / 16u];
  let slot = (pos % 16u) * D4 + id % D4;
  store(((phys * KINDS) * params.n_kv_heads + head) * 16u * D4 + slot, k[id]);
  let vx = v[id];  // read in both layouts: the binding must stay in the pipeline's layout (MLA binds k here)
  if (KINDS == 2u) {
    store(((phys * KINDS + 1u) * params.n_kv_heads + head) * 16u * D4 + slot, vx);
  }
}
#endif
