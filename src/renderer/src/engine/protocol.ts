// The typed message protocol between the UI thread and the engine's Web Worker. The worker owns the GPU
// device, the model and the KV cache; the UI thread owns the API (window.kvchat or the test host's socket), so
// the worker asks it for store operations with `store-call` and gets `store-result` back.
import type { KvType } from '../../../gpu/kv/layout';
import type { ReasoningFormat } from '../../../gpu/tokenizer/reasoning';
import type { ApiResult, BridgeGenerateOptions, BridgeResult, GenerationSettings, KvChatApi, MessageRole } from '../../../shared/api';

/** Where a conversation's KV came from when an answer started (resume.ts's 'recompute'/'none' show as prefill). */
export type ResumeSourceShown = 'gpu' | 'ram' | 'disk' | 'prefill';

export interface ThreadTurn {
  readonly role: MessageRole;
  readonly content: string;
  /** Tokens of this message in the conversation's history, when known (lets the exact history be reused). */
  readonly tokenCount: number | null;
  /** An earlier answer's reasoning, given to the template (which decides what the model sees of it). */
  readonly reasoning?: string;
}

export interface LoadRequest {
  readonly type: 'load';
  readonly modelId: string;
  readonly url: string;
  readonly fingerprint: string;
  /** K/V cache type: f16 (the default), q8_0 or q4_0 (about a half or a quarter of the KV memory and disk). */
  readonly kvType?: KvType;
  /** Context length in tokens (at most the model's; less saves KV memory). Absent: the model's own. */
  readonly contextLength?: number;
}

/** Frees the model, its KV pool and the GPU device; answers in flight stop and persist first. Answered by 'unloaded'. */
export interface UnloadRequest {
  readonly type: 'unload';
}

/** What the user chooses when a model loads. */
export type LoadOptions = Pick<LoadRequest, 'kvType' | 'contextLength'>;

export interface OpenRequest {
  readonly type: 'open';
  readonly conversationId: number;
}

export interface GenerateRequest {
  readonly type: 'generate';
  readonly requestId: number;
  readonly conversationId: number;
  readonly systemPrompt: string;
  /** The active thread, the new user message last. */
  readonly turns: readonly ThreadTurn[];
  readonly settings: GenerationSettings;
}

export interface StopRequest {
  readonly type: 'stop';
  readonly requestId: number;
}

/** An answer from the UI thread to a worker's store call. */
export interface StoreResult {
  readonly type: 'store-result';
  readonly callId: number;
  readonly result: ApiResult<unknown>;
}

/** Diagnostics (and the e2e test): destroy the device as a driver reset would, to exercise the recovery path. */
export interface LoseDeviceRequest {
  readonly type: 'lose-device';
}

/** A deleted conversation: free its sequence's KV blocks now rather than at the next eviction. */
export interface ForgetRequest {
  readonly type: 'forget';
  readonly conversationId: number;
}

/** The local server (in main) asks the loaded engine for a generation on a sequence of its own. */
export interface ServerGenerateRequest {
  readonly type: 'server-generate';
  readonly id: number;
  readonly tokens: readonly number[];
  readonly options: BridgeGenerateOptions;
}

export interface ServerAbortRequest {
  readonly type: 'server-abort';
  readonly id: number;
}

/** "Re-tune kernels": forget the kernel variants measured on this device; the next load measures again. */
export interface ForgetTuningRequest {
  readonly type: 'forget-tuning';
}

export type ToWorker = ForgetTuningRequest | LoadRequest | UnloadRequest | OpenRequest | GenerateRequest | StopRequest | StoreResult | LoseDeviceRequest | ForgetRequest | ServerGenerateRequest | ServerAbortRequest;

/** The store verbs the worker may use. */
export type StoreMethod = 'getKvBlocks' | 'getStoredKvHashes' | 'putKvBlocks' | 'getConversationKv' | 'saveConversationKv' | 'getKvUsage' | TuningStoreMethod;
/** Kernel variants measured on this device, kept by main (src/store/kernel-tuning.ts). */
export type TuningStoreMethod = 'getKernelTuning' | 'setKernelTuning' | 'clearKernelTuning';
export type StoreApi = Pick<KvChatApi, StoreMethod>;

