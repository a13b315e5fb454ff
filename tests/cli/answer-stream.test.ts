// generate's answer split as it streams (src/cli/answer-stream.ts): with --chat the reasoning goes to stderr under
// "Thinking:", the answer to stdout, for Qwen3's <think> (also when the prompt opened it) and gpt-oss's channels;
// raw text is never split. GPT-2's vocabulary stands for the models (the markup and templates are real); the
// answer's tokens are fed one by one, as the engine samples them.
import { describe, expect, it } from 'vitest';
import { AnswerStream, THINKING_HEADER } from '../../src/cli/answer-stream';
import type { GgufValue } from '../../src/gpu/gguf/types';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { chatModelMeta, GPT_OSS_TEMPLATE, HARMONY_TOKENS, QWEN3_TEMPLATE } from '../helpers/chat-template-models';

class Sink {
  readonly pieces: string[] = [];
  write(text: string): void {
    this.pieces.push(text);
  }
  get text(): string {
    return this.pieces.join('');
  }
}

/** Streams `answer`'s tokens after `promptText` through an AnswerStream; what each sink got and what end() returned. */
function run(meta: Map<string, GgufValue>, promptText: string, answer: string, chat = true) {
  const tokenizer = tokenizerFromGguf(meta);
  const prompt = tokenizer.encode(promptText, { addBos: false, parseSpecial: true });
  const out = new Sink();
  const err = new Sink();
  const stream = new AnswerStream(tokenizer, meta, prompt, { continuation: true, chat, out, err });
  for (const t of tokenizer.encode(answer, { addBos: false, parseSpecial: true })) stream.token(t);
  const whole = stream.end();
  return { out, err, whole, format: stream.format };
}

describe('generate --chat: the answer split from its reasoning', () => {
  it("Qwen3's <think> block goes to stderr under the header, the answer to stdout, both as they stream", () => {
    const r = run(chatModelMeta(QWEN3_TEMPLATE), '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', '<think>\nThe user greets me. I greet back.\n</think>\n\nHello! How can I help?');
    expect(r.format).toBe('think');
    expect(r.whole).toEqual({ reasoning: 'The user greets me. I greet back.', content: 'Hello! How can I help?' });
    expect(r.err.text).toBe(`${THINKING_HEADER}The user greets me. I greet back.\n\n`);
    expect(r.out.text).toBe('Hello! How can I help?');
    expect(r.err.pieces.length).toBeGreaterThan(3); // streamed, not printed at the end
    expect(r.out.pieces.length).toBeGreaterThan(3);
  });

  it('a prompt that opened <think> (the template started the reasoning) makes the first text reasoning', () => {
    const r = run(chatModelMeta(QWEN3_TEMPLATE), '<|im_start|>assistant\n<think>\n', 'Short plan.\n</think>\n\nDone.');
    expect(r.whole).toEqual({ reasoning: 'Short plan.', content: 'Done.' });
    expect(r.err.text).toBe(`${THINKING_HEADER}Short plan.\n\n`);
  });

  it('reasoning cut off (max tokens) stays reasoning, and its header is closed', () => {
    const r = run(chatModelMeta(QWEN3_TEMPLATE), '', '<think>\nStill thinking about');
    expect(r.whole).toEqual({ reasoning: 'Still thinking about', content: '' });
    expect(r.err.text).toBe(`${THINKING_HEADER}Still thinking about\n\n`);
    expect(r.out.text).toBe('');
  });

  it("gpt-oss's analysis channel is the reasoning, its final channel the answer; <|return|> prints nothing", () => {
    const meta = chatModelMeta(GPT_OSS_TEMPLATE, HARMONY_TOKENS);
    const r = run(meta, '<|start|>assistant', '<|channel|>analysis<|message|>Need a greeting.<|end|><|start|>assistant<|channel|>final<|message|>Hi there!<|return|>');
    expect(r.format).toBe('harmony');
    expect(r.whole).toEqual({ reasoning: 'Need a greeting.', content: 'Hi there!' });
    expect(r.out.text).toBe('Hi there!');
    expect(r.err.text).toBe(`${THINKING_HEADER}Need a greeting.\n\n`);
  });

  it('an answer without reasoning prints no header', () => {
    const r = run(chatModelMeta(QWEN3_TEMPLATE), '', 'Just an answer.');
    expect(r.whole).toEqual({ reasoning: '', content: 'Just an answer.' });
    expect(r.err.text).toBe('');
  });

  it('raw text (no --chat) is never split, whatever it contains', () => {
    const text = '<think>\nnot markup here\n</think>\n\nstory';
    const r = run(chatModelMeta(QWEN3_TEMPLATE), 'Once', text, false);
    expect(r.format).toBe('none');
    expect(r.whole).toEqual({ reasoning: '', content: text });
    expect(r.out.text).toBe(text);
    expect(r.err.text).toBe('');
  });
});
