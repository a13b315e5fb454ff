// Load-time sizing: the context length a user may choose, the KV layout (f16 where the device has shader-f16), and
// how many 16-token KV blocks the pool gets, checked against the device's binding limit before anything is
// uploaded, so a model that cannot run fails with a clear error instead of halfway through loading.
import { GpuError, type GpuContext } from '../device';
import { KV_BLOCK_TOKENS, checkKvLayout, layerBlockBytes, type KvLayout } from '../kv/layout';
import { KvPool } from '../kv/pool';
import type { ModelConfig } from '../model/config';
import { mlaKvRow } from '../model/deepseek2';
import type { EngineOptions } from './engine-types';

export interface EngineSizing {
  /** The model's config with the chosen context length. */
  readonly config: ModelConfig;
  readonly layout: KvLayout;
  readonly maxSeqs: number;
  readonly maxBatchTokens: number;
  /** KV pool size in 16-token blocks. */
  readonly kvBlocks: number;
}

export function planEngineSizing(gpu: GpuContext, modelConfig: ModelConfig, opts: EngineOptions): EngineSizing {
  const n = opts.contextLength ?? modelConfig.contextLength;
  if (!Number.isInteger(n) || n < 2 * KV_BLOCK_TOKENS || n > modelConfig.contextLength) {
    throw new RangeError(`contextLength must be an integer from ${2 * KV_BLOCK_TOKENS} to the model's ${modelConfig.contextLength}, not ${n}`);
  }
  const config: ModelConfig = { ...modelConfig, contextLength: n };
  const maxSeqs = opts.maxSeqs ?? 8;
  const maxBatchTokens = opts.maxBatchTokens ?? 128;
  // The f16 path, on devices with shader-f16: K/V stored as f16 (half the KV memory and attention traffic, as
  // llama.cpp's default cache type), arithmetic in f32. Greedy tokens stay equal to the f32 references on every
  // shared model; first logits move by up to ~7e-3. Elsewhere the exact f32 path. q8_0 and q4_0 only when asked
  // for (quantized on append, dequantized in the attention kernels; the README gives their greedy agreement).
  // MLA (DeepSeek-V2): one row of kvLoraRank + ropeDim values a token, K and V in one (KvLayout.latentDim).
  const row = mlaKvRow(config) ?? { nKvHeads: config.nKvHeads, headDim: config.headDim };
  const layout: KvLayout = { nLayers: config.nLayers, ...row, dtype: opts.kvDtype ?? (gpu.caps.f16 ? 'f16' : 'f32') };
  checkKvLayout(layout);
  const fullContext = Math.ceil(config.contextLength / KV_BLOCK_TOKENS);
  // One step must fit: a whole batch of prompt tokens plus a block to copy-on-write. (A longer sequence than the
  // pool holds gets a clear error when it is scheduled.)
  const minimum = Math.ceil(maxBatchTokens / KV_BLOCK_TOKENS) + 1;
  if (opts.kvBlocks !== undefined && opts.kvBlocks < minimum) {
    throw new RangeError(`kvBlocks must be at least ${minimum} (a ${maxBatchTokens}-token batch plus one block), not ${opts.kvBlocks}`);
  }
  const deviceMost = KvPool.maxBlocks(gpu, layout);
  if (deviceMost < minimum) {
    throw new GpuError('limit-exceeded', `this GPU's maxStorageBufferBindingSize (${gpu.caps.maxStorageBufferBindingSize}) holds only ${deviceMost} KV blocks of ${layerBlockBytes(layout)} bytes per layer; one step needs ${minimum}`);
  }
  const kvBlocks = Math.min(opts.kvBlocks ?? Math.max(minimum, fullContext * Math.min(maxSeqs, 4) + 1), deviceMost);
  return { config, layout, maxSeqs, maxBatchTokens, kvBlocks };
}
