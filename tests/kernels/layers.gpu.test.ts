// RMSNorm, RoPE, SwiGLU and embedding lookup against the CPU reference's own functions.
import { describe, expect, it } from 'vitest';
import { KernelContext } from '../../src/gpu/kernels/context';
import { encodeSwiglu } from '../../src/gpu/kernels/elementwise';
import { encodeEmbed } from '../../src/gpu/kernels/embed';
import { encodeRmsNorm } from '../../src/gpu/kernels/norm';
import { encodeRope, RopeTable } from '../../src/gpu/kernels/rope';
import { uploadWeight } from '../../src/gpu/kernels/weights';
import type { ModelConfig } from '../../src/gpu/model/config';
import { readModelConfig } from '../../src/gpu/model/config';
import { rmsNorm, ropeHead } from '../../src/gpu/model/cpu-reference';
import { dequantize } from '../../src/gpu/quant';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';
import { normalizedError, signedUniform } from '../helpers/numeric';

const ctxP = testDevice().then((g) => new KernelContext(g));

describe('layer kernels vs CPU', () => {
  it('RMSNorm: plain, per-head weights in place, and gathered rows (1e-6 normalized)', async () => {
    const ctx = await ctxP;
    const r = signedUniform(1);
    const n = 96;
    const rows = 5;
    const x = Float32Array.from({ length: rows * n }, r);
    const g = Float32Array.from({ length: n }, r);
    const want = new Float32Array(rows * n);
    for (let j = 0; j < rows; j++) rmsNorm(want.subarray(j * n), x.subarray(j * n), g, 1e-5);
    const xb = ctx.upload(x, 'x');
    const gb = ctx.upload(g, 'g');
    const yb = ctx.storage(rows * n * 4, 'y');
    ctx.run((pass) => encodeRmsNorm(ctx, pass, { x: xb, weight: gb, y: yb, n, rows, eps: 1e-5 }));
    expect(normalizedError(new Float32Array(await ctx.read(yb)), want)).toBeLessThan(1e-6);

    const hd = 16;
    const gh = g.subarray(0, hd);
    const wantHeads = new Float32Array(x.length);
    for (let h = 0; h < x.length / hd; h++) rmsNorm(wantHeads.subarray(h * hd), x.subarray(h * hd), gh, 1e-6);
    const xin = ctx.upload(x, 'x2');
    ctx.run((pass) => encodeRmsNorm(ctx, pass, { x: xin, weight: ctx.upload(gh, 'gh'), y: xin, n: hd, rows: x.length / hd, eps: 1e-6 }));
    expect(normalizedError(new Float32Array(await ctx.read(xin)), wantHeads)).toBeLessThan(1e-6);

    const pick = [4, 0];
    const yg = ctx.storage(2 * n * 4, 'yg');
    ctx.run((pass) => encodeRmsNorm(ctx, pass, { x: xb, weight: gb, y: yg, n, rows: 2, eps: 1e-5, gather: ctx.upload(Uint32Array.from(pick), 'rows') }));
    const wantG = new Float32Array(2 * n);
    wantG.set(want.subarray(4 * n, 5 * n), 0);
    wantG.set(want.subarray(0, n), n);
    expect(normalizedError(new Float32Array(await ctx.read(yg)), wantG)).toBeLessThan(1e-6);
  });

  for (const style of ['normal', 'neox'] as const) {
    it(`RoPE ${style}: positions up to 4000, partial rotary dims (2e-6 normalized)`, async () => {
      const ctx = await ctxP;
      const c = { headDim: 64, ropeDim: 32, ropeBase: 500000, ropeStyle: style, ropeLinearScale: 1, contextLength: 8192 } as ModelConfig;
      const r = signedUniform(2);
      const heads = 3;
      const positions = [0, 1, 17, 4000];
      const x = Float32Array.from({ length: positions.length * heads * c.headDim }, r);
      const want = Float32Array.from(x);
      positions.forEach((p, t) => {
        for (let h = 0; h < heads; h++) ropeHead(want, (t * heads + h) * c.headDim, p, c);
      });
      const table = new RopeTable(ctx, c);
      const xb = ctx.upload(x, 'x');
      const tb = table.ensure(4000);
      ctx.run((pass) => encodeRope(ctx, pass, c, { x: xb, positions: ctx.upload(Uint32Array.from(positions), 'pos'), table: tb, tokens: positions.length, heads }));
      expect(normalizedError(new Float32Array(await ctx.read(xb)), want)).toBeLessThan(2e-6);
    });
  }

  it('SwiGLU (1e-6 normalized)', async () => {
    const ctx = await ctxP;
    const r = signedUniform(3);
    const n = 1000;
    const g = Float32Array.from({ length: n }, () => r() * 8);
    const u = Float32Array.from({ length: n }, r);
    const gb = ctx.upload(g, 'g');
    ctx.run((pass) => encodeSwiglu(ctx, pass, gb, ctx.upload(u, 'u'), n));
    const want = g.map((x, i) => (x / (1 + Math.exp(-x))) * u[i]!);
    expect(normalizedError(new Float32Array(await ctx.read(gb)), want)).toBeLessThan(1e-6);
  });

  for (const model of ['TinyStories-656K-Q4_0.gguf', 'stories260K.gguf']) {
    it(`embedding lookup from ${model} equals the CPU dequantization exactly`, async () => {
      const ctx = await ctxP;
      const file = openModel(model);
      const c = readModelConfig(file.header);
      const t = file.requireTensor('token_embd.weight');
      const bytes = await file.tensorBytes(t);
      const table = uploadWeight(ctx, t.name, t.type, bytes, c.vocabSize, c.dim);
      const tokens = [0, 1, 5, c.vocabSize - 1, 42];
      const yb = ctx.storage(tokens.length * c.dim * 4, 'y');
      ctx.run((pass) => encodeEmbed(ctx, pass, table, ctx.upload(Uint32Array.from(tokens), 'tok'), yb, tokens.length));
      const all = dequantize(t.type, bytes, t.elementCount);
      const want = new Float32Array(tokens.length * c.dim);
      tokens.forEach((tok, i) => want.set(all.subarray(tok * c.dim, (tok + 1) * c.dim), i * c.dim));
      expect(Array.from(new Float32Array(await ctx.read(yb)))).toEqual(Array.from(want));
    });
  }
});
