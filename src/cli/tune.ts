// generate --tune: kernel variants measured on this device before the model loads (bounded), the choices kept in
// the OS cache directory and reused by later runs without --tune. Kernels: the decode matvec, the prefill GEMM's
// tile, flash-decode's tiling and split-K.
import type { GpuContext } from '../gpu/device';
import type { EngineOptions } from '../gpu/engine/engine-types';
import type { GgufFile } from '../gpu/gguf/reader';
import type { DecodeTiling } from '../gpu/kernels/attention-decode';
import type { GemmVariant, MatvecVariant } from '../gpu/kernels/matmul';
import type { KvDtype } from '../gpu/kv/layout';
import { chooseKernelVariants as chooseTuned } from '../gpu/tuning/kernel-choice';
import type { TuneResult } from '../gpu/tuning/tuner';
import type { TuningStore } from '../gpu/tuning/tuning-store';
import { fileTuningStore } from '../node/tuning-file-store';

export interface KernelChoice {
  readonly matvecVariant: MatvecVariant;
  readonly gemmVariant: GemmVariant;
  readonly decodeKeysPerSplit?: number;
  readonly decodeTiling?: DecodeTiling;
  /** For the JSON output: per kernel, where the choice came from and, when measured, each candidate's time. */
  readonly report: readonly Record<string, unknown>[];
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

function describe(kernel: string, variant: string, source: string, r: TuneResult | undefined): Record<string, unknown> {
  if (r) {
    const gain = r.defaultMs !== undefined && r.chosenMs !== undefined ? `, ${(r.defaultMs / r.chosenMs).toFixed(2)}x the default` : '';
    const skipped = r.timings.filter((c) => c.skipped).map((c) => `${c.key} (${c.skipped})`);
    process.stderr.write(`\n[tune] ${kernel}: ${variant}${gain}; ${r.timings.length - skipped.length} variants timed${skipped.length ? `, skipped ${skipped.join(', ')}` : ''}\n`);
  }
  return {
    kernel,
    variant,
    source,
    ...(r
      ? {
          ...(r.chosenMs !== undefined ? { chosen_ms: round(r.chosenMs) } : {}),
          ...(r.defaultMs !== undefined ? { default_ms: round(r.defaultMs) } : {}),
          ...(r.error ? { error: r.error } : {}),
          candidates: r.timings.map((c) => ({ variant: c.key, ...(c.ms !== undefined ? { ms: round(c.ms) } : {}), ...(c.skipped ? { skipped: c.skipped } : {}) })),
        }
      : {}),
  };
}

/**
 * With `tune`, measures the kernel variants (progress on stderr) and stores the choices; without, takes stored
 * choices for this device and model shape, or the fixed rules. `kvDtype`: the KV type the engine will use.
 */
export async function chooseKernelVariants(gpu: GpuContext, file: GgufFile, kvDtype: KvDtype, tune: boolean, store: TuningStore = fileTuningStore()): Promise<KernelChoice> {
  let shown = '';
  const choice = await chooseTuned(gpu, file, {
    store,
    kvDtype,
    measure: tune,
    retune: tune,
    onProgress: (p) => {
      const line = `\r[tune] ${p.kernel} ${Math.round(p.fraction * 100)}%`;
      if (line !== shown) process.stderr.write((shown = line));
    },
  });
  const report = choice.kernels.map((k) => describe(k.kernel, k.variant, k.source, k.result));
  return { matvecVariant: choice.matvecVariant, gemmVariant: choice.gemmVariant, ...(choice.decodeKeysPerSplit !== undefined ? { decodeKeysPerSplit: choice.decodeKeysPerSplit } : {}), ...(choice.decodeTiling ? { decodeTiling: choice.decodeTiling } : {}), report };
}

/** The engine options that carry the choices (generate and serve load with them). */
export function tunedEngineOptions(c: KernelChoice): Pick<EngineOptions, 'matvecVariant' | 'gemmVariant' | 'decodeKeysPerSplit' | 'decodeTiling'> {
  return {
    matvecVariant: c.matvecVariant,
    gemmVariant: c.gemmVariant,
    ...(c.decodeKeysPerSplit !== undefined ? { decodeKeysPerSplit: c.decodeKeysPerSplit } : {}),
    ...(c.decodeTiling ? { decodeTiling: c.decodeTiling } : {}),
  };
}
