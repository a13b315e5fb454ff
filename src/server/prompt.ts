// Prompt tokens and the new-token budget, by the same rules as the CLI's `generate` (src/cli/generate.ts), so a
// greedy request gives exactly what the CLI prints for the same prompt:
// - raw text is encoded with the model's own BOS rule (tokenizer.ggml.add_bos_token);
// - a chat is encoded by encodeChat (the model's template, special tokens parsed, BOS unless the template wrote it);
// - prompt and generated tokens together take at most contextLength + 1 positions (the last sampled token is
//   never run through the model), llama2.c's -n rule.
import type { Metadata } from '../gpu/gguf/metadata';
import { ChatTemplateError, encodeChat, type ChatMessage, type Tokenizer } from '../gpu/tokenizer';
import { promptEndsInThinking, reasoningFormatOf } from '../gpu/tokenizer/reasoning';
import { badRequest, contextLengthExceeded } from './errors';
import type { ReasoningSetup } from './generation';
import type { CompletionPrompt } from './schemas';

/**
 * Characters past which a text cannot fit in `contextLength` tokens: no token covers more characters than the
 * longest token text (+1 for a SentencePiece space prefix). Tokenizing runs on the server's only thread (a
 * megabyte takes seconds and stalls every stream), so a text past this is refused before it is tokenized.
 */
export function maxPromptChars(tokenizer: Tokenizer, contextLength: number): number {
  let longest = 1;
  for (let id = 0; id < tokenizer.vocabSize; id++) longest = Math.max(longest, tokenizer.tokenText(id).length);
  return contextLength * longest + 1;
}

/** "The prompt takes", "the messages take". */
const takes = (param: string): string => `${param} ${param === 'messages' ? 'take' : 'takes'}`;

function checkChars(length: number, maxChars: number, param: string): void {
  if (length > maxChars) {
    throw contextLengthExceeded(`The ${takes(param)} ${length} characters: more tokens than this model's context holds.`, param);
  }
}

export function completionPromptTokens(tokenizer: Tokenizer, prompt: CompletionPrompt, maxChars = Infinity): number[] {
  if ('text' in prompt) {
    checkChars(prompt.text.length, maxChars, 'prompt');
    return tokenizer.encode(prompt.text, {});
  }
  const bad = prompt.tokens.find((t) => t >= tokenizer.vocabSize);
  if (bad !== undefined) throw badRequest(`Token ${bad} in 'prompt' is outside the model's vocabulary (0..${tokenizer.vocabSize - 1}).`, 'invalid_value', 'prompt');
  return [...prompt.tokens];
}

export function chatPromptTokens(
  tokenizer: Tokenizer,
  metadata: Metadata,
  messages: readonly ChatMessage[],
  maxChars = Infinity,
  templateKwargs: Readonly<Record<string, unknown>> = {},
): number[] {
  // The messages' own text is a lower bound of the rendered prompt: a flood of text is refused before the template
  // (a Jinja interpreter on the server's only thread) ever runs.
  checkChars(messages.reduce((n, m) => n + m.content.length, 0), maxChars, 'messages');
  try {
    // The rendered text is size-checked again before the tokenizer runs.
    return encodeChat(tokenizer, metadata, messages, { addGenerationPrompt: true, templateKwargs, checkRendered: (text) => checkChars(text.length, maxChars, 'messages') });
  } catch (e) {
    // A template refuses some conversations (roles out of order, a system message it has no place for).
    if (e instanceof ChatTemplateError) throw badRequest(e.message, 'invalid_messages', 'messages');
    throw e;
  }
}

/** Most new tokens for a prompt: what the client allows, cut to what the context leaves. */
export function newTokenBudget(promptLength: number, contextLength: number, maxTokens: number | undefined, param: string): number {
  if (promptLength === 0) throw badRequest(`The '${param}' is empty and this model adds no BOS token: there is nothing to continue.`, 'invalid_value', param);
  if (promptLength > contextLength) {
    throw contextLengthExceeded(`This model's maximum context length is ${contextLength} tokens; the ${takes(param)} ${promptLength}.`, param);
  }
  const room = contextLength - promptLength + 1;
  return Math.min(maxTokens ?? room, room);
}

/** How a chat answer's reasoning is split: the template's markup, and whether the prompt already opened it. */
export function reasoningSetup(tokenizer: Tokenizer, metadata: Metadata, prompt: readonly number[]): ReasoningSetup | undefined {
  const format = reasoningFormatOf(metadata);
  if (format === 'none') return undefined;
  return { format, startsInReasoning: format === 'think' && promptEndsInThinking(tokenizer, prompt) };
}
