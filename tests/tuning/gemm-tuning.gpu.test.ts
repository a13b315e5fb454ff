// The prefill GEMM tuner on real weights: every tile offered is checked against the CPU matmul and timed, the choice
// is kept under the device / version / model shape key and reused without measuring, and the engine's prefill with
// a tuned tile gives the same greedy tokens as the fixed rule.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { KernelContext } from '../../src/gpu/kernels/context';
import { defaultGemmVariant, gemmVariantKey, gemmVariantOf, type GemmVariant } from '../../src/gpu/kernels/matmul';
import { tunedGemmVariant, tuneGemm } from '../../src/gpu/tuning/gemm-tuning';
import type { TuningMatrix } from '../../src/gpu/tuning/matvec-tuning';
import { memoryTuningStore } from '../../src/gpu/tuning/tuning-store';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';

const model = openModel('TinyStories-656K-Q4_0.gguf');
const vectors = openModel('quant-testvectors.gguf');
const TILES: GemmVariant[] = [
  { bm: 64, bn: 64, rm: 8, tn: 8 },
  { bm: 32, bn: 32, rm: 4, tn: 4 },
];

describe('prefill GEMM tuning', () => {
  it('checks and times every tile on the matrices, the fixed rule first', async () => {
    const ctx = new KernelContext(await testDevice());
    const matrices: TuningMatrix[] = [];
    for (const name of ['q8_0', 'q4_K']) {
      const info = vectors.requireTensor(`w.${name}`);
      matrices.push({ name: `w.${name}`, type: info.type, rows: 64, cols: 512, bytes: await vectors.tensorBytes(info) });
    }
    const r = await tuneGemm(ctx, matrices, { budgetMs: 60_000, repeats: 1, variants: TILES, tokens: 48 });
    expect(r.timings.map((t) => t.key)).toEqual([gemmVariantKey(defaultGemmVariant(48)), gemmVariantKey(TILES[1]!)]);
    expect(r.timings.every((t) => t.ms !== undefined)).toBe(true); // both exact on this driver
    expect(TILES.map(gemmVariantKey)).toContain(r.chosen);
    ctx.checkErrors();
  });

  it('stores the choice per device and model shape, reuses it untimed, and the engine prefills the same with it', async () => {
    const gpu = await testDevice();
    const ctx = new KernelContext(gpu);
    const store = memoryTuningStore();
    let progress = 0;
    const opts = { store, budgetMs: 60_000, repeats: 1, variants: TILES, onProgress: () => void progress++ };
    const first = await tunedGemmVariant(gpu, ctx, model, 'llama', opts);
    expect(first.source).toBe('measured');
    expect(first.key).toContain(`/gemm/${gpu.adapterDescription}/llama q4_0:128x128`);
    expect(store.entries.get(first.key)).toBe(gemmVariantKey(first.variant));
    expect(progress).toBe(2);
    expect(await tunedGemmVariant(gpu, ctx, model, 'llama', opts)).toMatchObject({ source: 'stored', variant: first.variant });
    expect(progress).toBe(2);
    expect(await tunedGemmVariant(gpu, ctx, model, 'llama', { ...opts, store: memoryTuningStore(), measure: false })).toMatchObject({ source: 'default', variant: defaultGemmVariant(128) });

    // A 40-token prompt takes the GEMM with the applied tile (above 32 tokens).
    const prompt = Array.from({ length: 40 }, (_, i) => 1 + ((i * 37) % 500));
    const greedy = async (gemmVariant?: GemmVariant): Promise<number[]> => {
      const engine = await Engine.load(gpu, model, { maxSeqs: 1, contextLength: 128, ...(gemmVariant ? { gemmVariant } : {}) });
      try {
        if (gemmVariant) expect(gemmVariantOf(engine.ctx, prompt.length)).toEqual(gemmVariant);
        return (await engine.generate(engine.createSequence(), prompt, { maxNewTokens: 8, sampling: { temperature: 0 } })).tokens;
      } finally {
        engine.destroy();
      }
    };
    expect(await greedy(TILES[1])).toEqual(await greedy());
  });
});
