// The MLA attention pipelines without a device (issue 22): every layout has lanes covering the value row (the
// head-dim-256 defect of commit b7c68c9 was a value phase with zero key slots), fits the workgroup memory it is
// sized for, shares each block load among up to 16 query heads, and preprocesses to WGSL
// that stages no V tile (an MLA block has none).
import { describe, expect, it } from 'vitest';
import { decodeVariant, mergeVariant, naiveVariant, prefillVariant, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import { preprocess } from '../../src/gpu/kernels/shader';

const mla = (nHeads: number, latentDim: number, ropeDim: number, dtype: PagedAttentionShape['dtype'] = 'f16'): PagedAttentionShape => ({
  nHeads,
  nKvHeads: 1,
  headDim: latentDim + ropeDim,
  latentDim,
  dtype,
  maxBlocksPerSeq: 8,
});

const SHAPES = [mla(16, 512, 64), mla(16, 512, 64, 'q8_0'), mla(40, 256, 32), mla(128, 512, 64, 'f32'), mla(16, 32, 16), mla(16, 64, 32, 'q4_0'), mla(3, 32, 16)];

describe('MLA flash-decode layouts', () => {
  for (const shape of SHAPES) {
    for (const software of [false, true]) {
      for (const maxShared of [16384, 32768]) {
        it(`${shape.nHeads} heads, ${shape.latentDim} + ${shape.headDim - shape.latentDim!}, ${software ? 'CPU' : 'GPU'} driver, ${maxShared} bytes`, () => {
          const { layout, defines } = decodeVariant(shape, software, false, maxShared);
          const vd4 = shape.latentDim! / 4;
          expect(layout.slots).toBeGreaterThanOrEqual(1);
          expect(layout.slots * vd4).toBeLessThanOrEqual(layout.invocations);
          expect(layout.sharedBytes).toBeLessThanOrEqual(maxShared);
          expect(layout.headTile * layout.headTiles).toBeGreaterThanOrEqual(shape.nHeads);
          expect(layout.headTile).toBeLessThanOrEqual(16);
          expect(defines).toMatchObject({ KINDS: '1u', V_KIND: '0u', VD4: `${vd4}u`, D4: `${shape.headDim / 4}u`, GROUP: `${shape.nHeads}u` });
        });
      }
    }
  }

  it('DeepSeek-V2-Lite (16 heads, 576) takes 8 heads a tile in 32 KiB of workgroup memory, all 16 for narrow rows', () => {
    expect(decodeVariant(mla(16, 512, 64), false, false, 32768).layout.headTile).toBe(8);
    expect(decodeVariant(mla(16, 32, 16), false, false, 32768).layout.headTile).toBe(16);
  });
});

describe('MLA WGSL', () => {
  it('preprocesses to one entry point with no directive left; prefill stages no V tile', () => {
    for (const shape of SHAPES) {
      const variants = [decodeVariant(shape, false), decodeVariant(shape, true, true), mergeVariant(shape.latentDim!), prefillVariant(shape, 8), prefillVariant(shape, 16, true), naiveVariant(shape, 'naive_scores'), naiveVariant(shape, 'naive_sum')];
      for (const v of variants) {
        const code = preprocess(v.file.code, v.defines, v.file.library);
        expect(code.split('\n').filter((line) => /^\s*#/.test(line)), v.file.name).toEqual([]);
        expect(code.match(/\bfn main\(/g), v.file.name).toHaveLength(1);
        expect(code.includes('v_s'), v.file.name).toBe(false);
      }
    }
  });

  it('prefill keeps fewer accumulator vec4s than query vec4s (the value is the latent only)', () => {
    const { layout, defines } = prefillVariant(mla(16, 512, 64), 8);
    expect(layout.chunks).toBe(Math.ceil(144 / layout.lanes));
    expect(layout.accChunks).toBe(Math.ceil(128 / layout.lanes));
    expect(defines).toMatchObject({ CHUNKS: `${layout.chunks}u`, ACC_CHUNKS: `${layout.accChunks}u` });
  });
});
