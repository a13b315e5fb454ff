// GGUF block decoding in registers, shared by every kernel that reads weights (matmul, embedding lookup).
// The includer declares `W: array<u32>` holding a tensor's raw GGUF bytes (rows back to back) and defines WTYPE.
// A row is read in chunks of 32 elements: `chunk_header(row_byte, c)` loads the chunk's scales once, and
// `chunk_quad(h, i)` decodes elements 4i..4i+3 of it (i < 8) with ggml's own arithmetic (dequantize_row_*),
// in straight-line code: no per-thread arrays, which GPU and CPU compilers alike turn into slow local memory.

// Little-endian loads at any byte offset (buffers are padded by at least one word past the last tensor byte).
fn ld_u32(o: u32) -> u32 {
  let w = o >> 2u;
  let s = (o & 3u) * 8u;
  if (s == 0u) { return W[w]; }
  return (W[w] >> s) | (W[w + 1u] << (32u - s));
}
// 2-byte aligned offsets only (every f16 field of every supported block is).
fn ld_u16(o: u32) -> u32 {
  return (W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu;
}
fn ld_u8(o: u32) -> u32 {
  return (W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu;
}
fn ld_f16(o: u32) -> f32 {
  return unpack2x16float(ld_u16(o)).x;
}
// The four bytes of a word as unsigned values, then shifted and masked to `bits` bits.
fn nibbles(w: u32, shift: u32, mask: u32) -> vec4<u32> {
  return (vec4<u32>(w, w >> 8u, w >> 16u, w >> 24u) >> vec4<u32>(shift)) & vec4<u32>(mask);
}
fn bytes_i8(w: u32) -> vec4<f32> {
  let s = i32(w);
  return vec4<f32>(f32(extractBits(s, 0u, 8u)), f32(extractBits(s, 8u, 8u)), f32(extractBits(s, 16u, 8u)), f32(extractBits(s, 24u, 8u)));
}

struct Chunk {
  o: u32,      // byte offset of the chunk's block
  d: f32,      // scale
  m: f32,      // offset or second scale, per format
  aux: u32,    // format-specific (sub-block index, high bits)
}

#if WTYPE == F32
fn chunk_header(row_byte: u32, c: u32) -> Chunk { return Chunk(row_byte + c * 128u, 1.0, 0.0, 0u); }
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let w = (h.o >> 2u) + i * 4u;
  return vec4<f32>(bitcast<f32>(W[w]), bitcast<f32>(W[w + 1u]), bitcast<f32>(W[w + 2u]), bitcast<f32>(W[w + 3u]));
}
fn dequant_elem(row_byte: u32, i: u32) -> f32 { return bitcast<f32>(W[(row_byte >> 2u) + i]); }
#elif WTYPE == F16
fn chunk_header(row_byte: u32, c: u32) -> Chunk { return Chunk(row_byte + c * 64u, 1.0, 0.0, 0u); }
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(ld_u32(h.o + i * 8u)), unpack2x16float(ld_u32(h.o + i * 8u + 4u)));
}
fn dequant_elem(row_byte: u32, i: u32) -> f32 { return ld_f16(row_byte + i * 2u); }
#elif WTYPE == BF16
fn chunk_header(row_byte: u32, c: u32) -> Chunk { return Chunk(row_byte + c * 64u, 1.0, 0.0, 0u); }
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let a = ld_u32(h.o + i * 8u);
  let b = ld_u32(h.o + i * 8u + 4u);
  return vec4<f32>(bitcast<f32>(a << 16u), bitcast<f32>(a & 0xffff0000u), bitcast<f32>(b << 16u), bitcast<f32>(b & 0xffff0000u));
}
fn dequant_elem(row_byte: u32, i: u32) -> f32 { return bitcast<f32>(ld_u16(row_byte + i * 2u) << 16u); }
#elif WTYPE == Q8_0
// block: d f16, qs[32] i8 (34 bytes); value d * q. PAIRED (weights.ts): blocks 2p, 2p+1 as [d0 d1][qs0][qs1]
// (68 bytes), so h.o is the chunk's first quant byte, always word-aligned.
#if PAIRED
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let pair = row_byte + (c >> 1u) * 68u;
  return Chunk(pair + 4u + (c & 1u) * 32u, ld_f16(pair + (c & 1u) * 2u), 0.0, 0u);
}
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> { return h.d * bytes_i8(W[(h.o >> 2u) + i]); }
#else
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + c * 34u;
  return Chunk(o + 2u, ld_f16(o), 0.0, 0u);
}
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> { return h.d * bytes_i8(ld_u32(h.o + i * 4u)); }
#endif
#elif WTYPE == Q4_0
// block: d f16, qs[16]: low nibbles are elements 0..15, high nibbles 16..31; value d * (q - 8) (18 bytes).
// PAIRED: [d0 d1][qs0][qs1] (36 bytes), h.o word-aligned.
#if PAIRED
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let pair = row_byte + (c >> 1u) * 36u;
  return Chunk(pair + 4u + (c & 1u) * 16u, ld_f16(pair + (c & 1u) * 2u), 0.0, 0u);
}
// Word j of the chunk's quants: elements 4j..4j+3 in its low nibbles, 16+4j..16+4j+3 in its high ones.
fn q4_word(h: Chunk, j: u32) -> u32 { return W[(h.o >> 2u) + j]; }
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let q = nibbles(q4_word(h, i % 4u), (i / 4u) * 4u, 0xfu);
  return h.d * (vec4<f32>(q) - 8.0);
}
#else
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + c * 18u;
  return Chunk(o + 2u, ld_f16(o), 0.0, 0u);
}
fn q4_word(h: Chunk, j: u32) -> u32 { return ld_u32(h.o + j * 4u); }
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let q = nibbles(q4_word(h, i % 4u), (i / 4u) * 4u, 0xfu);
  return h.d * (vec4<f32>(q) - 8.0);
}
#endif
#elif WTYPE == Q4_1
// block: d f16, m f16, qs[16]; value q * d + m (20 bytes)
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + c * 20u;
  return Chunk(o, ld_f16(o), ld_f16(o + 2u), 0u);
}
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let q = nibbles(ld_u32(h.o + 4u + (i % 4u) * 4u), (i / 4u) * 4u, 0xfu);
  return vec4<f32>(q) * h.d + h.m;
}
#elif WTYPE == Q5_0 || WTYPE == Q5_1
// Q5_0 block: d f16, qh u32, qs[16]; value d * (q - 16) (22 bytes). Q5_1: d, m f16, qh, qs; q * d + m (24 bytes).
// Element j < 16 takes bit j of qh as its 5th bit, element j + 16 bit j + 12 shifted down (ggml's layout).
#if WTYPE == Q5_0
const QH_AT = 2u;
const BLOCK_BYTES = 22u;
#else
const QH_AT = 4u;
const BLOCK_BYTES = 24u;
#endif
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + c * BLOCK_BYTES;
#if WTYPE == Q5_0
  return Chunk(o, ld_f16(o), 0.0, ld_u32(o + 2u));
