// Our WebGPU engine behind the peer bench's interface: one sequence at a time, no prefix cache (every repetition
// computes its prompt again, as llama.cpp does with a cleared sequence), f16 KV like llama.cpp's default.
import { openGgufFile } from '../../src/node/file-source';
import type { GpuContext } from '../../src/gpu/device';
import { Engine } from '../../src/gpu/engine/engine';
import { KV_BLOCK_TOKENS } from '../../src/gpu/kv/layout';
import { chooseKernelVariants } from '../../src/gpu/tuning/kernel-choice';
import { memoryTuningStore } from '../../src/gpu/tuning/tuning-store';
import { decodeTiming, type BenchEngine, type LoadedModel } from './types';

/** Prompt tokens per step: llama.cpp's batch is 512 tokens, ours the same so prefill is chunked alike. */
export const OUR_BATCH_TOKENS = 512;

export interface OursOptions {
  /**
   * --tune: the kernel variants measured on this device at each model's load (the app's first-load tuning, with its
   * budgets), instead of the fixed rules; `onTuned` gets the choices.
   */
  readonly tune?: boolean;
  readonly onTuned?: (path: string, choices: readonly { kernel: string; variant: string }[]) => void;
}

export function oursEngine(gpu: GpuContext, opts: OursOptions = {}): BenchEngine {
  return {
    name: 'ours',
    async load(path: string, contextSize: number): Promise<LoadedModel> {
      const { file, close } = await openGgufFile(path);
      let engine: Engine;
      try {
        const tuned = opts.tune ? await chooseKernelVariants(gpu, file, { store: memoryTuningStore(), kvDtype: 'f16', measure: true }) : undefined;
        if (tuned) opts.onTuned?.(path, tuned.kernels.map((k) => ({ kernel: k.kernel, variant: k.variant })));
        engine = await Engine.load(gpu, file, {
          ...(tuned ? { matvecVariant: tuned.matvecVariant, gemmVariant: tuned.gemmVariant, ...(tuned.decodeKeysPerSplit ? { decodeKeysPerSplit: tuned.decodeKeysPerSplit } : {}), ...(tuned.decodeTiling ? { decodeTiling: tuned.decodeTiling } : {}) } : {}),
          maxSeqs: 1,
          maxBatchTokens: Math.min(OUR_BATCH_TOKENS, contextSize),
          kvBlocks: Math.ceil(contextSize / KV_BLOCK_TOKENS) + 1,
          kvDtype: 'f16',
          prefixCache: false,
          ramBytes: 0,
        });
      } catch (e) {
        await close();
        throw e;
      }
      const run = async (prompt: readonly number[], maxNewTokens: number, stop?: ReadonlySet<number>, onToken?: (t: number) => void): Promise<number[]> => {
        const seq = engine.createSequence();
        try {
          const r = await engine.generate(seq, [...prompt], { maxNewTokens, sampling: { temperature: 0 }, ...(stop ? { stopTokens: stop } : {}), ...(onToken ? { onToken } : {}) });
          return r.tokens;
        } finally {
          engine.releaseSequence(seq);
        }
      };
      return {
        async prefillMs(prompt) {
          const t0 = performance.now();
          await run(prompt, 1);
          return performance.now() - t0;
        },
        async decode(prompt, steps) {
          const arrivals: number[] = [];
          const t0 = performance.now();
          await run(prompt, steps + 1, undefined, () => arrivals.push(performance.now()));
          return decodeTiming(t0, arrivals);
        },
        greedy: (prompt, maxNew, stop) => run(prompt, maxNew, stop),
        async dispose() {
          engine.destroy();
          await close();
        },
      };
    },
    async close() {},
  };
}
