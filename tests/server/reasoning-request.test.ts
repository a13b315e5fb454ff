// The reasoning fields of a chat completion request, parsed: OpenAI's reasoning_effort (low/medium/high) and
// llama.cpp's/vLLM's chat_template_kwargs become the template's variables (reasoning_effort given on its own
// wins over the same key in the kwargs), reasoning_format 'none' keeps the reasoning in the content, and values of
// the wrong kind are a 400 naming the field.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/server/errors';
import { parseChatRequest } from '../../src/server/schemas';

const messages = [{ role: 'user', content: 'Hi' }];

function refusal(body: unknown): { param: string | null; status: number } {
  try {
    parseChatRequest(body);
  } catch (e) {
    if (e instanceof ApiError) return { param: e.param, status: e.status };
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('parseChatRequest: reasoning', () => {
  it.each(['low', 'medium', 'high'])('reasoning_effort %s is a template variable', (effort) => {
    expect(parseChatRequest({ messages, reasoning_effort: effort }).templateKwargs).toEqual({ reasoning_effort: effort });
  });

  it('chat_template_kwargs pass through; reasoning_effort on its own wins over the same key in them', () => {
    const r = parseChatRequest({ messages, chat_template_kwargs: { enable_thinking: false, reasoning_effort: 'low' }, reasoning_effort: 'high' });
    expect(r.templateKwargs).toEqual({ enable_thinking: false, reasoning_effort: 'high' });
  });

  it('no reasoning fields: no variables, the reasoning split out', () => {
    const r = parseChatRequest({ messages });
    expect(r.templateKwargs).toEqual({});
    expect(r.splitReasoning).toBe(true);
    expect(parseChatRequest({ messages, reasoning_format: 'none' }).splitReasoning).toBe(false);
    expect(parseChatRequest({ messages, reasoning_effort: null, chat_template_kwargs: null }).templateKwargs).toEqual({});
  });

  it("an earlier answer's reasoning_content reaches the template as its reasoning", () => {
    const r = parseChatRequest({ messages: [...messages, { role: 'assistant', content: 'Hello', reasoning_content: 'greet back' }, { role: 'user', content: 'Bye' }] });
    expect(r.messages[1]).toEqual({ role: 'assistant', content: 'Hello', reasoning: 'greet back' });
  });

  it.each([
    [{ reasoning_effort: 'max' }, 'reasoning_effort'],
    [{ reasoning_effort: 2 }, 'reasoning_effort'],
    [{ chat_template_kwargs: 'off' }, 'chat_template_kwargs'],
    [{ chat_template_kwargs: ['enable_thinking'] }, 'chat_template_kwargs'],
    [{ reasoning_format: 'xml' }, 'reasoning_format'],
  ])('%j is a 400 naming %s', (fields, param) => {
    expect(refusal({ messages, ...fields })).toMatchObject({ param, status: 400 });
  });
});
