// A library model with multi-head latent attention (deepseek2) is sized with one cached row a token and layer in
// Discover's fit label (the model picker's memory estimate passes the same kvKindsOf); any other architecture keeps
// a K and a V row.
import { describe, expect, it } from 'vitest';
import { libraryModelFit } from '../../../../src/renderer/src/components/discover/fit';
import type { ModelInfo } from '../../../../src/shared/api';
import type { FitDevice } from '../../../../src/shared/model-fit';

// DeepSeek-V2-Lite's header as the library keeps it: 27 layers, head_count_kv 1, key_length 512 + 64.
const v2Lite: ModelInfo = {
  id: 'm', name: 'DeepSeek-V2-Lite', path: '/m.gguf', fingerprint: 'f', size: 2 ** 30, architecture: 'deepseek2', parameterCount: 15.7e9,
  quantization: 'Q4_K_M', contextLength: 4096, storedInPlace: true, deletesFile: false, addedAt: 0, available: true,
  details: {
    displayName: 'DeepSeek-V2-Lite', dim: 2048, nLayers: 27, nHeads: 16, nKvHeads: 1, headDim: 576, ffnDim: 10944, vocabSize: 102400, ropeBase: 10000,
    tiedEmbeddings: false, hasChatTemplate: true, ggufVersion: 3, tensorCount: 377,
  },
};
const device: FitDevice = { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31, memoryBytes: 2 ** 36 };

describe('fit of an MLA library model', () => {
  it('counts 27 x 576 values a token, once', () => {
    const fit = libraryModelFit(v2Lite, device, { contextLength: 4096, kvType: 'f16' })!;
    expect(fit.kvBytes).toBe(27 * 576 * 2 * 4096); // 121.5 MiB, not 243
  });

  it('keeps a K and a V row for the same numbers under another architecture', () => {
    const fit = libraryModelFit({ ...v2Lite, architecture: 'llama' }, device, { contextLength: 4096, kvType: 'f16' })!;
    expect(fit.kvBytes).toBe(2 * 27 * 576 * 2 * 4096);
  });
});
