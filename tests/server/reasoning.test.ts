// Reasoning in the OpenAI server: chat completions carry `message.reasoning_content` and stream
// `delta.reasoning_content` as llama.cpp's server and vLLM do; `content` holds only the answer; stop strings apply to
// the answer only; chat_template_kwargs and reasoning_effort reach the template; earlier answers' reasoning_content
// is given to the template. The engine is scripted (it "samples" a fixed answer) so that a tiny vocabulary can
// stand for Qwen3 and gpt-oss: the markup, the template and the server are real.
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { GenerateOptions } from '../../src/gpu/engine/engine';
import type { GgufValue } from '../../src/gpu/gguf/types';
import { tokenizerFromGguf, type Tokenizer } from '../../src/gpu/tokenizer';
import { startOpenAiServer, type OpenAiServer } from '../../src/server';
import type { ServerEngine } from '../../src/server/generation';
import { chatModelMeta, GPT_OSS_TEMPLATE, HARMONY_TOKENS, QWEN3_TEMPLATE } from '../helpers/chat-template-models';
import { clientFor, postJson } from './harness';

/** An engine that answers every prompt with `answer`'s tokens, one per step; it records the prompts it got. */
class ScriptedEngine implements ServerEngine {
  readonly config = { contextLength: 4096 };
  readonly pool = { blocks: 1024 };
  readonly prompts: number[][] = [];
  private next = 0;

  constructor(private readonly answer: readonly number[]) {}

  createSequence(): number {
    return this.next++;
  }

  releaseSequence(): void {}

  async generate(_seq: number, tokens: readonly number[], opts: GenerateOptions) {
    this.prompts.push([...tokens]);
    const out: number[] = [];
    for (const t of this.answer.slice(0, opts.maxNewTokens)) {
      if (opts.signal?.aborted) return { tokens: out, stopReason: 'aborted' as const, cachedTokens: 0 };
      out.push(t);
      opts.onToken?.(t);
      await Promise.resolve();
      if (opts.stopTokens?.has(t)) return { tokens: out, stopReason: 'eos' as const, cachedTokens: 0 };
    }
    return { tokens: out, stopReason: 'max-tokens' as const, cachedTokens: 0 };
  }
}

let server: OpenAiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(meta: Map<string, GgufValue>, answer: string): Promise<{ engine: ScriptedEngine; tokenizer: Tokenizer; client: OpenAI; server: OpenAiServer }> {
  const tokenizer = tokenizerFromGguf(meta);
  const engine = new ScriptedEngine(tokenizer.encode(answer, { addBos: false, parseSpecial: true }));
  server = await startOpenAiServer({ engine, tokenizer, metadata: meta, modelId: 'm' });
  return { engine, tokenizer, client: clientFor(server), server };
}

type ReasoningMessage = OpenAI.ChatCompletionMessage & { reasoning_content?: string };
type ReasoningDelta = OpenAI.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };

async function streamParts(client: OpenAI, body: Omit<OpenAI.ChatCompletionCreateParamsStreaming, 'stream'>): Promise<{ reasoning: string[]; content: string[]; finish: string | null }> {
  const stream = await client.chat.completions.create({ ...body, stream: true });
  const reasoning: string[] = [];
  const content: string[] = [];
  let finish: string | null = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    const d = choice.delta as ReasoningDelta;
    if (d.reasoning_content) reasoning.push(d.reasoning_content);
    if (d.content) content.push(d.content);
    finish = choice.finish_reason ?? finish;
  }
  return { reasoning, content, finish };
}

const QWEN_ANSWER = '<think>\nThe user greets me. I greet back.\n</think>\n\nHello! How can I help?';
const user = (content: string) => ({ role: 'user' as const, content });

