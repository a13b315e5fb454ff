// The kernel variants a model runs with on this device, decided once before it loads: every tuned kernel's stored
// choice for this device, kernel version and model shape, or (none stored, or a re-tune) a bounded measurement on
// the model's own weights that is then stored. The app's engine worker and the CLI's generate both call this.
import type { GpuContext } from '../device';
import type { GgufFile } from '../gguf/reader';
import { KernelContext } from '../kernels/context';
import { gemmVariantKey, matvecVariantKey, type GemmVariant, type MatvecVariant } from '../kernels/matmul';
import type { KvDtype } from '../kv/layout';
import { readModelConfig } from '../model/config';
import { mlaKvRow } from '../model/deepseek2';
import type { DecodeTiling } from '../kernels/attention-decode';
import { decodeChoiceKey, tunedFlashDecode } from './decode-split-tuning';
import { tunedGemmVariant } from './gemm-tuning';
import { readTuningMatrices, tunedMatvecVariant, type TuningMatrix } from './matvec-tuning';
import type { TuneResult } from './tuner';
import type { ChoiceSource, TuningStore } from './tuning-store';

export type TunedKernel = 'matvec' | 'gemm' | 'flash-decode-split';

/**
 * Milliseconds each kernel's candidates may start within: about 2 s in all, as the issue asks (the defaults are
 * always measured, so a slow device takes a little longer).
 */
export const TUNING_BUDGET_MS: Readonly<Record<TunedKernel, number>> = { matvec: 1000, gemm: 600, 'flash-decode-split': 600 };
/** Context flash-decode's tiling and split-K are measured at (or the model's, if shorter). */
const DECODE_TUNING_CONTEXT = 2048;

export interface TuningProgress {
  /** The kernel being measured now. */
  readonly kernel: TunedKernel;
  /** Of all the measuring this load does, 0 … 1. */
  readonly fraction: number;
}

export interface KernelChoiceOptions {
  readonly store: TuningStore;
  /** The KV type the engine will use: flash-decode's split is tuned for f32 / f16 pools only. */
  readonly kvDtype: KvDtype;
  /** With nothing stored: measure now (the app; the CLI with --tune), or keep the fixed rules. */
  readonly measure: boolean;
  /** Measure again even where a choice is stored (the CLI's --tune). */
  readonly retune?: boolean;
  readonly budgetMs?: Partial<Record<TunedKernel, number>>;
  /** Tests: an injected clock, fewer repeats, fewer matvec / GEMM / decode-tiling candidates. */
  readonly clock?: () => number;
  readonly repeats?: number;
  readonly matvecVariants?: readonly MatvecVariant[];
  readonly gemmVariants?: readonly GemmVariant[];
  readonly decodeTilings?: readonly DecodeTiling[];
  /** Called while measuring (never when every choice is stored). */
  readonly onProgress?: (p: TuningProgress) => void;
}

/** One kernel's choice: where it came from and, when measured, every candidate's time. */
export interface TunedKernelChoice {
  readonly kernel: TunedKernel;
  readonly variant: string;
  readonly source: ChoiceSource;
  readonly result?: TuneResult;
}

export interface KernelChoice {
  readonly matvecVariant: MatvecVariant;
  readonly gemmVariant: GemmVariant;
  readonly decodeKeysPerSplit?: number;
  /** Flash-decode's workgroup tiling (threads per key, heads per workgroup, keys per phase); with decodeKeysPerSplit. */
  readonly decodeTiling?: DecodeTiling;
  readonly kernels: readonly TunedKernelChoice[];
}

/** The variants to load `file` with on `gpu` (see the top of this file). Never measures what is stored, unless `retune`. */
export async function chooseKernelVariants(gpu: GpuContext, file: GgufFile, opts: KernelChoiceOptions): Promise<KernelChoice> {
  const ctx = new KernelContext(gpu);
  const config = readModelConfig(file.header);
  const count = 3;
  const progress = (kernel: TunedKernel, index: number) => (done: number, total: number) => opts.onProgress?.({ kernel, fraction: (index + done / Math.max(1, total)) / count });
  const common = {
    store: opts.store,
    measure: opts.measure,
    ...(opts.retune ? { retune: true } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.repeats !== undefined ? { repeats: opts.repeats } : {}),
  };
  const budget = (k: TunedKernel): number => opts.budgetMs?.[k] ?? TUNING_BUDGET_MS[k];
  // The weights are read (over HTTP in the app) at most once, and only if something is measured.
  let read: Promise<readonly TuningMatrix[]> | undefined;
  const matrices = (): Promise<readonly TuningMatrix[]> => (read ??= readTuningMatrices(file));
  const mv = await tunedMatvecVariant(gpu, ctx, file, config.architecture, {
    ...common,
    budgetMs: budget('matvec'),
    onProgress: progress('matvec', 0),
    matrices,
    ...(opts.matvecVariants ? { variants: opts.matvecVariants } : {}),
  });
  const kernels: TunedKernelChoice[] = [{ kernel: 'matvec', variant: matvecVariantKey(mv.variant), source: mv.source, ...(mv.result ? { result: mv.result } : {}) }];
  const gm = await tunedGemmVariant(gpu, ctx, file, config.architecture, {
    ...common,
    budgetMs: budget('gemm'),
    onProgress: progress('gemm', 1),
    matrices,
    ...(opts.gemmVariants ? { variants: opts.gemmVariants } : {}),
  });
  kernels.push({ kernel: 'gemm', variant: gemmVariantKey(gm.variant), source: gm.source, ...(gm.result ? { result: gm.result } : {}) });
  const chosen = { matvecVariant: mv.variant, gemmVariant: gm.variant };
  // The KV row the engine's pool will hold (engine-sizing.ts): MLA models keep one latent row a token.
  const row = mlaKvRow(config) ?? { nKvHeads: config.nKvHeads, headDim: config.headDim };
  const shape = { nHeads: config.nHeads, ...row, dtype: opts.kvDtype, context: Math.min(DECODE_TUNING_CONTEXT, config.contextLength) };
  const ds = await tunedFlashDecode(ctx, gpu.adapterDescription, shape, {
    ...common,
    budgetMs: budget('flash-decode-split'),
    onProgress: progress('flash-decode-split', 2),
    ...(opts.decodeTilings ? { tilings: opts.decodeTilings } : {}),
  });
  kernels.push({ kernel: 'flash-decode-split', variant: decodeChoiceKey(ds), source: ds.source, ...(ds.result ? { result: ds.result } : {}) });
  return { ...chosen, decodeKeysPerSplit: ds.keysPerSplit, decodeTiling: ds.tiling, kernels };
}
