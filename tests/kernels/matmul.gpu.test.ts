import { describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { KernelContext } from '../../src/gpu/kernels/context';
import { encodeMatmul, GEMM_MIN_TOKENS } from '../../src/gpu/kernels/matmul';
import { uploadWeight } from '../../src/gpu/kernels/weights';
import { matvecRows } from '../../src/gpu/quant';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';
import { normalizedError, signedUniform } from '../helpers/numeric';

const TYPES = ['f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_K', 'q3_K', 'q4_K', 'q5_K', 'q6_K', 'iq4_nl', 'iq4_xs'];
const vectors = openModel('quant-testvectors.gguf');

/** CPU oracle: Y (tokens, rows) from the f64-accumulated matvec of each token's row of X. */
function cpuMatmul(type: number, bytes: Uint8Array, rows: number, cols: number, x: Float32Array, tokens: number): Float32Array {
  const y = new Float32Array(tokens * rows);
  for (let t = 0; t < tokens; t++) y.set(matvecRows(type, bytes, rows, cols, x.subarray(t * cols, (t + 1) * cols)), t * rows);
  return y;
}

async function gpuMatmul(ctx: KernelContext, type: number, bytes: Uint8Array, rows: number, cols: number, x: Float32Array, tokens: number, init?: Float32Array, bias?: Float32Array): Promise<Float32Array> {
  const w = uploadWeight(ctx, 'w', type, bytes, rows, cols);
  const xb = ctx.upload(x, 'x');
  const yb = init ? ctx.upload(init, 'y') : ctx.storage(tokens * rows * 4, 'y');
  const bb = bias ? ctx.upload(bias, 'bias') : undefined;
  ctx.run((pass) => encodeMatmul(ctx, pass, w, xb, yb, tokens, { accumulate: !!init, ...(bb ? { bias: bb } : {}) }));
  return new Float32Array(await ctx.read(yb, tokens * rows * 4));
}

describe('quantized matmul kernel vs the CPU matvec', () => {
  for (const name of TYPES) {
    it(`${name}: decode (T=1) and tiled prefill (T=3, 8, 11) within 1e-5 normalized`, async () => {
      const ctx = new KernelContext(await testDevice());
      const info = vectors.requireTensor(`w.${name}`);
      const bytes = await vectors.tensorBytes(info);
      const [cols, rows] = info.dims as [number, number];
      for (const tokens of [1, 3, 8, 11]) {
        const r = signedUniform(tokens);
        const x = Float32Array.from({ length: tokens * cols }, r);
        const got = await gpuMatmul(ctx, info.type, bytes, rows, cols, x, tokens);
        const want = cpuMatmul(info.type, bytes, rows, cols, x, tokens);
        expect(normalizedError(got, want), `${name} T=${tokens}`).toBeLessThan(1e-5);
      }
    });
  }

  it(`prefill GEMM (from ${GEMM_MIN_TOKENS} tokens): every type, full and partial tiles of rows and tokens, within 1e-5`, async () => {
    const ctx = new KernelContext(await testDevice());
    for (const name of TYPES) {
      const info = vectors.requireTensor(`w.${name}`);
      const all = await vectors.tensorBytes(info);
      const [cols, allRows] = info.dims as [number, number];
      // 64 rows: one whole row tile; 40: a partial one (rows past the end are neither read past nor written).
      // 71 tokens: a whole 64-token tile and a partial one; the narrower tile (up to 32 tokens) on two types.
      const tokenCounts = name === 'q8_0' || name === 'q4_K' ? [GEMM_MIN_TOKENS, 33, 64, 71] : [71];
      for (const rows of [allRows, 40]) {
        const bytes = all.subarray(0, (all.length / allRows) * rows);
        for (const tokens of tokenCounts) {
          const x = Float32Array.from({ length: tokens * cols }, signedUniform(tokens + rows));
          const got = await gpuMatmul(ctx, info.type, bytes, rows, cols, x, tokens);
          expect(normalizedError(got, cpuMatmul(info.type, bytes, rows, cols, x, tokens)), `${name} ${rows} rows T=${tokens}`).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('prefill GEMM accumulates, adds a bias, and covers a weight split across bindings', async () => {
    const gpu = await testDevice();
    const ctx = new KernelContext(gpu);
    const info = vectors.requireTensor('w.q8_0');
    const bytes = await vectors.tensorBytes(info);
    const r = signedUniform(21);
    const tokens = 37;
    const x = Float32Array.from({ length: tokens * 512 }, r);
    const init = Float32Array.from({ length: tokens * 64 }, r);
    const bias = Float32Array.from({ length: 64 }, r);
    const got = await gpuMatmul(ctx, info.type, bytes, 64, 512, x, tokens, init, bias);
    const plain = cpuMatmul(info.type, bytes, 64, 512, x, tokens);
    expect(normalizedError(got, plain.map((v, i) => v + init[i]! + bias[i % 64]!))).toBeLessThan(1e-5);
    const small = new KernelContext({ ...gpu, caps: { ...gpu.caps, maxStorageBufferBindingSize: 34 * 16 * 10 + 8 } });
    expect(uploadWeight(small, 'w', info.type, bytes, 64, 512).parts.length).toBe(7);
    expect(normalizedError(await gpuMatmul(small, info.type, bytes, 64, 512, x, tokens), plain)).toBeLessThan(1e-5);
  });

  it('q8_0 on the shared vector x matches y.q8_0.deq64', async () => {
    const ctx = new KernelContext(await testDevice());
    const info = vectors.requireTensor('w.q8_0');
    const x = new Float32Array((await vectors.tensorBytes(vectors.requireTensor('x'))).slice().buffer);
    const want = new Float32Array((await vectors.tensorBytes(vectors.requireTensor('y.q8_0.deq64'))).slice().buffer);
    const got = await gpuMatmul(ctx, info.type, await vectors.tensorBytes(info), 64, 512, x, 1);
    expect(normalizedError(got, want)).toBeLessThan(1e-5);
  });

  it('q8_0 and q4_0 rows of an odd block count keep the GGUF layout; even ones are paired and give the same result', async () => {
    const ctx = new KernelContext(await testDevice());
    for (const name of ['q8_0', 'q4_0']) {
      const info = vectors.requireTensor(`w.${name}`);
      const bytes = await vectors.tensorBytes(info);
      // The same 1024 blocks read as 1024 rows of one block (odd: unpaired) and as 64 rows of 16 (paired).
      for (const [rows, cols, paired] of [[1024, 32, false], [64, 512, true]] as const) {
        expect(uploadWeight(ctx, 'w', info.type, bytes, rows, cols).paired).toBe(paired);
        for (const tokens of [1, 5]) {
          const x = Float32Array.from({ length: tokens * cols }, signedUniform(11));
          const got = await gpuMatmul(ctx, info.type, bytes, rows, cols, x, tokens);
          expect(normalizedError(got, cpuMatmul(info.type, bytes, rows, cols, x, tokens)), `${name} ${rows}x${cols} T=${tokens}`).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('the GPU configuration (up to 64 threads a row) and the CPU-driver one (a thread a row) give the same result', async () => {
    const gpu = await testDevice();
    for (const softwareAdapter of [false, true]) {
      const ctx = new KernelContext({ ...gpu, caps: { ...gpu.caps, softwareAdapter } });
      for (const name of ['q8_0', 'q4_K', 'f16']) {
        const info = vectors.requireTensor(`w.${name}`);
        const bytes = await vectors.tensorBytes(info);
        const [cols, rows] = info.dims as [number, number];
        for (const tokens of [1, 8]) {
          const x = Float32Array.from({ length: tokens * cols }, signedUniform(13));
          const got = await gpuMatmul(ctx, info.type, bytes, rows, cols, x, tokens);
          expect(normalizedError(got, cpuMatmul(info.type, bytes, rows, cols, x, tokens)), `${name} software=${softwareAdapter} T=${tokens}`).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('accumulates into Y and adds a bias', async () => {
    const ctx = new KernelContext(await testDevice());
    const info = vectors.requireTensor('w.q4_K');
    const bytes = await vectors.tensorBytes(info);
    const r = signedUniform(7);
    const tokens = 5;
    const x = Float32Array.from({ length: tokens * 512 }, r);
    const init = Float32Array.from({ length: tokens * 64 }, r);
    const bias = Float32Array.from({ length: 64 }, r);
    const got = await gpuMatmul(ctx, info.type, bytes, 64, 512, x, tokens, init, bias);
    const want = cpuMatmul(info.type, bytes, 64, 512, x, tokens).map((v, i) => v + init[i]! + bias[i % 64]!);
    expect(normalizedError(got, want)).toBeLessThan(1e-5);
  });

  it('F16 rows not a multiple of 32 (stories260K-Q8_0 ffn_down, 172 wide)', async () => {
    const ctx = new KernelContext(await testDevice());
    const m = openModel('stories260K-Q8_0.gguf');
    const info = m.requireTensor('blk.0.ffn_down.weight');
    expect(ggmlTypeName(info.type)).toBe('F16');
    const [cols, rows] = info.dims as [number, number];
    const bytes = await m.tensorBytes(info);
    for (const tokens of [1, 6]) {
      const x = Float32Array.from({ length: tokens * cols }, signedUniform(3));
      const got = await gpuMatmul(ctx, info.type, bytes, rows, cols, x, tokens);
      expect(normalizedError(got, cpuMatmul(info.type, bytes, rows, cols, x, tokens))).toBeLessThan(1e-5);
    }
  });

  it('splits a tensor larger than one storage binding into row ranges', async () => {
    const gpu = await testDevice();
    const small = new KernelContext({ ...gpu, caps: { ...gpu.caps, maxStorageBufferBindingSize: 34 * 16 * 10 + 8 } });
    const info = vectors.requireTensor('w.q8_0');
    const bytes = await vectors.tensorBytes(info);
    const w = uploadWeight(small, 'w', info.type, bytes, 64, 512);
    expect(w.parts.length).toBe(7);
    const x = Float32Array.from({ length: 2 * 512 }, signedUniform(9));
    const got = await gpuMatmul(small, info.type, bytes, 64, 512, x, 2);
    expect(normalizedError(got, cpuMatmul(info.type, bytes, 64, 512, x, 2))).toBeLessThan(1e-5);
  });

  it('refuses a type the GPU cannot decode, naming tensor and type', async () => {
    const ctx = new KernelContext(await testDevice());
    expect(() => uploadWeight(ctx, 'blk.0.ffn_up.weight', GgmlType.IQ2_XXS, new Uint8Array(64 * 2 * 66), 64, 512)).toThrow(/blk\.0\.ffn_up\.weight is IQ2_XXS/);
  });
});
