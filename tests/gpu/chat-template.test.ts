// Chat prompts from real Jinja templates given as metadata, and the fallbacks for models without one.
import { describe, expect, it } from 'vitest';
import type { GgufValue } from '../../src/gpu/gguf/types';
import {
  ChatTemplateError,
  chatFormatOf,
  renderChatTemplate,
  tokenizerFromGguf,
  type ChatMessage,
} from '../../src/gpu/tokenizer';
import { openModel } from '../helpers/shared';

const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + " +
  "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}" +
  '{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}' +
  "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

const ALTERNATING_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}" +
  "{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

function metadata(entries: Record<string, GgufValue>): Map<string, GgufValue> {
  return new Map(Object.entries(entries));
}

const chatMlModel = (template?: string): Map<string, GgufValue> =>
  metadata({
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.tokens': ['<|endoftext|>', '<|im_start|>', '<|im_end|>', 'a'],
    'tokenizer.ggml.bos_token_id': 0,
    'tokenizer.ggml.eos_token_id': 2,
    ...(template ? { 'tokenizer.chat_template': template } : {}),
  });

const llama3Model = metadata({
  'tokenizer.ggml.model': 'gpt2',
  'tokenizer.ggml.tokens': ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'],
  'tokenizer.ggml.bos_token_id': 0,
  'tokenizer.ggml.eos_token_id': 1,
  'tokenizer.chat_template': LLAMA3_TEMPLATE,
});

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi!' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'Tell me a story. ' },
];

describe('the model’s own template', () => {
  it('renders a ChatML template with the generation prompt', () => {
    const text = renderChatTemplate(chatMlModel(CHATML_TEMPLATE), conversation.slice(0, 2), { addGenerationPrompt: true });
    expect(text).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(chatFormatOf(chatMlModel(CHATML_TEMPLATE))).toBe('model');
  });

  it('renders a Llama 3 template with bos_token from the vocabulary and trimmed content', () => {
    const text = renderChatTemplate(llama3Model, conversation, { addGenerationPrompt: true });
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nTell me a story.<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('leaves the generation prompt out when not asked', () => {
    const text = renderChatTemplate(llama3Model, conversation.slice(1, 2), { addGenerationPrompt: false });
    expect(text).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>');
  });

  it('passes eos_token and reports raise_exception as a render error with its message', () => {
    const meta = chatMlModel(ALTERNATING_TEMPLATE);
    const ok = renderChatTemplate(meta, conversation.slice(1, 3), { addGenerationPrompt: false });
    expect(ok).toBe('<|endoftext|>[INST] Hi! [/INST]Hello.<|im_end|>');
    const bad = (): string => renderChatTemplate(meta, conversation, { addGenerationPrompt: false });
    expect(bad).toThrow(ChatTemplateError);
    expect(bad).toThrow(/roles must alternate/);
    try {
      bad();
    } catch (e) {
      expect((e as ChatTemplateError).code).toBe('template-render');
    }
  });

  it('reports a template that does not parse', () => {
    const meta = chatMlModel('{% for message in messages %}{{ message.content }}');
    const render = (): string => renderChatTemplate(meta, conversation, { addGenerationPrompt: true });
    expect(render).toThrow(ChatTemplateError);
    try {
      render();
    } catch (e) {
      expect((e as ChatTemplateError).code).toBe('template-parse');
      expect((e as Error).message).toMatch(/could not be parsed: .+/);
    }
  });

  it('gives a prompt whose control tokens the tokenizer parses', () => {
    const meta = new Map(openModel('vocab/ggml-vocab-gpt-2.gguf').metadata);
    meta.set('tokenizer.chat_template', '{% for m in messages %}{{ m.content + eos_token }}{% endfor %}');
    const text = renderChatTemplate(meta, conversation.slice(1, 2), { addGenerationPrompt: true });
    expect(text).toBe('Hi!<|endoftext|>');
    expect(tokenizerFromGguf(meta).encode(text, { parseSpecial: true }).at(-1)).toBe(50256);
  });
});

describe('models without a template', () => {
  it('concatenates plain text for a base story model', () => {
    const meta = openModel('stories260K.gguf').metadata;
    expect(chatFormatOf(meta)).toBe('plain');
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Once upon a time' },
      { role: 'assistant', content: ', there was a little girl.' },
      { role: 'user', content: ' She liked cats.' },
    ];
    const text = renderChatTemplate(meta, messages, { addGenerationPrompt: true });
    expect(text).toBe('Once upon a time, there was a little girl. She liked cats.');
    expect(renderChatTemplate(meta, messages.slice(0, 1), { addGenerationPrompt: true })).toBe('Once upon a time');
  });

  it('falls back to ChatML when the vocabulary has ChatML tokens', () => {
    const meta = chatMlModel();
    expect(chatFormatOf(meta)).toBe('chatml');
    const text = renderChatTemplate(meta, conversation.slice(1, 2), { addGenerationPrompt: true });
    expect(text).toBe('<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n');
    expect(renderChatTemplate(meta, conversation.slice(1, 2), { addGenerationPrompt: false })).toBe(
      '<|im_start|>user\nHi!<|im_end|>\n',
    );
  });
});
