// The MoE kernels against the CPU: the router's softmax / top-k / renormalisation (ties included) and gpt-oss's
// top-k-then-softmax, the expert-indexed matvec (per pair and grouped by expert, F32 / Q8_0 / Q4_K / MXFP4, experts
// split across bindings, with and without gpt-oss's expert biases), and gpt-oss's clamped SwiGLU.
import { describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { KernelContext } from '../../src/gpu/kernels/context';
import { encodeExpertGrouping, encodeExpertMatvec, encodeGroupedExpertMatvec, encodeRoute, encodeSwigluOai, expertTiles, uploadExperts } from '../../src/gpu/kernels/moe';
import { rowBytes } from '../../src/gpu/kernels/weights';
import { SWIGLU_OAI, type MoeConfig } from '../../src/gpu/model/moe-config';
import { routeTopK, swigluOai } from '../../src/gpu/model/moe-reference';
import { dequantize } from '../../src/gpu/quant';
import { quantize } from '../../src/gpu/quant/quantize';
import { testDevice } from '../helpers/gpu';
import { signedUniform } from '../helpers/numeric';
import { randomBlocks } from '../helpers/random-blocks';

async function gpuRoute(ctx: KernelContext, logits: Float32Array, m: MoeConfig): Promise<{ ids: Uint32Array; weights: Float32Array }> {
  const tokens = logits.length / m.experts;
  const b = { logits: ctx.upload(logits, 'logits'), ids: ctx.storage(tokens * m.used * 4, 'ids'), weights: ctx.storage(tokens * m.used * 4, 'w') };
  const extras = { sigmoid: m.gating === 'sigmoid', ...(m.weightsScale !== undefined ? { scale: m.weightsScale } : {}) };
  ctx.run((pass) => encodeRoute(ctx, pass, b, tokens, m.experts, m.used, m.normalizeWeights, m.gating === 'softmax-weight', extras));
  return { ids: new Uint32Array(await ctx.read(b.ids)), weights: new Float32Array(await ctx.read(b.weights)) };
}

describe('MoE router kernel vs routeTopK', () => {
  const cases: [string, MoeConfig][] = [
    ['8 experts, top-2 (the fixture model)', { experts: 8, used: 2, expertFfnDim: 64, normalizeWeights: true, gating: 'softmax', oai: false }],
    ['128 experts, top-8 (Qwen3-30B-A3B)', { experts: 128, used: 8, expertFfnDim: 768, normalizeWeights: true, gating: 'softmax', oai: false }],
    ['16 experts, top-4, no renormalisation', { experts: 16, used: 4, expertFfnDim: 64, normalizeWeights: false, gating: 'softmax', oai: false }],
    ['gpt-oss-20b: 32 experts, top-4 of the logits, softmax over the 4', { experts: 32, used: 4, expertFfnDim: 2880, normalizeWeights: false, gating: 'softmax-weight', oai: true }],
    ['gpt-oss synthetic: 8 experts, top-4 of the logits', { experts: 8, used: 4, expertFfnDim: 64, normalizeWeights: false, gating: 'softmax-weight', oai: true }],
    ['DeepSeek-V2-Lite: 64 experts, top-6, weights times 1.0', { experts: 64, used: 6, expertFfnDim: 1408, normalizeWeights: false, gating: 'softmax', oai: false, weightsScale: 1 }],
    ['DeepSeek-V2: 160 experts, top-6, weights times 16', { experts: 160, used: 6, expertFfnDim: 1536, normalizeWeights: false, gating: 'softmax', oai: false, weightsScale: 16 }],
    ['sigmoid gating, renormalised, times 2.5', { experts: 16, used: 4, expertFfnDim: 64, normalizeWeights: true, gating: 'sigmoid', oai: false, weightsScale: 2.5 }],
  ];
  for (const [name, m] of cases) {
    it(`${name}: same experts in the same order, weights within 1e-6 (relative past 1), ties to the lower index`, async () => {
      const ctx = new KernelContext(await testDevice());
      const r = signedUniform(m.experts);
      const rows: number[][] = Array.from({ length: 37 }, () => Array.from({ length: m.experts }, () => 4 * r()));
      rows.push(new Array<number>(m.experts).fill(0)); // every expert tied: 0, 1, ..., used - 1
      const tie = Array.from({ length: m.experts }, (_, e) => -e);
      tie[m.experts - 1] = tie[m.used - 1]!; // the last expert ties the k-th best: the k-th (lower index) wins
      rows.push(tie);
      rows.push(Array.from({ length: m.experts }, (_, e) => (e % 3 === 0 ? 1.5 : -1))); // a tied top group
      const logits = Float32Array.from(rows.flat());
      const got = await gpuRoute(ctx, logits, m);
      rows.forEach((row, t) => {
        const want = routeTopK(Float32Array.from(row), m);
        expect(Array.from(got.ids.subarray(t * m.used, (t + 1) * m.used)), `row ${t}`).toEqual(want.ids);
        want.weights.forEach((w, k) => expect(Math.abs(got.weights[t * m.used + k]! - w), `row ${t} slot ${k}`).toBeLessThan(1e-6 * Math.max(1, w)));
      });
      expect(routeTopK(new Float32Array(m.experts), m).ids).toEqual(Array.from({ length: m.used }, (_, k) => k));
    });
  }
});

/** CPU oracle: y(pair, rows) = W[ids[pair]] @ x(row of pair) (+ bias row), times the pair's weight when `weighted`. */
function cpuExperts(w: Float32Array, rows: number, cols: number, ids: Uint32Array, wts: Float32Array, x: Float32Array, used: number, xPerPair: boolean, weighted: boolean, bias?: Float32Array): Float32Array {
  const y = new Float32Array(ids.length * rows);
  ids.forEach((e, p) => {
    const xo = (xPerPair ? p : Math.floor(p / used)) * cols;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[(e * rows + r) * cols + c]! * x[xo + c]!;
      if (bias) s = Math.fround(Math.fround(s) + bias[e * rows + r]!);
      y[p * rows + r] = weighted ? s * wts[p]! : s;
    }
  });
  return y;
}

