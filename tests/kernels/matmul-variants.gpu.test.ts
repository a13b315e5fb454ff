// Every matvec variant the tuner may choose is exact against the CPU matvec on this driver (run on SwiftShader by
// default, on lavapipe with VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json).
import { describe, expect, it } from 'vitest';
import { KernelContext } from '../../src/gpu/kernels/context';
import {
  defaultGemmVariant,
  defaultMatvecVariant,
  encodeMatmul,
  gemmVariantKey,
  gemmVariantOf,
  gemmVariants,
  hasWideLoads,
  matvecVariantKey,
  matvecVariantOf,
  matvecVariants,
  parseGemmVariant,
  parseMatvecVariant,
  useGemmVariant,
  useMatvecVariant,
  type GemmVariant,
  type MatmulOptions,
  type MatvecVariant,
} from '../../src/gpu/kernels/matmul';
import { uploadWeight } from '../../src/gpu/kernels/weights';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { quantize } from '../../src/gpu/quant/quantize';
import { matvecRows } from '../../src/gpu/quant';
import { testDevice } from '../helpers/gpu';
import { normalizedError, signedUniform } from '../helpers/numeric';
import { openModel } from '../helpers/shared';

const vectors = openModel('quant-testvectors.gguf');
const ALL_TYPES = ['f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_K', 'q3_K', 'q4_K', 'q5_K', 'q6_K', 'iq4_nl', 'iq4_xs'];

async function variantsOf(ctx: KernelContext): Promise<MatvecVariant[]> {
  return matvecVariants(ctx.caps, ctx.device.adapterInfo?.subgroupMinSize ?? 4);
}

async function check(ctx: KernelContext, name: string, variant: MatvecVariant, tokens: number, rows?: number): Promise<void> {
  await checkForced(ctx, name, { matvec: variant }, matvecVariantKey(variant), tokens, rows);
}

async function checkForced(ctx: KernelContext, name: string, force: MatmulOptions['force'], label: string, tokens: number, rows?: number): Promise<void> {
  const info = vectors.requireTensor(`w.${name}`);
  const all = await vectors.tensorBytes(info);
  const [cols, allRows] = info.dims as [number, number];
  const r = rows ?? allRows;
  const bytes = all.subarray(0, (all.length / allRows) * r);
  const x = Float32Array.from({ length: tokens * cols }, signedUniform(tokens * 31 + r));
  const w = uploadWeight(ctx, 'w', info.type, bytes, r, cols);
  const xb = ctx.upload(x, 'x');
  const yb = ctx.storage(tokens * r * 4, 'y');
  ctx.run((pass) => encodeMatmul(ctx, pass, w, xb, yb, tokens, { force }));
  const got = new Float32Array(await ctx.read(yb, tokens * r * 4));
  const want = new Float32Array(tokens * r);
  for (let t = 0; t < tokens; t++) want.set(matvecRows(info.type, bytes, r, cols, x.subarray(t * cols, (t + 1) * cols)), t * r);
  expect(normalizedError(got, want), `${name} ${label} T=${tokens} rows=${r}`).toBeLessThan(1e-5);
}

