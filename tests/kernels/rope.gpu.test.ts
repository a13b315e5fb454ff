// The RoPE kernel with the scalings real files use (YaRN, LongRoPE factors and attention factor, Phi-3's partial
// rotary dims) against the CPU reference's ropeHead, at positions up to 4000.
import { describe, expect, it } from 'vitest';
import { KernelContext } from '../../src/gpu/kernels/context';
import { encodeRope, RopeTable } from '../../src/gpu/kernels/rope';
import type { ModelConfig } from '../../src/gpu/model/config';
import { ropeHead } from '../../src/gpu/model/cpu-reference';
import { yarnRamp, type RopeScaling } from '../../src/gpu/model/rope-scaling';
import { testDevice } from '../helpers/gpu';
import { normalizedError, signedUniform } from '../helpers/numeric';

const ctxP = testDevice().then((g) => new KernelContext(g));

const CASES: readonly { name: string; config: ModelConfig; factors?: Float32Array }[] = [
  {
    name: 'YaRN x4 (gpt-oss shape: head dim 64, base 150000, original context 4096)',
    config: {
      headDim: 64, ropeDim: 64, ropeBase: 150000, ropeStyle: 'neox', ropeLinearScale: 1, contextLength: 8192,
      ropeScaling: { freqScale: 0.25, yarn: yarnRamp(64, 4096, 150000), attnFactor: 1 + 0.1 * Math.log(4) } satisfies RopeScaling,
    } as ModelConfig,
  },
  {
    name: 'LongRoPE (Phi-3 shape: head dim 96, 3/4 rotated, factors in [1, 4], attention factor 1.19)',
    config: {
      headDim: 96, ropeDim: 72, ropeBase: 10000, ropeStyle: 'neox', ropeLinearScale: 1, contextLength: 8192,
      ropeScaling: { freqScale: 1, attnFactor: 1.19, longRopeOriginalContext: 4096 } satisfies RopeScaling,
    } as ModelConfig,
    factors: Float32Array.from({ length: 36 }, (_, i) => 1 + (3 * i) / 35),
  },
];

describe('RoPE kernel with scalings vs CPU', () => {
  for (const { name, config: c, factors } of CASES) {
    it(`${name} (2e-6 normalized)`, async () => {
      const ctx = await ctxP;
      const r = signedUniform(5);
      const heads = 3;
      const positions = [0, 1, 17, 4000];
      const x = Float32Array.from({ length: positions.length * heads * c.headDim }, r);
      const want = Float32Array.from(x);
      positions.forEach((p, t) => {
        for (let h = 0; h < heads; h++) ropeHead(want, (t * heads + h) * c.headDim, p, c, factors);
      });
      const table = new RopeTable(ctx, c, factors);
      const xb = ctx.upload(x, 'x');
      const tb = table.ensure(4000);
      ctx.run((pass) => encodeRope(ctx, pass, c, { x: xb, positions: ctx.upload(Uint32Array.from(positions), 'pos'), table: tb, tokens: positions.length, heads }));
      const got = new Float32Array(await ctx.read(xb));
      expect(normalizedError(got, want)).toBeLessThan(2e-6);
      // Dims past ropeDim pass through untouched.
      for (let row = 0; row < positions.length * heads; row++) {
        const o = row * c.headDim;
        expect(got.subarray(o + c.ropeDim, o + c.headDim)).toEqual(x.subarray(o + c.ropeDim, o + c.headDim));
      }
      table.destroy();
    });
  }
});
