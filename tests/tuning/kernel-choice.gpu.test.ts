// The kernel choice a model loads with (the app's worker and the CLI): at a model shape's first load on a device the
// variants are timed with progress and the choices stored; the next load reuses them without timing anything (no
// clock read, no progress); a store that has nothing and may not measure keeps the fixed rules; the engine runs
// with what was chosen; flash-decode is tuned over quantized (q8_0, q4_0) KV pools as over f32 and f16 ones. The
// clock is injected (1 ms a read), so every candidate fits the budget.
import { describe, expect, it } from 'vitest';
import { defaultGemmVariant, defaultMatvecVariant, type GemmVariant, type MatvecVariant } from '../../src/gpu/kernels/matmul';
import { DEFAULT_DECODE_KEYS_PER_SPLIT } from '../../src/gpu/kernels/attention';
import type { DecodeTiling } from '../../src/gpu/kernels/attention-decode';
import { chooseKernelVariants, type TuningProgress } from '../../src/gpu/tuning/kernel-choice';
import { memoryTuningStore } from '../../src/gpu/tuning/tuning-store';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';

const model = openModel('TinyStories-656K-Q4_0.gguf');
const VARIANTS: MatvecVariant[] = [
  { threadsPerRow: 1, workgroupSize: 64, reduction: 'workgroup' },
  { threadsPerRow: 8, workgroupSize: 64, reduction: 'workgroup' },
];
// TinyStories-656K: 8 heads of 16 dims over 4 KV heads; the fixed rule is timed first whether listed or not.
const DECODE_TILINGS: DecodeTiling[] = [
  { lanes: 2, headTile: 1, keysPerPhase: 16 },
  { lanes: 4, headTile: 1, keysPerPhase: 32 },
];
const TILES: GemmVariant[] = [
  { bm: 64, bn: 64, rm: 8, tn: 8 },
  { bm: 32, bn: 32, rm: 4, tn: 4 },
];

function fakeClock(): { readonly now: () => number; readonly reads: () => number } {
  let t = 0;
  return { now: () => ++t, reads: () => t };
}

describe('kernel choice at model load', () => {
  it('measures at the first load with progress, stores every choice, and reuses them untimed at the next', async () => {
    const gpu = await testDevice();
    const store = memoryTuningStore();
    const clock = fakeClock();
    const progress: TuningProgress[] = [];
    const opts = { store, kvDtype: 'f32', measure: true, clock: clock.now, repeats: 1, matvecVariants: VARIANTS, gemmVariants: TILES, decodeTilings: DECODE_TILINGS, onProgress: (p: TuningProgress) => progress.push(p) } as const;
    const first = await chooseKernelVariants(gpu, model, opts);
    expect(first.kernels.map((k) => [k.kernel, k.source])).toEqual([['matvec', 'measured'], ['gemm', 'measured'], ['flash-decode-split', 'measured']]);
    expect(first.kernels.every((k) => k.result?.timings.some((t) => t.ms !== undefined))).toBe(true);
    // Progress climbs to 1 over the three kernels, matvec first.
    expect(progress.map((p) => p.fraction)).toEqual([...progress.map((p) => p.fraction)].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual({ kernel: 'flash-decode-split', fraction: 1 });
    expect(progress.some((p) => p.kernel === 'matvec' && p.fraction === 1 / 3)).toBe(true);
    expect(progress.some((p) => p.kernel === 'gemm' && p.fraction === 2 / 3)).toBe(true);
    expect([...store.entries.keys()].every((k) => k.includes(`/${gpu.adapterDescription}/`))).toBe(true);
    expect(store.entries.size).toBe(3);

    const readsBefore = clock.reads();
    progress.length = 0;
    const again = await chooseKernelVariants(gpu, model, opts);
    expect(again.kernels.map((k) => k.source)).toEqual(['stored', 'stored', 'stored']);
    expect(again.gemmVariant).toEqual(first.gemmVariant);
    expect(again.matvecVariant).toEqual(first.matvecVariant);
    expect(again.decodeKeysPerSplit).toBe(first.decodeKeysPerSplit);
    expect(again.decodeTiling).toEqual(first.decodeTiling);
    expect(clock.reads()).toBe(readsBefore);
    expect(progress).toEqual([]);
  });

  it('tunes flash-decode over a q8_0 or q4_0 pool too, every tiling checked exact against its quantized rows', async () => {
    const gpu = await testDevice();
    for (const kvDtype of ['q8_0', 'q4_0'] as const) {
      const store = memoryTuningStore();
      const choice = await chooseKernelVariants(gpu, model, { store, kvDtype, measure: true, clock: fakeClock().now, repeats: 1, matvecVariants: VARIANTS, gemmVariants: TILES, decodeTilings: DECODE_TILINGS });
      const decode = choice.kernels.find((k) => k.kernel === 'flash-decode-split')!;
      expect(decode.source).toBe('measured');
      // Every tiling and split was timed: none was skipped as inexact or failing.
      expect(decode.result!.timings.length).toBeGreaterThan(DECODE_TILINGS.length);
      expect(decode.result!.timings.filter((t) => t.ms === undefined)).toEqual([]);
      expect([...store.entries.keys()].some((k) => k.includes('flash-decode-split') && k.includes(` ${kvDtype} `))).toBe(true);
      expect(choice.decodeTiling).toBeDefined();
    }
  });

  it('nothing stored and no measuring (the CLI without --tune): the fixed rules', async () => {
    const gpu = await testDevice();
    const none = await chooseKernelVariants(gpu, model, { store: memoryTuningStore(), kvDtype: 'f16', measure: false });
    expect(none.kernels.map((k) => k.source)).toEqual(['default', 'default', 'default']);
    expect(none.gemmVariant).toEqual(defaultGemmVariant(128));
    expect(none.matvecVariant).toEqual(defaultMatvecVariant(gpu.caps));
    expect(none.decodeKeysPerSplit).toBe(DEFAULT_DECODE_KEYS_PER_SPLIT);
    expect(none.decodeTiling?.keysPerPhase).toBe(16);
    const q8 = await chooseKernelVariants(gpu, model, { store: memoryTuningStore(), kvDtype: 'q8_0', measure: false });
    expect(q8.kernels.map((k) => [k.kernel, k.source])).toEqual([['matvec', 'default'], ['gemm', 'default'], ['flash-decode-split', 'default']]);
    expect(q8.decodeKeysPerSplit).toBe(DEFAULT_DECODE_KEYS_PER_SPLIT);
  });
});
