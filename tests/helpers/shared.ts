// Paths to ../shared beside the checkout (the same layout in CI), and the reference JSON files.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GgufFile } from '../../src/gpu/gguf/reader';

export const SHARED = resolve(__dirname, '../../../shared');
export const modelPath = (name: string): string => resolve(SHARED, 'models', name);
export const referencePath = (name: string): string => resolve(SHARED, 'reference', name);

export function openModel(name: string): GgufFile {
  return GgufFile.fromBytes(new Uint8Array(readFileSync(modelPath(name))));
}

export interface Reference {
  readonly prompt: string;
  readonly prompt_tokens: number[];
  readonly generated_tokens: number[];
  readonly first_generated_position_logits: number[];
  readonly top5_per_generated_step: { pos: number; ids: number[]; logits: number[] }[];
  readonly stopped_on_eog?: boolean;
  readonly text: string;
}

export function loadReference(name: string): Reference {
  return JSON.parse(readFileSync(referencePath(name), 'utf8')) as Reference;
}

/** Each reference with the model file it was produced from (the -dequant ones from the quantized file). */
export const REFERENCE_CASES = [
  { model: 'stories260K.gguf', reference: 'llama2c_stories260K_once_upon_a_time.json' },
  { model: 'stories260K.gguf', reference: 'llama2c_stories260K_empty.json' },
  { model: 'stories260K-Q8_0.gguf', reference: 'llama2c_stories260K-Q8_0-dequant_once_upon_a_time.json' },
  { model: 'TinyStories-656K.gguf', reference: 'llamacpp_TinyStories-656K-F32_once_upon_a_time.json' },
  { model: 'TinyStories-656K-Q4_0.gguf', reference: 'llamacpp_TinyStories-656K-Q4_0-dequant_once_upon_a_time.json' },
] as const;

/** Positions in the reference run: the prompt plus every generated token, 200 for the llama2.c runs. */
export function referencePositions(ref: Reference): number {
  return ref.prompt_tokens.length + ref.generated_tokens.length - 1;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}
