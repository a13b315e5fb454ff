// A chat's prompt tokens: the model's chat template rendered (its own, the ChatML fallback or plain text), special
// tokens parsed, and BOS added unless the template already wrote it. Every front end encodes a chat here, so
// the UI, the CLI and the server give the same tokens (and the same KV block hashes) for the same messages.
import type { Metadata } from '../gguf/metadata';
import { renderChatTemplate, type ChatMessage } from './chat-template';
import type { Tokenizer } from './tokenizer';

export interface EncodeChatOptions {
  /** End with the opening of an assistant turn, for the model to write. */
  readonly addGenerationPrompt: boolean;
  /**
   * false: never add BOS (turns appended to a conversation already under way). Default: as the model's
   * add_bos_token says (llama.cpp's add_special; Qwen and gpt-oss add none).
   */
  readonly addBos?: boolean;
  /** Extra variables for the model's template (`enable_thinking: false`, `reasoning_effort`). */
  readonly templateKwargs?: Readonly<Record<string, unknown>>;
  /**
   * Sees the rendered text before it is tokenized, and may throw: tokenizing a flood of text stalls the caller's
   * thread for seconds, so a server refuses it here.
   */
  readonly checkRendered?: (text: string) => void;
}

/** Whether the rendered text opens with the model's BOS token (a template with `{{ bos_token }}`). */
function startsWithBos(tokenizer: Tokenizer, text: string): boolean {
  return tokenizer.bos !== undefined && text.startsWith(tokenizer.tokenText(tokenizer.bos));
}

export function encodeChat(tokenizer: Tokenizer, metadata: Metadata, messages: readonly ChatMessage[], opts: EncodeChatOptions): number[] {
  const text = renderChatTemplate(metadata, messages, {
    addGenerationPrompt: opts.addGenerationPrompt,
    ...(opts.templateKwargs ? { templateKwargs: opts.templateKwargs } : {}),
  });
  opts.checkRendered?.(text);
  return tokenizer.encode(text, { parseSpecial: true, addBos: (opts.addBos ?? tokenizer.addBosDefault) && !startsWithBos(tokenizer, text) });
}