#else
  return Chunk(o, ld_f16(o), ld_f16(o + 2u), ld_u32(o + 4u));
#endif
}
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let j = (i % 4u) * 4u;
  let high = i / 4u;
  let lo = nibbles(ld_u32(h.o + QH_AT + 4u + j), high * 4u, 0xfu);
  let bits = (vec4<u32>(h.aux) >> (vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u) + vec4<u32>(high * 16u))) & vec4<u32>(1u);
  let q = vec4<f32>(lo | (bits << vec4<u32>(4u)));
#if WTYPE == Q5_0
  return h.d * (q - 16.0);
#else
  return q * h.d + h.m;
#endif
}
#elif WTYPE == Q4_K || WTYPE == Q5_K
// Super-block of 256 in 8 sub-blocks of 32, each with a 6-bit scale and min (ggml's get_scale_min_k4):
// Q4_K: d, dmin f16, scales[12], qs[128] (144 bytes); Q5_K adds qh[32] before qs (176 bytes).
// Sub-block s reads nibble s % 2 of qs[32 * (s / 2) + l]; value (d * sc) * q - (dmin * m).
fn scale_min_k4(o: u32, j: u32) -> vec2<f32> {
  if (j < 4u) {
    return vec2<f32>(f32(ld_u8(o + j) & 63u), f32(ld_u8(o + j + 4u) & 63u));
  }
  let sc = (ld_u8(o + j + 4u) & 0xfu) | ((ld_u8(o + j - 4u) >> 6u) << 4u);
  let mn = (ld_u8(o + j + 4u) >> 4u) | ((ld_u8(o + j) >> 6u) << 4u);
  return vec2<f32>(f32(sc), f32(mn));
}
#if WTYPE == Q4_K
const BLOCK_BYTES = 144u;
const QS_AT = 16u;
#else
const BLOCK_BYTES = 176u;
const QS_AT = 48u;
#endif
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + (c / 8u) * BLOCK_BYTES;
  let s = c % 8u;
  let sm = scale_min_k4(o + 4u, s);
  return Chunk(o, ld_f16(o) * sm.x, ld_f16(o + 2u) * sm.y, s);
}
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let s = h.aux;
  var q = nibbles(ld_u32(h.o + QS_AT + (s / 2u) * 32u + i * 4u), (s % 2u) * 4u, 0xfu);
