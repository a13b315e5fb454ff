// Will it fit: weights + KV cache at the chosen context + working buffers, against what the device offers (the
// adapter's buffer limits, and memory: the system's, which an integrated GPU shares and a discrete one is fed
// through). Labels each model fits / tight / won't fit with the reason, the way Jan and LM Studio do. Pure: the
// Discover view judges Hub files with it (sizes from their GGUF header) and the library its own models.
// Buffer limits bound what the engine cannot split, not whole tensors: a matrix larger than one storage binding is
// uploaded as row ranges (src/gpu/kernels/weights.ts uploadWeight) and an expert tensor as groups of whole experts
// (src/gpu/kernels/moe.ts uploadExperts), so a model refuses a device only when one row of a matrix, one expert, or
// one layer's KV pool is over the binding limit.

/** The sizes that decide the fit (from a GGUF header). */
export interface FitModel {
  /** Bytes of every tensor, as stored (the engine uploads them as they are). */
  readonly weightsBytes: number;
  /** Bytes of the largest tensor (shown; the engine splits a tensor across buffers). */
  readonly largestTensorBytes?: number;
  /**
   * Bytes of the largest piece one GPU buffer must hold whole: one row of a matrix, one expert of an expert tensor,
   * a norm or bias vector as f32. Unknown: the check is skipped.
   */
  readonly largestUnitBytes?: number;
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /**
   * Rows cached per token, layer and KV head: 2 (a key and a value), or 1 under multi-head latent attention, where
   * one row (latent + RoPE key, headDim wide) is both. Absent: 2.
   */
  readonly kvKinds?: 1 | 2;
  /** Residual width and vocabulary: the activation and logits buffers. */
  readonly dim?: number;
  readonly vocabSize?: number;
}

/** What the renderer learns from the WebGPU adapter, and main from the OS. */
export interface FitDevice {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
  /** Bytes of system memory; null when unknown (then only the buffer limits are checked). */
  readonly memoryBytes: number | null;
}

/** K/V element type; q8_0 and q4_0 are llama.cpp's blocks of 32 values with an f16 scale (34 and 18 bytes). */
export type KvType = 'f16' | 'f32' | 'q8_0' | 'q4_0';

export interface FitOptions {
  /** Tokens of context the KV cache is sized for. */
  readonly contextLength: number;
  readonly kvType: KvType;
}

export type FitLabel = 'fits' | 'tight' | 'wont-fit';

export interface FitEstimate {
  readonly label: FitLabel;
  /** One sentence a user can act on ("needs 1.2 GB of 16 GB"; "the KV cache of one layer ... is over ..."). */
  readonly reason: string;
  readonly weightsBytes: number;
  readonly kvBytes: number;
  readonly workBytes: number;
  readonly totalBytes: number;
}

/** Bytes per K or V value. */
const KV_BYTES: Readonly<Record<KvType, number>> = { f16: 2, f32: 4, q8_0: 34 / 32, q4_0: 18 / 32 };
/** Fixed working set: pipelines, uniform and staging buffers, the tokenizer. */
const WORK_FIXED = 64 * 2 ** 20;
/** Tokens a prefill step processes at once (activations are sized for it). */
const PREFILL_TOKENS = 512;
/** Share of memory above which a model is tight, and above which it does not fit (the OS and the app need the rest). */
const TIGHT_SHARE = 0.6;
const MAX_SHARE = 0.9;
/** Share of a buffer limit above which one buffer makes the fit tight. */
const TIGHT_BUFFER_SHARE = 0.8;
/** Bytes a weight buffer holds beyond its rows: the loaders' spare word, rounded (weights.ts rowsPerPart). */
const BUFFER_SLACK = 8;

/** Context lengths offered at load: the model's own and the powers of two below it down to 512 (less KV memory). */
export function contextChoices(modelContext: number): number[] {
  const out = [modelContext];
  for (let c = 2 ** Math.floor(Math.log2(modelContext - 1)); c >= 512; c /= 2) out.push(c);
  return out;
}

/** Architectures the engine runs with multi-head latent attention (src/gpu/model/deepseek2.ts): one cached row a token. */
const MLA_ARCHITECTURES: ReadonlySet<string> = new Set(['deepseek2']);

/** FitModel's kvKinds for a model of `architecture` (general.architecture). */
export function kvKindsOf(architecture: string): 1 | 2 {
  return MLA_ARCHITECTURES.has(architecture) ? 1 : 2;
}

/** Every layer's cache at `contextLength` tokens: kvKinds * layers * kvHeads * headDim * bytesPerValue * context. */
export function kvCacheBytes(m: Pick<FitModel, 'layers' | 'kvHeads' | 'headDim' | 'kvKinds'>, o: FitOptions): number {
  return (m.kvKinds ?? 2) * m.layers * m.kvHeads * m.headDim * KV_BYTES[o.kvType] * o.contextLength;
}

/** Activations of one prefill step (about 8 f32 vectors of `dim` per token) and the f32 logits, plus a fixed part. */
export function workingBytes(m: FitModel): number {
  return WORK_FIXED + 8 * 4 * (m.dim ?? 0) * PREFILL_TOKENS + 2 * 4 * (m.vocabSize ?? 0);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(0)} MB`;
  return `${Math.ceil(bytes / 1024)} KB`;
}

export function estimateFit(model: FitModel, device: FitDevice, options: FitOptions): FitEstimate {
  const kvBytes = kvCacheBytes(model, options);
  const workBytes = workingBytes(model);
  const totalBytes = model.weightsBytes + kvBytes + workBytes;
  const sizes = { weightsBytes: model.weightsBytes, kvBytes, workBytes, totalBytes };
  const bufferLimit = Math.min(device.maxBufferSize, device.maxStorageBufferBindingSize);
  const kvLayerBytes = kvBytes / Math.max(1, model.layers);
  const unit = model.largestUnitBytes ?? 0;
  const limitName = `this GPU's largest buffer (${formatBytes(bufferLimit)})`;
  if (unit > bufferLimit - BUFFER_SLACK) {
    return { label: 'wont-fit', reason: `one row or expert of its weights (${formatBytes(unit)}) is over ${limitName}, and the engine splits tensors only between rows and experts`, ...sizes };
  }
  if (kvLayerBytes > bufferLimit) {
    return { label: 'wont-fit', reason: `one layer's KV cache at ${options.contextLength} tokens (${formatBytes(kvLayerBytes)}) is over ${limitName}; choose a shorter context`, ...sizes };
  }
  const parts = `weights ${formatBytes(model.weightsBytes)}, KV cache ${formatBytes(kvBytes)} at ${options.contextLength} tokens (${options.kvType}), buffers ${formatBytes(workBytes)}`;
  const memory = device.memoryBytes;
  const need = memory === null ? `needs about ${formatBytes(totalBytes)}` : `needs about ${formatBytes(totalBytes)} of ${formatBytes(memory)}`;
  if (memory !== null && totalBytes > MAX_SHARE * memory) return { label: 'wont-fit', reason: `${need} memory (${parts})`, ...sizes };
  if ((memory !== null && totalBytes > TIGHT_SHARE * memory) || Math.max(unit, kvLayerBytes) > TIGHT_BUFFER_SHARE * bufferLimit) {
    return { label: 'tight', reason: `${need} memory, close to the limit (${parts})`, ...sizes };
  }
  return { label: 'fits', reason: `${need} memory (${parts})`, ...sizes };
}

export const FIT_LABEL_TEXT: Readonly<Record<FitLabel, string>> = { fits: 'fits', tight: 'tight', 'wont-fit': "won't fit" };
