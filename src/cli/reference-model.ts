// `generate --reference`: the CPU f32 reference of the model's architecture. The Llama one (cpu-reference.ts) also
// runs the Llama-like families (Qwen, Phi-3, the Qwen3-MoE feed-forward); Gemma, gpt-oss and DeepSeek-V2 (MLA) have
// forward passes of their own, each selected by the traits readModelConfig gives their files.
import type { GgufFile } from '../gpu/gguf/reader';
import { CpuReferenceModel, loadCpuWeights } from '../gpu/model/cpu-reference';
import { Deepseek2CpuReference } from '../gpu/model/cpu-reference-deepseek2';
import { GemmaCpuReference } from '../gpu/model/cpu-reference-gemma';
import { GptOssCpuReference } from '../gpu/model/cpu-reference-gpt-oss';
import type { ModelConfig } from '../gpu/model/config';

/** One CPU forward pass: the logits (vocab) after `token` at `pos`, every earlier position having run. */
export interface ReferenceModel {
  forward(token: number, pos: number): Float32Array;
}

/** Which reference `loadReferenceModel` picks for a model of `config`. */
export function referenceKind(config: Pick<ModelConfig, 'gemma' | 'gptOss' | 'deepseek2'>): 'gemma' | 'gpt-oss' | 'deepseek2' | 'llama' {
  if (config.gemma) return 'gemma';
  if (config.gptOss) return 'gpt-oss';
  if (config.deepseek2) return 'deepseek2';
  return 'llama';
}

/**
 * The reference for `file` with a cache of `config.contextLength` positions (the run's context, which may be less
 * than the model's: the caches are allocated for it).
 */
export async function loadReferenceModel(file: GgufFile, config: ModelConfig): Promise<ReferenceModel> {
  const kind = referenceKind(config);
  if (kind === 'llama') return CpuReferenceModel.load(file, config.contextLength);
  const weights = await loadCpuWeights(file);
  switch (kind) {
    case 'gemma':
      return new GemmaCpuReference(config, weights);
    case 'gpt-oss':
      return new GptOssCpuReference(config, weights);
    case 'deepseek2':
      return new Deepseek2CpuReference(config, weights);
  }
}
