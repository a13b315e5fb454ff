// The matvec tuner on a real model's weights: the choice is exact, kept under the device / version / shape key,
// reused without measuring, measured again on request; an inexact variant is never chosen; the engine applies it.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { decodeKeysPerSplitOf } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { defaultMatvecVariant, matvecVariantKey, matvecVariantOf, type MatvecVariant } from '../../src/gpu/kernels/matmul';
import { tunedMatvecVariant, tuneMatvec, type TuningMatrix } from '../../src/gpu/tuning/matvec-tuning';
import { memoryTuningStore } from '../../src/gpu/tuning/tuning-store';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';

const model = openModel('TinyStories-656K-Q4_0.gguf');
const vectors = openModel('quant-testvectors.gguf');
const SMALL: MatvecVariant[] = [
  { threadsPerRow: 1, workgroupSize: 64, reduction: 'workgroup' },
  { threadsPerRow: 4, workgroupSize: 64, reduction: 'subgroup' },
  { threadsPerRow: 8, workgroupSize: 256, reduction: 'workgroup' },
];

describe('matvec tuning on the model weights', () => {
  it('measures once, stores the choice under the device and model shape, then reuses it without measuring', async () => {
    const gpu = await testDevice();
    const ctx = new KernelContext(gpu);
    const store = memoryTuningStore();
    let progress = 0;
    const opts = { store, budgetMs: 60_000, repeats: 2, variants: SMALL, onProgress: () => void progress++ };
    const first = await tunedMatvecVariant(gpu, ctx, model, 'llama', opts);
    expect(first.source).toBe('measured');
    expect(first.key).toContain(gpu.adapterDescription);
    expect(first.key).toContain('llama q4_0:128x128');
    expect(first.result!.timings.every((t) => t.ms !== undefined)).toBe(true); // all three exact on this driver
    expect(SMALL.map(matvecVariantKey)).toContain(matvecVariantKey(first.variant));
    expect(store.entries.get(first.key)).toBe(matvecVariantKey(first.variant));
    expect(progress).toBe(3);

    const again = await tunedMatvecVariant(gpu, ctx, model, 'llama', opts);
    expect(again).toMatchObject({ source: 'stored', variant: first.variant });
    expect(progress).toBe(3);

    await store.set(first.key, 'tpr4.wg64.sg');
    expect((await tunedMatvecVariant(gpu, ctx, model, 'llama', opts)).variant).toEqual(SMALL[1]);
    expect((await tunedMatvecVariant(gpu, ctx, model, 'llama', { ...opts, retune: true })).source).toBe('measured');
    expect(progress).toBe(6);

    const empty = memoryTuningStore();
    expect(await tunedMatvecVariant(gpu, ctx, model, 'llama', { ...opts, store: empty, measure: false })).toMatchObject({ source: 'default', variant: defaultMatvecVariant(gpu.caps) });
    expect(empty.entries.size).toBe(0);
    ctx.checkErrors();
  });

  it('a variant that is not exact is skipped, however it times', async () => {
    const gpu = await testDevice();
    const ctx = new KernelContext(gpu);
    // A butterfly over 16 lanes (a 512-wide row has 16 chunks) crosses subgroups of 4 (SwiftShader) or 8 (lavapipe).
    const broken: MatvecVariant = { threadsPerRow: 64, workgroupSize: 64, reduction: 'subgroup' };
    const info = vectors.requireTensor('w.q8_0');
    const matrices: TuningMatrix[] = [{ name: 'w.q8_0', type: info.type, rows: 64, cols: 512, bytes: await vectors.tensorBytes(info) }];
    const r = await tuneMatvec(ctx, matrices, { budgetMs: 60_000, repeats: 1, variants: [SMALL[0]!, broken], clock: () => 0 });
    const t = r.timings.find((c) => c.key === matvecVariantKey(broken))!;
    expect(t.skipped === 'inexact' || t.skipped === 'error').toBe(true);
    expect(r.chosen).toBe(matvecVariantKey(defaultMatvecVariant(gpu.caps)));
  });

  it('the engine applies the variants given at load, and greedy decoding gives the same tokens as the fixed rules', async () => {
    const gpu = await testDevice();
    const greedy = async (opts: { matvecVariant?: MatvecVariant; decodeKeysPerSplit?: number }): Promise<number[]> => {
      const engine = await Engine.load(gpu, model, { maxSeqs: 1, contextLength: 128, ...opts });
      try {
        if (opts.matvecVariant) expect(matvecVariantOf(engine.ctx)).toEqual(opts.matvecVariant);
        if (opts.decodeKeysPerSplit) expect(decodeKeysPerSplitOf(engine.ctx)).toBe(opts.decodeKeysPerSplit);
        const r = await engine.generate(engine.createSequence(), [1, 80, 147, 201, 282, 57], { maxNewTokens: 24, sampling: { temperature: 0 } });
        return r.tokens;
      } finally {
        engine.destroy();
      }
    };
    const fixed = await greedy({});
    // 16 keys a split: 30 positions decode with up to 2 splits and the merge pass.
    expect(await greedy({ matvecVariant: SMALL[1]!, decodeKeysPerSplit: 16 })).toEqual(fixed);
  });
});
