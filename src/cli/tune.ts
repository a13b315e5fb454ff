// generate --tune: kernel variants measured on this device before the model loads (bounded), the choices kept in
// the OS cache directory and reused by later runs without --tune. Kernels: the decode matvec, flash-decode's split-K.
import type { GpuContext } from '../gpu/device';
import type { GgufFile } from '../gpu/gguf/reader';
import { KernelContext } from '../gpu/kernels/context';
import { matvecVariantKey, type MatvecVariant } from '../gpu/kernels/matmul';
import type { KvDtype } from '../gpu/kv/layout';
import { readModelConfig } from '../gpu/model/config';
import { tunedDecodeKeysPerSplit } from '../gpu/tuning/decode-split-tuning';
import { tunedMatvecVariant } from '../gpu/tuning/matvec-tuning';
import type { TuneResult } from '../gpu/tuning/tuner';
import type { TuningStore } from '../gpu/tuning/tuning-store';
import { fileTuningStore } from '../node/tuning-file-store';

/** A couple of seconds at most, as the issue asks: the defaults and as many candidates as fit. */
export const MATVEC_BUDGET_MS = 1500;
export const DECODE_SPLIT_BUDGET_MS = 500;
/** Context flash-decode's split-K is measured at (or the model's, if shorter). */
const DECODE_TUNING_CONTEXT = 2048;

export interface KernelChoice {
  readonly matvecVariant: MatvecVariant;
  readonly decodeKeysPerSplit?: number;
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
  const ctx = new KernelContext(gpu);
  const config = readModelConfig(file.header);
  const onProgress = (done: number, total: number): void => {
    process.stderr.write(`\r[tune] matvec ${done}/${total}`);
  };
  const mv = await tunedMatvecVariant(gpu, ctx, file, config.architecture, { store, budgetMs: MATVEC_BUDGET_MS, retune: tune, measure: tune, onProgress });
  const report = [describe('matvec', matvecVariantKey(mv.variant), mv.source, mv.result)];
  if (kvDtype !== 'f32' && kvDtype !== 'f16') return { matvecVariant: mv.variant, report }; // quantized KV: the fixed split rule
  const shape = { nHeads: config.nHeads, nKvHeads: config.nKvHeads, headDim: config.headDim, dtype: kvDtype, context: Math.min(DECODE_TUNING_CONTEXT, config.contextLength) };
  const ds = await tunedDecodeKeysPerSplit(ctx, gpu.adapterDescription, shape, { store, budgetMs: DECODE_SPLIT_BUDGET_MS, retune: tune, measure: tune });
  report.push(describe('flash-decode-split', `kps${ds.keysPerSplit}`, ds.source, ds.result));
  return { matvecVariant: mv.variant, decodeKeysPerSplit: ds.keysPerSplit, report };
}
