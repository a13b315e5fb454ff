// Request parsing: OpenAI's fields become engine settings; wrong types, out-of-range values and features this server
// does not have are 400s that name the field.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/server/errors';
import { parseChatRequest, parseCompletionRequest } from '../../src/server/schemas';

function rejection(f: () => unknown): ApiError {
  try {
    f();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
}

describe('request schemas', () => {
  it('maps OpenAI fields to sampling settings and stop strings', () => {
    const r = parseCompletionRequest({ model: 'm', prompt: 'Hi', max_tokens: 7, temperature: 0.5, top_p: 0.9, seed: -1, stop: 'x', stream: true, stream_options: { include_usage: true } });
    expect(r).toMatchObject({ model: 'm', prompt: { text: 'Hi' }, maxTokens: 7, stop: ['x'], stream: true, includeUsage: true });
    expect(r.sampling).toMatchObject({ temperature: 0.5, topP: 0.9, topK: 0, minP: 0, seed: 2 ** 32 - 1 });
  });

  it('reads token-id prompts, a one-element prompt list and chat content parts', () => {
    expect(parseCompletionRequest({ prompt: [1, 2, 3] }).prompt).toEqual({ tokens: [1, 2, 3] });
    expect(parseCompletionRequest({ prompt: [[4, 5]] }).prompt).toEqual({ tokens: [4, 5] });
    expect(parseCompletionRequest({ prompt: ['one'] }).prompt).toEqual({ text: 'one' });
    const chat = parseChatRequest({ messages: [{ role: 'developer', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }], max_completion_tokens: 3 });
    expect(chat.messages).toEqual([{ role: 'system', content: 'ab' }]);
    expect(chat.maxTokens).toBe(3);
  });

  it('top_p 0 means greedy; the default is OpenAI temperature 1', () => {
    expect(parseCompletionRequest({ prompt: '', top_p: 0, temperature: 1 }).sampling).toMatchObject({ temperature: 0, topP: 1 });
    expect(parseCompletionRequest({ prompt: '' }).sampling.temperature).toBe(1);
  });

  it.each([
    [{ prompt: 'x', max_tokens: 'ten' }, 'max_tokens', 'invalid_type'],
    [{ prompt: 'x', max_tokens: 0 }, 'max_tokens', 'invalid_value'],
    [{ prompt: 'x', temperature: 3 }, 'temperature', 'invalid_value'],
    [{ prompt: 'x', stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', 'invalid_value'],
    [{ prompt: 'x', n: 2 }, 'n', 'unsupported_parameter'],
    [{ prompt: 'x', logprobs: 3 }, 'logprobs', 'unsupported_parameter'],
    [{ prompt: 'x', echo: true }, 'echo', 'unsupported_parameter'],
    [{ prompt: 7 }, 'prompt', 'invalid_value'],
    [{}, 'prompt', 'missing_required_parameter'],
  ])('completion %j → 400 on %s (%s)', (body, param, code) => {
    const e = rejection(() => parseCompletionRequest(body));
    expect(e.status).toBe(400);
    expect(e.body.error).toMatchObject({ type: 'invalid_request_error', param, code });
  });

  it.each([
    [{ messages: [] }, 'messages'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    [{ messages: [{ role: 'user', content: 'x' }], tools: [{}] }, 'tools'],
  ])('chat %j → 400 on %s', (body, param) => {
    expect(rejection(() => parseChatRequest(body)).body.error.param).toBe(param);
  });

  it('a body that is not an object is a 400', () => {
    expect(rejection(() => parseChatRequest([1])).status).toBe(400);
    expect(rejection(() => parseChatRequest(null)).status).toBe(400);
  });
});
