// GGUF block decoding in registers, shared by every kernel that reads weights (matmul, embedding lookup).
// The includer declares `W: array<u32>` holding a tensor's raw GGUF bytes (rows back to back) and defines WTYPE.
// `dequant_chunk(row_byte, c)` returns the 32 values of the c-th 32-element chunk of the row starting at byte
// row_byte, bit for bit as ggml's dequantize_row_* (every product there is exact in f32).

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
fn byte_of(word: u32, k: u32) -> u32 {
  return (word >> (k * 8u)) & 0xffu;
}

#if WTYPE == F32
const BLOCK_ELEMS = 1u;
const BLOCK_BYTES = 4u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let w0 = (row_byte >> 2u) + c * 32u;
  for (var i = 0u; i < 32u; i++) { v[i] = bitcast<f32>(W[w0 + i]); }
  return v;
}
fn dequant_elem(row_byte: u32, i: u32) -> f32 {
  return bitcast<f32>(W[(row_byte >> 2u) + i]);
}
#elif WTYPE == F16
const BLOCK_ELEMS = 1u;
const BLOCK_BYTES = 2u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + c * 64u;
  for (var i = 0u; i < 16u; i++) {
    let p = unpack2x16float(ld_u32(o + i * 4u));
    v[2u * i] = p.x;
    v[2u * i + 1u] = p.y;
  }
  return v;
}
fn dequant_elem(row_byte: u32, i: u32) -> f32 {
  return ld_f16(row_byte + i * 2u);
}
#elif WTYPE == BF16
const BLOCK_ELEMS = 1u;
const BLOCK_BYTES = 2u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + c * 64u;
  for (var i = 0u; i < 16u; i++) {
    let w = ld_u32(o + i * 4u);
    v[2u * i] = bitcast<f32>(w << 16u);
    v[2u * i + 1u] = bitcast<f32>(w & 0xffff0000u);
  }
  return v;
}
fn dequant_elem(row_byte: u32, i: u32) -> f32 {
  return bitcast<f32>(ld_u16(row_byte + i * 2u) << 16u);
}
#elif WTYPE == Q8_0
// block: d f16, qs[32] i8 (34 bytes)
const BLOCK_ELEMS = 32u;
const BLOCK_BYTES = 34u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + c * 34u;
  let d = ld_f16(o);
  for (var i = 0u; i < 8u; i++) {
    let w = i32(ld_u32(o + 2u + i * 4u));
    for (var k = 0u; k < 4u; k++) { v[i * 4u + k] = d * f32(extractBits(w, k * 8u, 8u)); }
  }
  return v;
}
#elif WTYPE == Q4_0
// block: d f16, qs[16] (low nibbles: elements 0..15, high: 16..31), value d * (q - 8) (18 bytes)
const BLOCK_ELEMS = 32u;
const BLOCK_BYTES = 18u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + c * 18u;
  let d = ld_f16(o);
  for (var i = 0u; i < 4u; i++) {
    let w = ld_u32(o + 2u + i * 4u);
    for (var k = 0u; k < 4u; k++) {
      let b = byte_of(w, k);
      v[i * 4u + k] = d * (f32(b & 0xfu) - 8.0);
      v[i * 4u + k + 16u] = d * (f32(b >> 4u) - 8.0);
    }
  }
  return v;
}
#elif WTYPE == Q4_1
// block: d f16, m f16, qs[16], value d * q + m (20 bytes)
const BLOCK_ELEMS = 32u;
const BLOCK_BYTES = 20u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + c * 20u;
  let d = ld_f16(o);
  let m = ld_f16(o + 2u);
  for (var i = 0u; i < 4u; i++) {
    let w = ld_u32(o + 4u + i * 4u);
    for (var k = 0u; k < 4u; k++) {
      let b = byte_of(w, k);
      v[i * 4u + k] = f32(b & 0xfu) * d + m;
      v[i * 4u + k + 16u] = f32(b >> 4u) * d + m;
    }
  }
  return v;
}
#elif WTYPE == Q5_0
// block: d f16, qh u32 (5th bits), qs[16], value d * (q - 16) (22 bytes)
const BLOCK_ELEMS = 32u;
const BLOCK_BYTES = 22u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + c * 22u;
  let d = ld_f16(o);
  let qh = ld_u32(o + 2u);
  for (var i = 0u; i < 4u; i++) {
    let w = ld_u32(o + 6u + i * 4u);
    for (var k = 0u; k < 4u; k++) {
      let j = i * 4u + k;
      let b = byte_of(w, k);
      let h0 = ((qh >> j) << 4u) & 0x10u;
      let h1 = (qh >> (j + 12u)) & 0x10u;
      v[j] = d * (f32((b & 0xfu) | h0) - 16.0);
      v[j + 16u] = d * (f32((b >> 4u) | h1) - 16.0);
    }
  }
  return v;
}
#elif WTYPE == Q5_1
// block: d f16, m f16, qh u32, qs[16], value d * q + m (24 bytes)
const BLOCK_ELEMS = 32u;
const BLOCK_BYTES = 24u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + c * 24u;
  let d = ld_f16(o);
  let m = ld_f16(o + 2u);
  let qh = ld_u32(o + 4u);
  for (var i = 0u; i < 4u; i++) {
    let w = ld_u32(o + 8u + i * 4u);
    for (var k = 0u; k < 4u; k++) {
      let j = i * 4u + k;
      let b = byte_of(w, k);
      let h0 = ((qh >> j) << 4u) & 0x10u;
      let h1 = (qh >> (j + 12u)) & 0x10u;
      v[j] = f32((b & 0xfu) | h0) * d + m;
      v[j + 16u] = f32((b >> 4u) | h1) * d + m;
    }
  }
  return v;
}
#elif WTYPE == Q4_K || WTYPE == Q5_K
// 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at `o` (ggml's get_scale_min_k4).
fn scale_min_k4(o: u32, j: u32) -> vec2<f32> {
  if (j < 4u) {
    return vec2<f32>(f32(ld_u8(o + j) & 63u), f32(ld_u8(o + j + 4u) & 63u));
  }
  let sc = (ld_u8(o + j + 4u) & 0xfu) | ((ld_u8(o + j - 4u) >> 6u) << 4u);
  let mn = (ld_u8(o + j + 4u) >> 4u) | ((ld_u8(o + j) >> 6u) << 4u);
  return vec2<f32>(f32(sc), f32(mn));
}
const BLOCK_ELEMS = 256u;
#if WTYPE == Q4_K
// super-block: d f16, dmin f16, scales[12], qs[128]; sub-block s uses nibble s%2 of qs[32*(s/2) ..] (144 bytes)
const BLOCK_BYTES = 144u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + (c / 8u) * 144u;
  let s = c % 8u;
  let d = ld_f16(o);
  let dmin = ld_f16(o + 2u);
  let sm = scale_min_k4(o + 4u, s);
  let d1 = d * sm.x;
  let m1 = dmin * sm.y;
  let q = o + 16u + (s / 2u) * 32u;
  let shift = (s % 2u) * 4u;
  for (var i = 0u; i < 8u; i++) {
    let w = ld_u32(q + i * 4u);
    for (var k = 0u; k < 4u; k++) { v[i * 4u + k] = d1 * f32((byte_of(w, k) >> shift) & 0xfu) - m1; }
  }
  return v;
}
#else
// super-block: d f16, dmin f16, scales[12], qh[32], qs[128]; the 5th bit of sub-block s is bit s of qh[l] (176 bytes)
const BLOCK_BYTES = 176u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + (c / 8u) * 176u;
  let s = c % 8u;
  let d = ld_f16(o);
  let dmin = ld_f16(o + 2u);
  let sm = scale_min_k4(o + 4u, s);
  let d1 = d * sm.x;
  let m1 = dmin * sm.y;
  let q = o + 48u + (s / 2u) * 32u;
  let shift = (s % 2u) * 4u;
  for (var i = 0u; i < 8u; i++) {
    let w = ld_u32(q + i * 4u);
    let h = ld_u32(o + 16u + i * 4u);
    for (var k = 0u; k < 4u; k++) {
      let hi = ((byte_of(h, k) >> s) & 1u) << 4u;
      v[i * 4u + k] = d1 * f32(((byte_of(w, k) >> shift) & 0xfu) | hi) - m1;
    }
  }
  return v;
}
#endif
#elif WTYPE == Q6_K
// super-block: ql[128], qh[64], scales[16] i8, d f16 (210 bytes). Sub-block s: half h = s/4, quarter k = s%4;
// low 4 bits from ql[64h + 32(k%2) + l] (nibble k/2), high 2 bits from qh[32h + l] >> 2k, scale sc[8h + 2k + l/16].
const BLOCK_ELEMS = 256u;
const BLOCK_BYTES = 210u;
fn dequant_chunk(row_byte: u32, c: u32) -> array<f32, 32> {
  var v: array<f32, 32>;
  let o = row_byte + (c / 8u) * 210u;
  let s = c % 8u;
  let h = s / 4u;
  let k = s % 4u;
  let d = ld_f16(o + 208u);
  let sc0 = d * f32(extractBits(i32(ld_u8(o + 192u + 8u * h + 2u * k)), 0u, 8u));
  let sc1 = d * f32(extractBits(i32(ld_u8(o + 192u + 8u * h + 2u * k + 1u)), 0u, 8u));
  let ql = o + 64u * h + 32u * (k % 2u);
  let qh = o + 128u + 32u * h;
  let lshift = (k / 2u) * 4u;
  let hshift = 2u * k;
  for (var i = 0u; i < 8u; i++) {
    let wl = ld_u32(ql + i * 4u);
    let wh = ld_u32(qh + i * 4u);
    let sc = select(sc1, sc0, i < 4u);
    for (var b = 0u; b < 4u; b++) {
      let q = i32(((byte_of(wl, b) >> lshift) & 0xfu) | (((byte_of(wh, b) >> hshift) & 3u) << 4u)) - 32;
      v[i * 4u + b] = sc * f32(q);
    }
  }
  return v;
}
#endif
