// A llama.cpp fixture as scripts/llama-cpp-oracle.ts's writeFixture writes it (tests/fixtures/<name>.json): the
// synthetic model's spec, and per prompt llama.cpp's greedy tokens and the logits after the prompt.
import { readFileSync } from 'node:fs';

export interface OracleFixture<Spec = unknown> {
  readonly generator: string;
  readonly llama_cpp: string;
  readonly spec: Spec;
  /** The context llama.cpp was loaded with, where it matters (LongRoPE's factors, YaRN). */
  readonly context_size?: number;
  /** Prompt plus generated tokens of each case. */
  readonly positions: number;
  readonly cases: readonly { readonly prompt_tokens: number[]; readonly generated_tokens: number[]; readonly first_generated_position_logits: number[] }[];
}

export function readOracleFixture<Spec = unknown>(name: string): OracleFixture<Spec> {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')) as OracleFixture<Spec>;
}
