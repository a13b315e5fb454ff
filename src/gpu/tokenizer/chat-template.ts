// Chat prompts rendered from the model's own Jinja template (`tokenizer.chat_template`).
//
// Without a template: a vocabulary that has ChatML's `<|im_start|>`/`<|im_end|>` tokens gets ChatML (llama.cpp's own
// fallback). Any other model is a base model that has never seen chat markup (the tiny story models): its messages
// are concatenated as plain text, so the prompt is a story for the model to continue and each turn's prompt is a
// prefix of the next one (its KV blocks are reused). A `<|user|>`-style markup would only be noise to such a model.
import { Template } from '@huggingface/jinja';
import { optionalNumber, optionalString, type Metadata } from '../gguf/metadata';
import { ChatTemplateError } from './errors';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
  /** An assistant turn's reasoning, split from its content (reasoning.ts); the template decides what it keeps. */
  readonly reasoning?: string;
}

export interface RenderOptions {
  /** End with the opening of an assistant turn, for the model to write. */
  readonly addGenerationPrompt: boolean;
  /** Extra variables for the model's template (`enable_thinking`, `reasoning_effort`), as chat_template_kwargs. */
  readonly templateKwargs?: Readonly<Record<string, unknown>>;
}

/** How a model's chat is rendered: its own template, the ChatML fallback, or plain concatenation. */
export type ChatFormat = 'model' | 'chatml' | 'plain';

function tokenTexts(meta: Metadata): readonly unknown[] {
  const tokens = meta.get('tokenizer.ggml.tokens');
  return Array.isArray(tokens) ? tokens : [];
}

export function chatFormatOf(meta: Metadata): ChatFormat {
  if (optionalString(meta, 'tokenizer.chat_template')) return 'model';
  const tokens = tokenTexts(meta);
  return tokens.includes('<|im_start|>') && tokens.includes('<|im_end|>') ? 'chatml' : 'plain';
}

/** The text of a special token for the template (`bos_token`, `eos_token`); '' when the model has none. */
function specialTokenText(meta: Metadata, key: string, spmDefault: number): string {
  const fallback = optionalString(meta, 'tokenizer.ggml.model') === 'llama' ? spmDefault : undefined;
  const id = optionalNumber(meta, `tokenizer.ggml.${key}`) ?? fallback;
  const text = id === undefined ? undefined : tokenTexts(meta)[id];
  return typeof text === 'string' ? text : '';
}

let cached: { source: string; template: Template } | undefined;

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function compile(source: string): Template {
  if (cached?.source === source) return cached.template;
  try {
    const template = new Template(source);
    cached = { source, template };
    return template;
  } catch (e) {
    throw new ChatTemplateError('template-parse', `the model's chat template could not be parsed: ${describe(e)}`, { cause: e });
  }
}

function renderModelTemplate(meta: Metadata, source: string, messages: readonly ChatMessage[], opts: RenderOptions): string {
  const template = compile(source);
  try {
    return template.render({
      ...opts.templateKwargs,
      // Reasoning under both names templates read: Qwen3's `reasoning_content`, gpt-oss's `thinking`.
      messages: messages.map((m) => ({ role: m.role, content: m.content, ...(m.reasoning ? { reasoning_content: m.reasoning, thinking: m.reasoning } : {}) })),
      bos_token: specialTokenText(meta, 'bos_token_id', 1),
      eos_token: specialTokenText(meta, 'eos_token_id', 2),
      add_generation_prompt: opts.addGenerationPrompt,
    });
  } catch (e) {
    throw new ChatTemplateError('template-render', `the model's chat template failed to render: ${describe(e)}`, { cause: e });
  }
}

function renderChatMl(messages: readonly ChatMessage[], opts: RenderOptions): string {
  const turns = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
  return opts.addGenerationPrompt ? `${turns}<|im_start|>assistant\n` : turns;
}

function renderPlain(messages: readonly ChatMessage[]): string {
  return messages.map((m) => m.content).join('');
}

/** The prompt text for a conversation, ready to tokenize with special tokens parsed. */
export function renderChatTemplate(meta: Metadata, messages: readonly ChatMessage[], opts: RenderOptions): string {
  const source = optionalString(meta, 'tokenizer.chat_template');
  if (source) return renderModelTemplate(meta, source, messages, opts);
  return chatFormatOf(meta) === 'chatml' ? renderChatMl(messages, opts) : renderPlain(messages);
}