#if WTYPE == Q5_K
  q = q | (nibbles(ld_u32(h.o + 16u + i * 4u), s, 1u) << vec4<u32>(4u));
#endif
  return h.d * vec4<f32>(q) - h.m;
}
#elif WTYPE == Q6_K
// Super-block: ql[128], qh[64], scales[16] i8, d f16 (210 bytes). Sub-block s: half = s / 4, k = s % 4: low 4 bits
// from ql[64 half + 32 (k % 2) + l] (nibble k / 2), high 2 bits from qh[32 half + l] >> 2k, scale
// sc[8 half + 2k + l / 16]; value (d * sc) * (q - 32).
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + (c / 8u) * 210u;
  let s = c % 8u;
  let half = s / 4u;
  let k = s % 4u;
  let d = ld_f16(o + 208u);
  let sc = o + 192u + 8u * half + 2u * k;
  return Chunk(o, d * f32(extractBits(i32(ld_u8(sc)), 0u, 8u)), d * f32(extractBits(i32(ld_u8(sc + 1u)), 0u, 8u)), s);
}
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let half = h.aux / 4u;
  let k = h.aux % 4u;
  let lo = nibbles(ld_u32(h.o + 64u * half + 32u * (k % 2u) + i * 4u), (k / 2u) * 4u, 0xfu);
  let hi = nibbles(ld_u32(h.o + 128u + 32u * half + i * 4u), 2u * k, 3u);
  let q = vec4<f32>(vec4<i32>(lo | (hi << vec4<u32>(4u))) - vec4<i32>(32));
  return select(h.m, h.d, i < 4u) * q;
}
#elif WTYPE == Q2_K
// Super-block: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin f16 (84 bytes). Chunk s (0..7) is the
// 16-element groups 2s, 2s + 1: element e reads qs[32 (s / 4) + e] >> 2 (s % 4) (2 bits); value (d * sc) * q - dmin * m.
// aux: the two groups' scale bytes (bits 0..15) and the shift (bits 16..).
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + (c / 8u) * 84u;
  let s = c % 8u;
  return Chunk(o + 16u + 32u * (s / 4u), ld_f16(o + 80u), ld_f16(o + 82u), ld_u16(o + 2u * s) | ((2u * (s % 4u)) << 16u));
}
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let sc = (h.aux >> (8u * (i / 4u))) & 0xffu;
  let q = nibbles(ld_u32(h.o + i * 4u), h.aux >> 16u, 3u);
  return (h.d * f32(sc & 0xfu)) * vec4<f32>(q) - h.m * f32(sc >> 4u);
}
#elif WTYPE == Q3_K
// Super-block: hmask[32], qs[64], scales[12] (16 packed 6-bit scales), d f16 (110 bytes). Chunk s (0..7) is the groups
// 2s, 2s + 1: element e takes its low 2 bits from qs[32 (s / 4) + e] >> 2 (s % 4) and its 3rd from bit s of hmask[e];
// a clear 3rd bit subtracts 4 (q = low + 4 hbit - 4); value (d * (scale - 32)) * q.
fn q3k_scale(o: u32, j: u32) -> f32 {
  let low = (ld_u8(o + j % 8u) >> (4u * (j / 8u))) & 0xfu;
  let high = (ld_u8(o + 8u + j % 4u) >> (2u * (j / 4u))) & 3u;
  return f32(low | (high << 4u)) - 32.0;
}
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + (c / 8u) * 110u;
  let s = c % 8u;
  let d = ld_f16(o + 108u);
  return Chunk(o, d * q3k_scale(o + 96u, 2u * s), d * q3k_scale(o + 96u, 2u * s + 1u), s);
}
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  let s = h.aux;
  let low = nibbles(ld_u32(h.o + 32u + 32u * (s / 4u) + i * 4u), 2u * (s % 4u), 3u);
  let hbit = nibbles(ld_u32(h.o + i * 4u), s, 1u);
  return select(h.m, h.d, i < 4u) * (vec4<f32>(low | (hbit << vec4<u32>(2u))) - 4.0);
}
#elif WTYPE == IQ4_NL || WTYPE == IQ4_XS || WTYPE == MXFP4
// 4-bit indices into a 16-entry i8 table (IQ4: kvalues_iq4nl; MXFP4: kvalues_mxfp4, E2M1 doubled), packed four
// entries a word and picked with selects: no array indexed at run time (see the top of this file).
#if WTYPE == MXFP4
const KV = array<u32, 4>(0x03020100u, 0x0c080604u, 0xfdfeff00u, 0xf4f8fafcu);
#else
const KV = array<u32, 4>(0xbfad9881u, 0xf6eaddcfu, 0x26190d01u, 0x71594535u);
#endif
fn table_i8(q: vec4<u32>) -> vec4<f32> {
  let b4 = (q & vec4<u32>(4u)) != vec4<u32>(0u);
  let w = select(select(vec4<u32>(KV[0]), vec4<u32>(KV[1]), b4), select(vec4<u32>(KV[2]), vec4<u32>(KV[3]), b4), (q & vec4<u32>(8u)) != vec4<u32>(0u));
  return vec4<f32>(bitcast<vec4<i32>>(w << (vec4<u32>(24u) - (q & vec4<u32>(3u)) * 8u)) >> vec4<u32>(24u));
}
#if WTYPE == IQ4_NL
// block: d f16, qs[16]: byte j holds element j (low nibble) and j + 16 (high); value d * kvalues[q] (18 bytes).
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + c * 18u;
  return Chunk(o + 2u, ld_f16(o), 0.0, 0u);
}
#elif WTYPE == IQ4_XS
// Super-block: d f16, scales_h u16, scales_l[4], qs[128] (136 bytes): eight IQ4_NL-style sub-blocks of 32 at
// qs[16 ib], each with the 6-bit scale ls = scales_l nibble ib | 2 bits of scales_h << 4; value (d * (ls - 32)) * kvalues[q].
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + (c / 8u) * 136u;
  let ib = c % 8u;
  let ls = ((ld_u8(o + 4u + ib / 2u) >> (4u * (ib % 2u))) & 0xfu) | (((ld_u16(o + 2u) >> (2u * ib)) & 3u) << 4u);
  return Chunk(o + 8u + 16u * ib, ld_f16(o) * (f32(ls) - 32.0), 0.0, 0u);
}
#else
// block: e u8 (E8M0), qs[16] as IQ4_NL (17 bytes); value kvalues[q] * 2^(e - 128) (ggml's GGML_E8M0_TO_FP32_HALF,
// subnormal for e < 2, which a GPU may flush to zero).
fn chunk_header(row_byte: u32, c: u32) -> Chunk {
  let o = row_byte + c * 17u;
  let e = ld_u8(o);
  return Chunk(o + 1u, bitcast<f32>(select((e - 1u) << 23u, 0x00200000u << e, e < 2u)), 0.0, 0u);
}
#endif
fn chunk_quad(h: Chunk, i: u32) -> vec4<f32> {
  return h.d * table_i8(nibbles(ld_u32(h.o + (i % 4u) * 4u), (i / 4u) * 4u, 0xfu));
}
#endif