export interface KvPicture {
  readonly blocks: number;
  readonly blockBytes: number;
  /** One byte per GPU block: 0 free, 1 used, 2 shared, 3 cached on the GPU, (UI only) 4 in RAM, 5 on disk. */
  readonly states: Uint8Array;
  readonly ramBlocks: number;
  readonly ramBytes: number;
  readonly diskBlocks: number;
  readonly diskBytes: number;
  /** Prompt tokens whose K/V were reused (resumed or cached) over all prompt tokens, since load. */
  readonly reusedTokens: number;
  readonly promptTokens: number;
  /** The conversation answering now and the tokens its context holds so far (sent while it streams). */
  readonly live?: { readonly conversationId: number; readonly contextTokens: number };
}

export interface ResumeReport {
  readonly conversationId: number;
  readonly source: ResumeSourceShown;
  readonly ms: number;
  readonly reusedTokens: number;
  /** Tokens of the conversation's stored history (what the context holds once the rest is recomputed). */
  readonly historyTokens: number;
}

export interface AnswerStats {
  readonly tokensPerSecond: number;
  readonly timeToFirstTokenMs: number;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly contextUsed: number;
  readonly resume: ResumeReport;
  /** Tokens of the new user message in the history (raw models), for the next turn's exact reuse. */
  readonly userTokenCount: number | null;
  /** Tokens of the conversation left out to fit the context: whole turns before the answer, shifts during it. */
  readonly droppedTokens: number;
}

export type FromWorker =
  | { readonly type: 'load-progress'; readonly modelId: string; readonly bytesDone: number; readonly bytesTotal: number }
  /** At a model shape's first load on this device: kernel variants being timed, `fraction` 0 … 1 of that work. */
  | { readonly type: 'tune-progress'; readonly modelId: string; readonly kernel: string; readonly fraction: number }
  /** The answer to 'forget-tuning': choices forgotten for `adapter` (null: no model loaded, so no device known). */
  | { readonly type: 'tuning-cleared'; readonly adapter: string | null; readonly removed: number; readonly error?: string }
  | {
      readonly type: 'loaded';
      readonly modelId: string;
      readonly contextLength: number;
      readonly adapter: string;
      readonly hasChatTemplate: boolean;
      readonly kvBlocks: number;
      /** How the model's template marks reasoning (absent or 'none': it does not reason). */
      readonly reasoningFormat?: ReasoningFormat;
      /** The template takes `enable_thinking`: a chat may turn thinking off. */
      readonly thinkingSwitch?: boolean;
      /** The template reads `reasoning_effort` (gpt-oss): a chat may choose low, medium or high. */
      readonly reasoningEffort?: boolean;
    }
  | { readonly type: 'load-error'; readonly modelId: string; readonly code: string; readonly message: string }
  /** No model is loaded any more (after an unload). */
  | { readonly type: 'unloaded' }
  | { readonly type: 'device-lost'; readonly message: string }
  | { readonly type: 'resumed'; readonly report: ResumeReport }
  /** Answer text (reasoning left out). */
  | { readonly type: 'token'; readonly requestId: number; readonly text: string }
  /** Reasoning text of the answer being written, as it streams. */
  | { readonly type: 'reasoning'; readonly requestId: number; readonly text: string }
  | {
      readonly type: 'done';
      readonly requestId: number;
      readonly text: string;
      /** The answer's reasoning, '' when it gave none. */
      readonly reasoning: string;
      readonly tokenCount: number;
      readonly stopReason: 'eos' | 'max-tokens' | 'cancelled' | 'context';
      readonly stats: AnswerStats;
    }
  | { readonly type: 'generate-error'; readonly requestId: number; readonly message: string }
  | { readonly type: 'kv'; readonly picture: KvPicture }
  | { readonly type: 'server-token'; readonly id: number; readonly token: number }
  | { readonly type: 'server-done'; readonly id: number; readonly result: BridgeResult }
  | { readonly type: 'server-error'; readonly id: number; readonly message: string }
  | { readonly type: 'store-call'; readonly callId: number; readonly method: StoreMethod; readonly payload: unknown };