describe('reasoning_content: Qwen3 <think>', () => {
  it('a chat completion has the reasoning in reasoning_content and only the answer in content', async () => {
    const { client } = await serve(chatModelMeta(QWEN3_TEMPLATE), QWEN_ANSWER);
    const r = await client.chat.completions.create({ model: 'm', messages: [user('Hi')] });
    const message = r.choices[0]!.message as ReasoningMessage;
    expect(message.reasoning_content).toBe('The user greets me. I greet back.');
    expect(message.content).toBe('Hello! How can I help?');
    expect(r.choices[0]!.finish_reason).toBe('length');
  });

  it('streams delta.reasoning_content first, then delta.content; they assemble to the non-streamed message', async () => {
    const { client } = await serve(chatModelMeta(QWEN3_TEMPLATE), QWEN_ANSWER);
    const parts = await streamParts(client, { model: 'm', messages: [user('Hi')] });
    expect(parts.reasoning.length).toBeGreaterThan(1); // streamed as it comes, not in one piece at the end
    expect(parts.reasoning.join('')).toBe('The user greets me. I greet back.');
    expect(parts.content.join('')).toBe('Hello! How can I help?');
  });

  it('stop strings apply to the answer only: a stop string inside the reasoning does not end it', async () => {
    const { client } = await serve(chatModelMeta(QWEN3_TEMPLATE), QWEN_ANSWER);
    const r = await client.chat.completions.create({ model: 'm', messages: [user('Hi')], stop: ['greet', 'How'] });
    const message = r.choices[0]!.message as ReasoningMessage;
    expect(message.reasoning_content).toBe('The user greets me. I greet back.');
    expect(message.content).toBe('Hello! ');
    expect(r.choices[0]!.finish_reason).toBe('stop');
  });

  it('reasoning cut off by max_tokens comes back as reasoning_content with an empty answer', async () => {
    const { client, tokenizer } = await serve(chatModelMeta(QWEN3_TEMPLATE), QWEN_ANSWER);
    const n = tokenizer.encode('<think>\nThe user greets', { addBos: false }).length;
    const r = await client.chat.completions.create({ model: 'm', messages: [user('Hi')], max_tokens: n });
    const message = r.choices[0]!.message as ReasoningMessage;
    expect(message.reasoning_content).toBe('The user greets');
    expect(message.content).toBe('');
    expect(r.choices[0]!.finish_reason).toBe('length');
  });

  it('chat_template_kwargs {enable_thinking: false} reaches the template (the prompt closes an empty <think>)', async () => {
    const { client, engine, tokenizer } = await serve(chatModelMeta(QWEN3_TEMPLATE), 'Hello.');
    const r = await client.chat.completions.create({ model: 'm', messages: [user('Hi')], chat_template_kwargs: { enable_thinking: false } } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(tokenizer.decode(engine.prompts[0]!, { special: true })).toMatch(/<\|im_start\|>assistant\n<think>\n\n<\/think>\n\n$/);
    expect((r.choices[0]!.message as ReasoningMessage).reasoning_content).toBeUndefined();
    expect(r.choices[0]!.message.content).toBe('Hello.');
  });

  it('a template that opens <think> in the prompt: the answer starts as reasoning', async () => {
    const opening = QWEN3_TEMPLATE.replace("{{- '<|im_start|>assistant\\n' }}", "{{- '<|im_start|>assistant\\n<think>\\n' }}");
    expect(opening).not.toBe(QWEN3_TEMPLATE);
    const { client } = await serve(chatModelMeta(opening), 'Thinking quietly.\n</think>\n\nDone.');
    const r = await client.chat.completions.create({ model: 'm', messages: [user('Hi')] });
    expect((r.choices[0]!.message as ReasoningMessage).reasoning_content).toBe('Thinking quietly.');
    expect(r.choices[0]!.message.content).toBe('Done.');
  });

  it("an earlier answer's reasoning_content is given to the template, which leaves it out of past turns", async () => {
    const { engine, server: s, tokenizer } = await serve(chatModelMeta(QWEN3_TEMPLATE), 'Ok.');
    const messages = [user('Hi'), { role: 'assistant', content: 'Hello!', reasoning_content: 'SECRET-PLAN' }, user('Again')];
    expect((await postJson(s, '/v1/chat/completions', { messages })).status).toBe(200);
    const prompt = tokenizer.decode(engine.prompts[0]!, { special: true });
    expect(prompt).toContain('<|im_start|>assistant\nHello!<|im_end|>');
    expect(prompt).not.toContain('SECRET-PLAN');
  });

  it("reasoning_format 'none' leaves the reasoning in content, markup and all (llama.cpp's option)", async () => {
    const { server: s } = await serve(chatModelMeta(QWEN3_TEMPLATE), QWEN_ANSWER);
    const { status, json } = await postJson(s, '/v1/chat/completions', { messages: [user('Hi')], reasoning_format: 'none' });
    expect(status).toBe(200);
    expect(json.choices[0].message.content).toBe(QWEN_ANSWER);
    expect(json.choices[0].message.reasoning_content).toBeUndefined();
  });

  it('a model without reasoning markup answers as before (no reasoning_content)', async () => {
    const { client } = await serve(chatModelMeta("{% for m in messages %}{{ m.content }}{% endfor %}"), '<think>x</think>y');
    const r = await client.chat.completions.create({ model: 'm', messages: [user('Hi')] });
    expect(r.choices[0]!.message.content).toBe('<think>x</think>y');
    expect((r.choices[0]!.message as ReasoningMessage).reasoning_content).toBeUndefined();
  });

  it('bad reasoning fields are a 400 naming the field', async () => {
    const { server: s } = await serve(chatModelMeta(QWEN3_TEMPLATE), 'x');
    const effort = await postJson(s, '/v1/chat/completions', { messages: [user('Hi')], reasoning_effort: 'max' });
    expect(effort.status).toBe(400);
    expect(effort.json.error.param).toBe('reasoning_effort');
    const kwargs = await postJson(s, '/v1/chat/completions', { messages: [user('Hi')], chat_template_kwargs: 'off' });
    expect(kwargs.status).toBe(400);
    expect(kwargs.json.error.param).toBe('chat_template_kwargs');
  });
});

describe('reasoning_content: gpt-oss harmony channels', () => {
  const ANSWER = '<|channel|>analysis<|message|>Simple sum.<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>';

  it('the analysis channel is reasoning_content, the final channel content (streamed and not)', async () => {
    const { client, tokenizer } = await serve(chatModelMeta(GPT_OSS_TEMPLATE, HARMONY_TOKENS), ANSWER);
    // As llama.cpp: <|end|> closes the analysis message, not the generation (<|return|> does).
    const [end] = tokenizer.encode('<|end|>', { addBos: false, parseSpecial: true });
    expect(tokenizer.endOfGeneration.has(end!)).toBe(false);
    const r = await client.chat.completions.create({ model: 'm', messages: [user('2+2?')] });
    expect((r.choices[0]!.message as ReasoningMessage).reasoning_content).toBe('Simple sum.');
    expect(r.choices[0]!.message.content).toBe('2 + 2 = 4.');
    expect(r.choices[0]!.finish_reason).toBe('stop');
    const parts = await streamParts(client, { model: 'm', messages: [user('2+2?')] });
    expect(parts).toEqual({ reasoning: expect.any(Array), content: expect.any(Array), finish: 'stop' });
    expect([parts.reasoning.join(''), parts.content.join('')]).toEqual(['Simple sum.', '2 + 2 = 4.']);
  });

  it('reasoning_effort reaches the template; an earlier answer is given to it as `thinking`', async () => {
    const { engine, server: s, tokenizer } = await serve(chatModelMeta(GPT_OSS_TEMPLATE, HARMONY_TOKENS), ANSWER);
    const messages = [user('1+1?'), { role: 'assistant', content: '2.', reasoning_content: 'OLD-THOUGHT' }, user('2+2?')];
    expect((await postJson(s, '/v1/chat/completions', { messages, reasoning_effort: 'low' })).status).toBe(200);
    const prompt = tokenizer.decode(engine.prompts[0]!, { special: true });
    expect(prompt).toContain('Reasoning: low');
    expect(prompt).toContain('<|start|>assistant<|channel|>final<|message|>2.<|end|>');
    // gpt-oss drops the analysis of turns before the last user message.
    expect(prompt).not.toContain('OLD-THOUGHT');
  });
});
