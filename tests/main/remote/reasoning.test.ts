// A remote reasoning model's thinking, in each form OpenAI-compatible servers stream it, ends up as the local
// engine's answers do: the message's reasoning apart from its content, in the store and in the deltas the Thinking
// view is fed. The three forms: `reasoning_content` deltas (llama.cpp's server, vLLM, DeepSeek), `reasoning` deltas
// (OpenRouter, Ollama), raw `<think>…</think>` in content (no reasoning parser), each streamed from a loopback
// fake provider with markers cut across deltas.
import type { ServerResponse } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RemoteAnswerParts } from '../../../src/main/remote/answer-parts';
import { remoteFixture } from './helpers/fixtures';
import { httpServer, sseHead } from './helpers/http';

type Delta = { content?: string; reasoning_content?: string; reasoning?: string };

const event = (delta: Delta, finish: string | null = null): string =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

function streamDeltas(res: ServerResponse, deltas: readonly Delta[]): void {
  sseHead(res);
  for (const d of deltas) res.write(event(d));
  res.write(event({}, 'stop'));
  res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: deltas.length } })}\n\n`);
  res.end('data: [DONE]\n\n');
}

const THOUGHT = 'The user greets me. I greet back.';
const ANSWER = 'Hello! How can I help?';

/** The same answer in each form, in small pieces (the markers cut across deltas). */
const FORMS: Record<string, readonly Delta[]> = {
  'reasoning_content (llama.cpp, vLLM, DeepSeek)': [
    { reasoning_content: 'The user greets me.' },
    { reasoning_content: ' I greet back.' },
    { content: '\n\nHello! ' },
    { content: 'How can I help?' },
  ],
  'reasoning (OpenRouter, Ollama)': [{ reasoning: 'The user ' }, { reasoning: 'greets me. I greet back.' }, { content: 'Hello! How ' }, { content: 'can I help?' }],
  'raw <think> in content': ['<thi', 'nk>\nThe user greets me.', ' I greet back.\n</th', 'ink>\n\nHello! ', 'How can I help?'].map((content) => ({ content })),
};

async function provider(handler: (res: ServerResponse) => void) {
  const server = await httpServer((_req, res) => handler(res));
  const f = remoteFixture({ saveIntervalMs: 0 });
  const p = f.service.addProvider({ name: 'fake', baseUrl: `${server.url}/v1` });
  const conversation = f.service.createConversation({ providerId: p.id, model: 'thinker', title: 'remote' });
  return { ...f, server, conversation };
}

describe('remote answers: reasoning split from the content', () => {
  it.each(Object.entries(FORMS))('%s: streamed as reasoning then content, and stored apart', async (_form, deltas) => {
    const { service, messages, conversation } = await provider((res) => streamDeltas(res, deltas));
    const reasoning: string[] = [];
    const content: string[] = [];
    const saved: { content: string; reasoning: string }[] = [];
    const answer = await service.send(conversation.id, 'Hi', {
      onReasoning: (id, t) => {
        reasoning.push(t);
        const m = messages.getMessage(id);
        saved.push({ content: m.content, reasoning: m.reasoning });
      },
      onDelta: (_id, t) => content.push(t),
    });
    expect(reasoning.join('')).toBe(THOUGHT);
    expect(reasoning.length).toBeGreaterThan(1); // as it streams, not in one piece at the end
    expect(content.join('')).toBe(ANSWER);
    expect(answer).toMatchObject({ content: ANSWER, reasoning: THOUGHT, status: 'complete' });
    expect(messages.thread(conversation.id).messages.map((m) => [m.role, m.content, m.reasoning])).toEqual([
      ['user', 'Hi', ''],
      ['assistant', ANSWER, THOUGHT],
    ]);
    // Saved while streaming (interval 0): the reasoning so far is in the store before each piece is passed on.
    expect(saved.at(-1)!.reasoning).toBe(THOUGHT);
  });

  it('the next question sends the answers without their reasoning (servers take none back)', async () => {
    const { service, conversation, server } = await provider((res) => streamDeltas(res, FORMS['raw <think> in content']!));
    await service.send(conversation.id, 'Hi');
    await service.send(conversation.id, 'And?');
    const sent = JSON.parse(server.requests[1]!.body) as { messages: { role: string; content: string }[] };
    expect(sent.messages).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: ANSWER },
      { role: 'user', content: 'And?' },
    ]);
  });

  it('a whole (non-streamed) JSON answer is split the same way', async () => {
    const { service, conversation } = await provider((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: ANSWER, reasoning_content: THOUGHT }, finish_reason: 'stop' }] }));
    });
    expect(await service.send(conversation.id, 'Hi')).toMatchObject({ content: ANSWER, reasoning: THOUGHT, status: 'complete' });
  });

  it('an answer stopped while thinking keeps its reasoning, incomplete', async () => {
    const stop = new AbortController();
    const { service, conversation } = await provider((res) => {
      sseHead(res);
      res.write(event({ content: '<think>\nStill weighing' }));
      res.write(event({ content: ' the options' })); // and never ends
    });
    const answer = await service.send(conversation.id, 'Hi', { signal: stop.signal, onReasoning: (_id, t) => t.includes('options') && stop.abort() });
    expect(answer).toMatchObject({ content: '', reasoning: 'Still weighing the options', status: 'incomplete' });
  });

  it('continue goes on from the partial text: its content is never taken for an opening <think>', async () => {
    let n = 0;
    const { service, conversation } = await provider((res) => {
      n++;
      if (n === 1) streamDeltas(res, [{ reasoning_content: THOUGHT }, { content: 'Hello!' }]);
      else streamDeltas(res, [{ content: ' <think> is a tag.' }]);
    });
    const first = await service.send(conversation.id, 'Hi');
    const continued = await service.continue(first.id);
    expect(continued).toMatchObject({ content: 'Hello! <think> is a tag.', reasoning: THOUGHT });
  });
});

describe('RemoteAnswerParts', () => {
  it('raw <think> content splits the same however the deltas are cut', () => {
    const whole = `<think>\n${THOUGHT}\n</think>\n\n${ANSWER}`;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: whole.length }), { maxLength: 12 }), (cuts) => {
        const at = [0, ...[...cuts].sort((a, b) => a - b), whole.length];
        const parts = new RemoteAnswerParts(false);
        let reasoning = '';
        let content = '';
        for (let i = 1; i < at.length; i++) {
          const d = parts.push({ content: whole.slice(at[i - 1], at[i]) });
          reasoning += d.reasoning;
          content += d.content;
        }
        const d = parts.flush();
        expect({ reasoning: reasoning + d.reasoning, content: content + d.content }).toEqual({ reasoning: THOUGHT, content: ANSWER });
      }),
      { numRuns: 300 },
    );
  });

  it('content that opens no <think> is passed on exactly as sent, leading spaces too', () => {
    const parts = new RemoteAnswerParts(false);
    expect([parts.push({ content: ' ' }), parts.push({ content: ' <thin' }), parts.push({ content: 'g>' }), parts.flush()]).toEqual([
      { reasoning: '', content: '' },
      { reasoning: '', content: '' },
      { reasoning: '', content: '  <thing>' },
      { reasoning: '', content: '' },
    ]);
  });

  it('reasoning_content wins over reasoning when a server sends both names (the same text)', () => {
    expect(new RemoteAnswerParts(false).push({ reasoning_content: 'a', reasoning: 'a', content: null })).toEqual({ reasoning: 'a', content: '' });
  });
});