describe('matvec variants (threads per row, rows per workgroup, subgroup reduction)', () => {
  it('names round-trip, and malformed names are refused', () => {
    for (const v of [{ threadsPerRow: 8, workgroupSize: 64, reduction: 'workgroup' }, { threadsPerRow: 4, workgroupSize: 64, reduction: 'subgroup' }] as const) {
      expect(parseMatvecVariant(matvecVariantKey(v))).toEqual(v);
    }
    for (const bad of ['tpr3.wg64.wg', 'tpr128.wg64.wg', 'tpr8.wg64', 'fast']) expect(parseMatvecVariant(bad)).toBeUndefined();
  });

  it('the family offers 1 … 64 threads a row at 64 and 256 invocations, and subgroup reductions where the device has them', async () => {
    const ctx = new KernelContext(await testDevice());
    const keys = (await variantsOf(ctx)).map(matvecVariantKey);
    expect(keys).toEqual(expect.arrayContaining(['tpr1.wg64.wg', 'tpr64.wg64.wg', 'tpr8.wg256.wg']));
    // Both software drivers report `subgroups` (SwiftShader subgroups of 4, lavapipe 8).
    expect(ctx.caps.subgroups).toBe(true);
    expect(keys).toContain('tpr4.wg64.sg');
    expect(matvecVariants({ subgroups: false, maxComputeInvocationsPerWorkgroup: 128 }).map(matvecVariantKey).filter((k) => k.endsWith('.sg') || k.includes('wg256'))).toEqual([]);
  });

  it('every variant is exact on Q8_0, Q4_0, Q4_K and F16 for decode and a small batch, full and partial row tiles', async () => {
    const ctx = new KernelContext(await testDevice());
    for (const variant of await variantsOf(ctx)) {
      for (const name of ['q8_0', 'q4_0', 'q4_K', 'f16']) {
        await check(ctx, name, variant, 1);
        await check(ctx, name, variant, 3, 40);
      }
    }
  });

  // Each pipeline compiles for seconds on lavapipe: the three layouts furthest from each other, not all of them.
  it('the widest subgroup reduction, 256 rows a workgroup and 64 threads a row are exact on every weight type', async () => {
    const ctx = new KernelContext(await testDevice());
    const variants = await variantsOf(ctx);
    const subgroup = variants.filter((v) => v.reduction === 'subgroup').at(-1)!;
    const picks = [subgroup, { threadsPerRow: 1, workgroupSize: 256, reduction: 'workgroup' }, { threadsPerRow: 64, workgroupSize: 64, reduction: 'workgroup' }] as const;
    for (const variant of picks) {
      for (const name of ALL_TYPES) await check(ctx, name, variant, 1);
    }
  }, 300_000);

  it('a variant applied to a context is what its matvecs use; clearing it restores the fixed rule', async () => {
    const ctx = new KernelContext(await testDevice());
    expect(matvecVariantOf(ctx)).toEqual(defaultMatvecVariant(ctx.caps));
    const chosen: MatvecVariant = { threadsPerRow: 4, workgroupSize: 64, reduction: 'subgroup' };
    useMatvecVariant(ctx, chosen);
    expect(matvecVariantOf(ctx)).toEqual(chosen);
    const before = ctx.pipelines.size;
    await check(ctx, 'q8_0', matvecVariantOf(ctx), 1);
    const info = vectors.requireTensor('w.q8_0');
    const w = uploadWeight(ctx, 'w', info.type, await vectors.tensorBytes(info), 64, 512);
    const x = ctx.upload(new Float32Array(512).fill(1), 'x');
    const y = ctx.storage(64 * 4, 'y');
    const compiled = ctx.pipelines.size;
    ctx.run((pass) => encodeMatmul(ctx, pass, w, x, y, 1)); // no force: the applied variant, already compiled
    expect(ctx.pipelines.size).toBe(compiled);
    expect(compiled).toBe(before + 1);
    useMatvecVariant(ctx, undefined);
    expect(matvecVariantOf(ctx)).toEqual(defaultMatvecVariant(ctx.caps));
    ctx.checkErrors();
  });
});

describe('prefill GEMM variants (tile rows x tokens, register blocks)', () => {
  it('names round-trip, malformed or impossible tiles are refused, and the device\'s limits bound the family', async () => {
    const v: GemmVariant = { bm: 32, bn: 64, rm: 4, tn: 8 };
    expect(parseGemmVariant(gemmVariantKey(v))).toEqual(v);
    for (const bad of ['bm64.bn64.rm8.tn6', 'bm64.bn64.rm16.tn8', 'bm60.bn64.rm8.tn8', 'bm64.bn64', 'tpr8.wg64.wg']) expect(parseGemmVariant(bad)).toBeUndefined();
    const ctx = new KernelContext(await testDevice());
    const keys = gemmVariants(ctx.caps).map(gemmVariantKey);
    // Both fixed-rule tiles are always offered (16 KiB of workgroup memory, 64 invocations).
    expect(keys).toEqual(expect.arrayContaining([gemmVariantKey(defaultGemmVariant(128)), gemmVariantKey(defaultGemmVariant(32))]));
    const small = gemmVariants({ maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384 });
    expect(small.every((t) => (t.bm + t.bn) * 128 <= 16384)).toBe(true);
    expect(small.map(gemmVariantKey)).not.toContain('bm128.bn64.rm8.tn8');
  });

  // Every tile on the four weight layouts the engine meets most, with partial row and token tiles; each tile compiles
  // once per type, which takes seconds on a CPU driver.
  it('every tile is exact on Q8_0, Q4_0, Q4_K and F16, full and partial tiles', async () => {
    const ctx = new KernelContext(await testDevice());
    for (const gemm of gemmVariants(ctx.caps)) {
      for (const name of ['q8_0', 'q4_0', 'q4_K', 'f16']) {
        await checkForced(ctx, name, { kernel: 'gemm', gemm }, gemmVariantKey(gemm), 40, 40);
        await checkForced(ctx, name, { kernel: 'gemm', gemm }, gemmVariantKey(gemm), 136);
      }
    }
  }, 600_000);

  it('a tuned tile applies to large prefills only; clearing it restores the fixed rule', async () => {
    const ctx = new KernelContext(await testDevice());
    const tuned: GemmVariant = { bm: 32, bn: 32, rm: 4, tn: 4 };
    useGemmVariant(ctx, tuned);
    expect(gemmVariantOf(ctx, 128)).toEqual(tuned);
    expect(gemmVariantOf(ctx, 24)).toEqual(defaultGemmVariant(24));
    await checkForced(ctx, 'q4_0', { kernel: 'gemm' }, 'tuned', 72);
    useGemmVariant(ctx, undefined);
    expect(gemmVariantOf(ctx, 128)).toEqual(defaultGemmVariant(128));
  });
});

