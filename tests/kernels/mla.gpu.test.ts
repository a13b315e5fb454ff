// The MLA per-head kernels (src/gpu/kernels/mla.ts) against plain loops: the per-head matvec at DeepSeek-V2-Lite's
// shapes (attn_k_b absorbing q_nope into the latent, attn_v_b expanding the latent output) with strided slices, its
// weight in the file's format (f32, f16, Q8_0, Q4_0, Q4_K: decoded by the kernel as it reads), and
// the strided copy that assembles cache rows [latent | k_pe].
import { describe, expect, it } from 'vitest';
import { KernelContext } from '../../src/gpu/kernels/context';
import { encodeHeadCopy, encodeHeadMatvec, type HeadSlices } from '../../src/gpu/kernels/mla';
import { destroyWeight, uploadWeight } from '../../src/gpu/kernels/weights';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { dequantize } from '../../src/gpu/quant';
import { f32ToF16Bits } from '../../src/gpu/quant/half';
import { quantize, type QuantizableType } from '../../src/gpu/quant/quantize';
import { testDevice } from '../helpers/gpu';
import { signedUniform } from '../helpers/numeric';

const at = (s: Omit<HeadSlices, 'buffer'>, t: number, h: number, i: number): number => t * s.tokenStride + h * s.headStride + s.offset + i;

const f32Bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('MLA per-head matvec', () => {
  const cases = [
    // attn_k_b: q_nope (128 values at offset 0 of a 192-wide head) -> the first 512 of a 576-wide query head.
    { name: 'absorb q_nope (V2-Lite: 16 heads, 128 -> 512)', tokens: 3, heads: 16, rows: 512, cols: 128, x: { tokenStride: 16 * 192, headStride: 192, offset: 0 }, y: { tokenStride: 16 * 576, headStride: 576, offset: 0 } },
    // attn_v_b: the latent output (512 a head) -> 128 values a head, contiguous.
    { name: 'expand the latent output (V2-Lite: 16 heads, 512 -> 128)', tokens: 2, heads: 16, rows: 128, cols: 512, x: { tokenStride: 16 * 512, headStride: 512, offset: 0 }, y: { tokenStride: 16 * 128, headStride: 128, offset: 0 } },
    { name: 'odd sizes and offsets', tokens: 5, heads: 3, rows: 7, cols: 9, x: { tokenStride: 40, headStride: 13, offset: 2 }, y: { tokenStride: 31, headStride: 10, offset: 3 } },
  ];
  // The weight as the GGUF file holds it: f32, or blocks the kernel decodes as it reads (Q8_0 rows of 4 and 16 blocks,
  // paired; Q4_K rows of two 256-value superblocks), against the loop over the same weights dequantized on the host.
  const types: { type: GgmlType.F32 | GgmlType.F16 | QuantizableType; cases: typeof cases }[] = [
    { type: GgmlType.F32, cases },
    { type: GgmlType.F16, cases: cases.slice(0, 1) },
    { type: GgmlType.Q8_0, cases: cases.slice(0, 2) },
    { type: GgmlType.Q4_0, cases: cases.slice(0, 1) },
    { type: GgmlType.Q4_K, cases: cases.slice(1, 2) },
  ];
  for (const { type, cases: shapes } of types) {
    for (const c of shapes) {
      it(`${c.name}, ${ggmlTypeName(type)}: within f32 rounding (1e-6 of the sum of |terms|) of the f64 loop`, async () => {
        const ctx = new KernelContext(await testDevice());
        const r = signedUniform(c.rows + c.cols);
        const raw = Float32Array.from({ length: c.heads * c.rows * c.cols }, r);
        const bytes = type === GgmlType.F32 ? f32Bytes(raw) : type === GgmlType.F16 ? new Uint8Array(Uint16Array.from(raw, f32ToF16Bits).buffer) : quantize(type as QuantizableType, raw);
        const w = type === GgmlType.F32 ? raw : dequantize(type, bytes, raw.length);
        const x = Float32Array.from({ length: c.tokens * c.x.tokenStride }, r);
        const ySize = c.tokens * c.y.tokenStride;
        const y = ctx.upload(new Float32Array(ySize).fill(7), 'y');
        const weight = uploadWeight(ctx, 'w', type, bytes, c.heads * c.rows, c.cols);
        ctx.run((pass) => encodeHeadMatvec(ctx, pass, weight, { buffer: ctx.upload(x, 'x'), ...c.x }, { buffer: y, ...c.y }, c));
        const got = new Float32Array(await ctx.read(y));
        destroyWeight(weight);
        const want = new Float32Array(ySize).fill(7);
        const magnitude = new Float64Array(ySize); // sum of |w x| per output: f32 accumulation's error scale
        for (let t = 0; t < c.tokens; t++) {
          for (let h = 0; h < c.heads; h++) {
            for (let o = 0; o < c.rows; o++) {
              let s = 0;
              let m = 0;
              for (let j = 0; j < c.cols; j++) {
                const term = w[(h * c.rows + o) * c.cols + j]! * x[at(c.x, t, h, j)]!;
                s += term;
                m += Math.abs(term);
              }
              want[at(c.y, t, h, o)] = s;
              magnitude[at(c.y, t, h, o)] = m;
            }
          }
        }
        let worst = 0;
        for (let i = 0; i < ySize; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(magnitude[i]!, 1));
        expect(worst).toBeLessThan(1e-6);
      });
    }
  }

  it('refuses slices past the end of a buffer, and a weight of another shape', async () => {
    const ctx = new KernelContext(await testDevice());
    const b = ctx.storage(64, 'small');
    const w = uploadWeight(ctx, 'w', GgmlType.F32, new Uint8Array(256), 2, 32);
    const y = { buffer: ctx.storage(64, 'y'), tokenStride: 4, headStride: 4, offset: 0 };
    expect(() => ctx.run((pass) => encodeHeadMatvec(ctx, pass, w, { buffer: b, tokenStride: 4, headStride: 4, offset: 0 }, y, { tokens: 1, heads: 1, rows: 2, cols: 32 }))).toThrow(/need 128 bytes/);
    expect(() => ctx.run((pass) => encodeHeadMatvec(ctx, pass, w, { buffer: b, tokenStride: 4, headStride: 4, offset: 0 }, y, { tokens: 1, heads: 2, rows: 2, cols: 32 }))).toThrow(/2 heads x 2 rows x 32 expected/);
    destroyWeight(w);
  });
});

