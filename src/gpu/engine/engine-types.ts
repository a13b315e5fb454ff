// What the engine's callers pass and get back: load options, generation options and results. Kept apart from the
// engine so front ends and the conversation cache can name them without the engine's internals.
import type { DecodeTiling } from '../kernels/attention-decode';
import type { GemmVariant, MatvecVariant } from '../kernels/matmul';
import type { KvBlockStoreLike, PrefixMatch } from '../kv/cache';
import type { KvDtype } from '../kv/layout';
import type { LoadProgress } from '../model/gpu-weights';
import type { ContextPolicy, ContextShift } from './context-shift';
import type { SamplingParams } from './sampling-params';

export interface EngineOptions {
  /** Most sequences decoded together in one step. */
  readonly maxSeqs?: number;
  /** Most tokens in one step (a prompt is prefilled in chunks of this size). */
  readonly maxBatchTokens?: number;
  /** Context length in tokens (default and at most: the model's), as users set llama.cpp's n_ctx to save memory. */
  readonly contextLength?: number;
  /** KV pool size in 16-token blocks; default: every sequence at full context, as far as the device allows. */
  readonly kvBlocks?: number;
  /**
   * K/V storage type; default f16 where the device has shader-f16, else f32. q8_0 and q4_0 (llama.cpp's
   * `-ctk/-ctv q8_0|q4_0`) take 34 and 18 bytes per 32 values (about a half and a quarter of f16) and need
   * nKvHeads * headDim to be a multiple of 32.
   */
  readonly kvDtype?: KvDtype;
  readonly onProgress?: (p: LoadProgress) => void;
  /**
   * Names the model in KV block hashes. Blocks kept across processes (RAM spills to `store`, resumed
   * conversations) are only found again under the same name: pass the model file's content fingerprint.
   */
  readonly modelFingerprint?: string;
  /** Share cached full blocks between sequences with equal prefixes (default true). */
  readonly prefixCache?: boolean;
  /** Host RAM for KV blocks evicted from the GPU pool (default 256 MiB; 0 disables the tier). */
  readonly ramBytes?: number;
  /** The last KV tier (the app's SQLite store): RAM overflows go here, and prefix matches look here last. */
  readonly kvStore?: KvBlockStoreLike;
  /** The decode matvec layout measured on this device (src/gpu/tuning); default: the fixed rule for the device. */
  readonly matvecVariant?: MatvecVariant;
  /** Flash-decode's keys per split measured on this device (src/gpu/tuning); default: the fixed rule's 256. */
  readonly decodeKeysPerSplit?: number;
  /** Flash-decode's workgroup tiling measured on this device (src/gpu/tuning); default: the fixed rule. */
  readonly decodeTiling?: DecodeTiling;
  /** The prefill GEMM tile measured on this device (src/gpu/tuning), for batches above 32 tokens; default: the fixed rule. */
  readonly gemmVariant?: GemmVariant;
}

export type StopReason = 'eos' | 'max-tokens' | 'context' | 'aborted';

export interface GenerateOptions {
  /** Most new tokens to sample. */
  readonly maxNewTokens: number;
  readonly sampling?: Partial<SamplingParams>;
  /** Token ids that end generation (included in the output). Default: none. */
  readonly stopTokens?: ReadonlySet<number>;
  readonly onToken?: (token: number) => void;
  readonly signal?: AbortSignal;
  /** Capture the logits of the first sampled position (tests compare them with references). */
  readonly captureFirstLogits?: boolean;
  /** At the context length: stop (default), or shift the context and go on. */
  readonly contextPolicy?: ContextPolicy;
}

export interface GenerateResult {
  readonly tokens: number[];
  readonly stopReason: StopReason;
  readonly promptTokens: number;
  /** Prompt tokens whose K/V came from cached blocks (a shared prefix) instead of being computed. */
  readonly cachedTokens: number;
  /** Where a new sequence's prefix came from (GPU pool, RAM, disk) when the prefix cache was consulted. */
  readonly prefix?: PrefixMatch & { readonly ms: number };
  /** Context shifts applied under a truncate-middle or rolling-window policy, in order. */
  readonly contextShifts: readonly ContextShift[];
  /** Times the request's KV blocks were taken back for an older request when the pool ran short (then recomputed). */
  readonly preemptions: number;
  readonly firstLogits?: Float32Array;
  /** Milliseconds from the call to the first sampled token, and of the whole call. */
  readonly timeToFirstTokenMs: number;
  readonly totalMs: number;
}