describe('matvec wide loads (vec4<u32> reads of quant blocks)', () => {
  it('names round-trip, and the family offers each 64-invocation layout again with wide loads when asked', async () => {
    const wide: MatvecVariant = { threadsPerRow: 8, workgroupSize: 64, reduction: 'workgroup', loads: 'wide' };
    expect(matvecVariantKey(wide)).toBe('tpr8.wg64.wg.v4');
    expect(parseMatvecVariant('tpr8.wg64.wg.v4')).toEqual(wide);
    expect(parseMatvecVariant('tpr8.wg64.wg.v8')).toBeUndefined();
    const ctx = new KernelContext(await testDevice());
    const keys = matvecVariants(ctx.caps, 4, true).map(matvecVariantKey);
    expect(keys).toEqual(expect.arrayContaining(['tpr1.wg64.wg.v4', 'tpr64.wg64.wg.v4', 'tpr4.wg64.sg.v4']));
    expect(keys.filter((k) => k.includes('wg256') && k.endsWith('.v4'))).toEqual([]);
    expect((await variantsOf(ctx)).some((v) => v.loads === 'wide')).toBe(false);
  });

  it('every wide variant is exact on Q8_0, Q4_0 and Q4_K (16-byte-aligned and word-aligned quants), decode and a small batch', async () => {
    const ctx = new KernelContext(await testDevice());
    const wide = matvecVariants(ctx.caps, ctx.device.adapterInfo?.subgroupMinSize ?? 4, true).filter((v) => v.loads === 'wide');
    for (const variant of wide) {
      for (const name of ['q8_0', 'q4_0', 'q4_K']) {
        await check(ctx, name, variant, 1);
        await check(ctx, name, variant, 3, 40);
      }
      // Two blocks a row (paired): quant words at every word offset mod 16, and a buffer whose last vec4 runs past its
      // end. Three blocks a row: GGUF's own unaligned layout, which reads as without wide loads.
      for (const type of [GgmlType.Q8_0, GgmlType.Q4_0] as const) {
        await checkQuantized(ctx, type, variant, 37, 64);
        await checkQuantized(ctx, type, variant, 37, 96);
      }
    }
  }, 600_000);

  it('a wide variant on a type without a wide path reads as without', async () => {
    expect(hasWideLoads({ type: GgmlType.Q8_0, paired: false })).toBe(false);
    const ctx = new KernelContext(await testDevice());
    for (const name of ['f16', 'q6_K', 'q5_0']) await check(ctx, name, { threadsPerRow: 4, workgroupSize: 64, reduction: 'workgroup', loads: 'wide' }, 1);
  });
});

/** Y = X W^T for a random (rows, cols) matrix quantized to `type`, against the CPU matvec. */
async function checkQuantized(ctx: KernelContext, type: GgmlType.Q8_0 | GgmlType.Q4_0, variant: MatvecVariant, rows: number, cols: number): Promise<void> {
  const bytes = quantize(type, Float32Array.from({ length: rows * cols }, signedUniform(rows + cols)));
  const x = Float32Array.from({ length: cols }, signedUniform(cols));
  const w = uploadWeight(ctx, 'w', type, bytes, rows, cols);
  const xb = ctx.upload(x, 'x');
  const yb = ctx.storage(rows * 4, 'y');
  ctx.run((pass) => encodeMatmul(ctx, pass, w, xb, yb, 1, { force: { matvec: variant } }));
  const got = new Float32Array(await ctx.read(yb, rows * 4));
  expect(normalizedError(got, matvecRows(type, bytes, rows, cols, x)), `${ggmlTypeName(type)} ${matvecVariantKey(variant)} ${rows}x${cols}`).toBeLessThan(1e-5);
}