describe('MLA strided copy', () => {
  it('assembles [latent | k_pe] rows from two contiguous buffers, leaving the rest untouched', async () => {
    const ctx = new KernelContext(await testDevice());
    const tokens = 4;
    const latent = Float32Array.from({ length: tokens * 128 }, (_, i) => i);
    const pe = Float32Array.from({ length: tokens * 32 }, (_, i) => -1 - i);
    const rows = ctx.upload(new Float32Array(tokens * 160).fill(0.5), 'rows');
    ctx.run((pass) => {
      encodeHeadCopy(ctx, pass, { buffer: ctx.upload(latent, 'latent'), tokenStride: 128, headStride: 0, offset: 0 }, { buffer: rows, tokenStride: 160, headStride: 0, offset: 0 }, { tokens, heads: 1, n: 128 });
      encodeHeadCopy(ctx, pass, { buffer: ctx.upload(pe, 'pe'), tokenStride: 32, headStride: 0, offset: 0 }, { buffer: rows, tokenStride: 160, headStride: 0, offset: 128 }, { tokens, heads: 1, n: 32 });
    });
    const got = new Float32Array(await ctx.read(rows));
    const want = new Float32Array(tokens * 160);
    for (let t = 0; t < tokens; t++) {
      want.set(latent.subarray(t * 128, (t + 1) * 128), t * 160);
      want.set(pe.subarray(t * 32, (t + 1) * 32), t * 160 + 128);
    }
    expect(Array.from(got)).toEqual(Array.from(want));
  });
});
