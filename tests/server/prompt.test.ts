// Prompt tokens and the new-token budget follow the CLI's rules: the model's BOS rule for raw text, the model's
// chat template with exactly one BOS, and prompt + generated tokens within context + 1 positions.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Metadata } from '../../src/gpu/gguf/metadata';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { ApiError } from '../../src/server/errors';
import { chatPromptTokens, completionPromptTokens, maxPromptChars, newTokenBudget } from '../../src/server/prompt';
import { modelPath, openModel } from '../helpers/shared';

const vocab = openModel('vocab/ggml-vocab-llama-spm.gguf');
const tokenizer = tokenizerFromGguf(vocab.metadata);
const BOS = tokenizer.bos!;

function withTemplate(template: string): Metadata {
  return new Map([...vocab.metadata, ['tokenizer.chat_template', template]]);
}

function apiError(f: () => unknown): ApiError {
  try {
    f();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
}

const LINES = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}";

describe('server prompts', () => {
  it('a template that writes bos_token gets no second BOS; one that does not gets the model BOS', () => {
    const messages = [{ role: 'user', content: 'Hi there' }] as const;
    const own = chatPromptTokens(tokenizer, withTemplate(`{{ bos_token }}${LINES}`), messages);
    const added = chatPromptTokens(tokenizer, withTemplate(LINES), messages);
    expect(own[0]).toBe(BOS);
    expect(own[1]).not.toBe(BOS);
    expect(added).toEqual(own);
    // SentencePiece's space prefix after the BOS is the tokenizer's, as in llama.cpp.
    expect(tokenizer.decode(own).trimStart()).toBe('[user] Hi there\n[assistant]');
  });

  it('a template that refuses the conversation is a 400 on messages, not a server error', () => {
    const strict = withTemplate("{% if messages[0].role == 'system' %}{{ raise_exception('no system role') }}{% endif %}" + LINES);
    const e = apiError(() => chatPromptTokens(tokenizer, strict, [{ role: 'system', content: 'x' }]));
    expect(e.status).toBe(400);
    expect(e.body.error).toMatchObject({ param: 'messages', code: 'invalid_messages' });
  });

  it('raw text takes the model BOS; token ids are used as given and checked against the vocabulary', () => {
    expect(completionPromptTokens(tokenizer, { text: 'Hello' })).toEqual(tokenizer.encode('Hello', {}));
    expect(completionPromptTokens(tokenizer, { tokens: [5, 6] })).toEqual([5, 6]);
    expect(apiError(() => completionPromptTokens(tokenizer, { tokens: [1, tokenizer.vocabSize] })).body.error.param).toBe('prompt');
  });

  it('the budget: what the client allows, cut to context + 1 positions; a prompt past the context is refused', () => {
    expect(newTokenBudget(5, 512, undefined, 'prompt')).toBe(508);
    expect(newTokenBudget(5, 512, 10, 'prompt')).toBe(10);
    expect(newTokenBudget(5, 512, 9999, 'prompt')).toBe(508);
    expect(newTokenBudget(512, 512, undefined, 'prompt')).toBe(1);
    const e = apiError(() => newTokenBudget(513, 512, 1, 'messages'));
    expect(e.body.error).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
    expect(apiError(() => newTokenBudget(0, 512, 1, 'prompt')).status).toBe(400);
  });

  it('a text too long for the context in any tokenization is refused before it is tokenized', () => {
    const limit = maxPromptChars(tokenizer, 64);
    const e = apiError(() => completionPromptTokens(tokenizer, { text: 'a'.repeat(limit + 1) }, limit));
    expect(e.body.error).toMatchObject({ code: 'context_length_exceeded', param: 'prompt' });
    const chat = apiError(() => chatPromptTokens(tokenizer, withTemplate(LINES), [{ role: 'user', content: 'a'.repeat(limit) }], limit));
    expect(chat.body.error).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
  });

  it('the bound is sound: no text has fewer tokens than its length allows (llama.cpp test strings)', () => {
    const perToken = maxPromptChars(tokenizer, 1) - 1;
    const texts = readFileSync(modelPath('vocab/ggml-vocab-llama-spm.gguf.inp'), 'utf8').split('\n__ggml_vocab_test__\n');
    expect(texts.length).toBeGreaterThan(10);
    for (const text of [...texts, ' '.repeat(300), '\u2581'.repeat(50)]) expect(tokenizer.encode(text, {}).length * perToken + 1).toBeGreaterThanOrEqual(text.length);
  });
});
