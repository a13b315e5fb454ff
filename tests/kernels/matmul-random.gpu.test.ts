// Q2_K, Q3_K, IQ4_NL, IQ4_XS and MXFP4 kernels on random blocks (every quant, sub-scale and hmask pattern; MXFP4 is
// not in the shared test vectors): the decode matvec, the token-tiled matvec, the prefill GEMM (full and partial tiles
// of rows and tokens) and the embedding lookup, each against the CPU decoders, which match ggml bit for bit
// (tests/gpu/quant-random.test.ts).
import { describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { KernelContext } from '../../src/gpu/kernels/context';
import { encodeEmbed } from '../../src/gpu/kernels/embed';
import { encodeMatmul, GEMM_MIN_TOKENS } from '../../src/gpu/kernels/matmul';
import { rowBytes, uploadWeight } from '../../src/gpu/kernels/weights';
import { dequantize, matvecRows } from '../../src/gpu/quant';
import { testDevice } from '../helpers/gpu';
import { normalizedError, signedUniform } from '../helpers/numeric';
import { randomBlocks } from '../helpers/random-blocks';

const TYPES = [GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.MXFP4];
const ROWS = 64;
const COLS = 512;

/** `rows` rows of COLS random values of `type`. */
function randomWeight(type: number, rows: number, seed: number): Uint8Array {
  const perBlock = type === GgmlType.IQ4_NL || type === GgmlType.MXFP4 ? 32 : 256;
  return randomBlocks(type, (rows * COLS) / perBlock, seed, 0.05);
}

async function compare(ctx: KernelContext, type: number, bytes: Uint8Array, rows: number, tokens: number, seed: number): Promise<number> {
  const x = Float32Array.from({ length: tokens * COLS }, signedUniform(seed)); // (tokens, COLS)
  const w = uploadWeight(ctx, 'w', type, bytes, rows, COLS);
  const xb = ctx.upload(x, 'x');
  const yb = ctx.storage(tokens * rows * 4, 'y'); // (tokens, rows)
  ctx.run((pass) => encodeMatmul(ctx, pass, w, xb, yb, tokens));
  const got = new Float32Array(await ctx.read(yb, tokens * rows * 4));
  const want = new Float32Array(tokens * rows);
  for (let t = 0; t < tokens; t++) want.set(matvecRows(type, bytes, rows, COLS, x.subarray(t * COLS, (t + 1) * COLS)), t * rows);
  return normalizedError(got, want);
}

describe('new quant types on random blocks: GPU kernels vs the CPU matvec', () => {
  for (const type of TYPES) {
    const name = ggmlTypeName(type);
    it(`${name}: decode (T=1), tiled (T=3, 8, 11), GEMM (T=${GEMM_MIN_TOKENS}, 71) on 64 and 40 rows, within 1e-5`, async () => {
      const ctx = new KernelContext(await testDevice());
      const all = randomWeight(type, ROWS, type);
      for (const rows of [ROWS, 40]) {
        const bytes = all.subarray(0, rows * rowBytes(type, COLS));
        for (const tokens of [1, 3, 8, 11, GEMM_MIN_TOKENS, 71]) {
          expect(await compare(ctx, type, bytes, rows, tokens, tokens + rows), `${name} ${rows} rows T=${tokens}`).toBeLessThan(1e-5);
        }
      }
    });

    it(`${name}: embedding rows equal the CPU dequantization exactly`, async () => {
      const ctx = new KernelContext(await testDevice());
      const bytes = randomWeight(type, ROWS, 100 + type);
      const table = uploadWeight(ctx, 'token_embd.weight', type, bytes, ROWS, COLS);
      const tokens = [0, 63, 5, 17, 5];
      const yb = ctx.storage(tokens.length * COLS * 4, 'y'); // (tokens, COLS)
      ctx.run((pass) => encodeEmbed(ctx, pass, table, ctx.upload(Uint32Array.from(tokens), 'tok'), yb, tokens.length));
      const all = dequantize(type, bytes, ROWS * COLS);
      const want = new Float32Array(tokens.length * COLS);
      tokens.forEach((tok, i) => want.set(all.subarray(tok * COLS, (tok + 1) * COLS), i * COLS));
      expect(Array.from(new Float32Array(await ctx.read(yb)))).toEqual(Array.from(want));
    });
  }
});