#if WIDE
// Wide loads (the matvec's `.v4` variants, Q4_K and paired Q8_0 / Q4_0): a chunk's quant words read 16 bytes at a time
// through W4, the same buffer as W bound as vec4<u32>. Words w .. w + 7 from two vec4 loads where w is a multiple
// of 4 (Q4_K's 144-byte blocks), three otherwise (paired Q8_0 / Q4_0 quants are word- but not 16-byte-aligned).
// `wide_quad(h, q, i)` equals `chunk_quad(h, i)`.
struct Quads {
  lo: vec4<u32>, // quant words 0..3 of the chunk
  hi: vec4<u32>, // words 4..7 (Q4_0: unused)
}
// The binding's last vec4 may run past the buffer (sizes are whole words, not whole vec4s): that one word by word.
fn ld_vec4(i: u32) -> vec4<u32> {
  if (i < arrayLength(&W4)) { return W4[i]; }
  let n = arrayLength(&W) - 1u;
  return vec4<u32>(W[min(4u * i, n)], W[min(4u * i + 1u, n)], W[min(4u * i + 2u, n)], W[min(4u * i + 3u, n)]);
}
// Words k .. k + 3 of a ++ b (k < 4).
fn funnel4(a: vec4<u32>, b: vec4<u32>, k: u32) -> vec4<u32> {
  let j = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u);
  return vec4<u32>(select(b[j.x & 3u], a[j.x & 3u], j.x < 4u), select(b[j.y & 3u], a[j.y & 3u], j.y < 4u), select(b[j.z & 3u], a[j.z & 3u], j.z < 4u), select(b[j.w & 3u], a[j.w & 3u], j.w < 4u));
}
fn words8(w: u32) -> Quads {
  let i = w >> 2u;
  let k = w & 3u;
  let a = ld_vec4(i);
  let b = ld_vec4(i + 1u);
  if (k == 0u) { return Quads(a, b); }
  let c = ld_vec4(i + 2u);
  return Quads(funnel4(a, b, k), funnel4(b, c, k));
}
fn words4(w: u32) -> vec4<u32> {
  let k = w & 3u;
  let a = ld_vec4(w >> 2u);
  if (k == 0u) { return a; }
  return funnel4(a, ld_vec4((w >> 2u) + 1u), k);
}
fn quad_word(q: Quads, i: u32) -> u32 { return select(q.hi[i & 3u], q.lo[i & 3u], i < 4u); }
#if WTYPE == Q8_0
fn chunk_words(h: Chunk) -> Quads { return words8(h.o >> 2u); }
fn wide_quad(h: Chunk, q: Quads, i: u32) -> vec4<f32> { return h.d * bytes_i8(quad_word(q, i)); }
#elif WTYPE == Q4_0
fn chunk_words(h: Chunk) -> Quads { return Quads(words4(h.o >> 2u), vec4<u32>(0u)); }
fn wide_quad(h: Chunk, q: Quads, i: u32) -> vec4<f32> { return h.d * (vec4<f32>(nibbles(q.lo[i & 3u], (i / 4u) * 4u, 0xfu)) - 8.0); }
#elif WTYPE == Q4_K
fn chunk_words(h: Chunk) -> Quads { return words8((h.o + QS_AT + (h.aux / 2u) * 32u) >> 2u); }
fn wide_quad(h: Chunk, q: Quads, i: u32) -> vec4<f32> { return h.d * vec4<f32>(nibbles(quad_word(q, i), (h.aux % 2u) * 4u, 0xfu)) - h.m; }
#endif
#endif