describe('expert-indexed matvec vs the CPU', () => {
  const types = [GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.MXFP4] as const;
  for (const [type, biased] of types.flatMap((t) => [[t, false], [t, true]] as const)) {
    it(`${ggmlTypeName(type)}${biased ? ' with expert biases' : ''}: per pair and grouped by expert, experts split over bindings, within 1e-5 normalized`, async () => {
      const gpu = await testDevice();
      const [experts, rows, cols, used, tokens] = [6, 40, 256, 2, 11];
      // A binding limit of two experts: the tensor is split into three groups of whole experts.
      const expertBytes = rows * rowBytes(type, cols);
      const small = new KernelContext({ ...gpu, caps: { ...gpu.caps, maxStorageBufferBindingSize: 2 * expertBytes + 8 } });
      const r = signedUniform(type + 1);
      const f = Float32Array.from({ length: experts * rows * cols }, r);
      // MXFP4 (gpt-oss's experts): random valid blocks, since our quantizer does not write the type.
      const bytes = type === GgmlType.F32 ? new Uint8Array(f.buffer) : type === GgmlType.MXFP4 ? randomBlocks(type, f.length / 32, 39, 0.05) : quantize(type, f);
      const w = dequantize(type, bytes, f.length);
      const t = uploadExperts(small, 'exps', type, bytes, experts, rows, cols);
      expect(t.groups.map((g) => g.experts)).toEqual([2, 2, 2]);
      const pairs = tokens * used;
      // Token 0 uses experts 5 and 0; the rest random, expert 3 never (a group with no pairs).
      const ids = Uint32Array.from({ length: pairs }, (_, p) => (p < 2 ? [5, 0][p]! : [0, 1, 2, 4, 5][Math.floor(((r() + 1) / 2) * 5)]!));
      const wts = Float32Array.from({ length: pairs }, () => (r() + 1) / 2);
      const route = { ids: small.upload(ids, 'ids'), weights: small.upload(wts, 'wts') };
      const grouping = { list: small.storage(pairs * 4, 'list'), tiles: small.storage(expertTiles(pairs, experts) * 12, 'tiles') };
      const biasValues = biased ? Float32Array.from({ length: experts * rows }, r) : undefined;
      const bias = biasValues ? { bias: small.upload(biasValues, 'bias') } : {};
      for (const xPerPair of [false, true]) {
        const x = Float32Array.from({ length: (xPerPair ? pairs : tokens) * cols }, r);
        const xb = small.upload(x, 'x');
        const want = cpuExperts(w, rows, cols, ids, wts, x, used, xPerPair, xPerPair, biasValues);
        const y1 = small.storage(pairs * rows * 4, 'y1');
        const y2 = small.storage(pairs * rows * 4, 'y2');
        small.run((pass) => {
          encodeExpertMatvec(small, pass, t, route, xb, y1, pairs, used, { xPerPair, weighted: xPerPair, ...bias });
          encodeExpertGrouping(small, pass, route.ids, grouping, pairs, experts);
          encodeGroupedExpertMatvec(small, pass, t, grouping, route.weights, xb, y2, pairs, used, { xPerPair, weighted: xPerPair, ...bias });
        });
        const perPair = new Float32Array(await small.read(y1));
        const grouped = new Float32Array(await small.read(y2));
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const err = (a: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0) / scale;
        expect(err(perPair)).toBeLessThan(1e-5);
        // Same arithmetic in the same order: the grouped kernel equals the per-pair one bit for bit.
        expect(Array.from(grouped)).toEqual(Array.from(perPair));
      }
    });
  }
});

describe("gpt-oss's clamped SwiGLU (swiglu_oai) vs the CPU", () => {
  it('inside, at and past the clamp limit of 7, on both inputs: within 1e-6 relative', async () => {
    const ctx = new KernelContext(await testDevice());
    const r = signedUniform(1702);
    const n = 4096;
    const gate = Float32Array.from({ length: n }, () => 12 * r());
    const up = Float32Array.from({ length: n }, () => 12 * r());
    gate.set([7, -7, 7.0001, -30, 30, 0], 0);
    up.set([7, -7, 7.0001, -30, 30, -1], 0);
    const g = ctx.upload(gate, 'gate');
    const u = ctx.upload(up, 'up');
    ctx.run((pass) => encodeSwigluOai(ctx, pass, g, u, n, SWIGLU_OAI));
    const got = new Float32Array(await ctx.read(g));
    gate.forEach((x, i) => {
      const want = swigluOai(x, up[i]!);
      expect(Math.abs(got[i]! - want), `element ${i}: swiglu_oai(${x}, ${up[i]})`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
    });
  });
});
