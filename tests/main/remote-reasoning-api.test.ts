// A remote model's thinking through the API layer to the renderer's stream state: remoteSend's deltas carry the
// reasoning apart from the text (RemoteDelta.reasoning), the renderer folds them into the answer being written
// (remoteDeltaActions + streamReducer), the same way the engine's reasoning events reach the Thinking view, and the
// stored message has both.
import { describe, expect, it } from 'vitest';
import { createApiHandlers, invokeApi } from '../../src/main/api-handlers';
import { remoteDeltaActions, streamReducer, type AnswerStream } from '../../src/renderer/src/hooks/answer-state';
import type { ApiMethod, RemoteDelta } from '../../src/shared/api';
import { tempDir } from '../helpers/temp';
import { ok, testServices } from './helpers/services';
import { httpServer, sseHead } from './remote/helpers/http';

const event = (delta: Record<string, string>, finish: string | null = null): string => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

describe('remote reasoning through the API', () => {
  it('remoteSend streams reasoning deltas apart from text; the renderer shows each in its place; both are stored', async () => {
    const server = await httpServer((_req, res) => {
      sseHead(res);
      res.write(event({ reasoning_content: 'Two and ' }));
      res.write(event({ reasoning_content: 'two.' }));
      res.write(event({ content: 'Four' }));
      res.write(event({}, 'stop'));
      res.end('data: [DONE]\n\n');
    });
    const handlers = createApiHandlers(testServices({ dir: tempDir(), picked: null }));
    const deltas: RemoteDelta[] = [];
    const call = <M extends ApiMethod>(method: M, payload?: unknown) => invokeApi(handlers, method, payload, { onRemoteDelta: (d) => deltas.push(d) });
    const p = ok(await call('addRemoteProvider', { name: 'Lab', baseUrl: server.url }));
    const c = ok(await call('createRemoteConversation', { providerId: p.id, model: 'thinker', title: 'Remote' }));
    const m = ok(await call('remoteSend', { conversationId: c.id, content: '2+2?', requestId: 'req-1' }));
    expect(deltas).toEqual([
      { requestId: 'req-1', messageId: m.id, text: '', reasoning: 'Two and ' },
      { requestId: 'req-1', messageId: m.id, text: '', reasoning: 'two.' },
      { requestId: 'req-1', messageId: m.id, text: 'Four' },
    ]);
    expect(m).toMatchObject({ content: 'Four', reasoning: 'Two and two.', status: 'complete' });
    const thread = ok(await call('getMessages', { conversationId: c.id }));
    expect(thread.messages.map((x) => [x.content, x.reasoning])).toEqual([['2+2?', ''], ['Four', 'Two and two.']]);

    const start: AnswerStream = { requestId: 'req-1', remote: true, conversationId: c.id, base: [], text: '', reasoning: '' };
    const shown = deltas.flatMap(remoteDeltaActions).reduce(streamReducer, start);
    expect(shown).toMatchObject({ text: 'Four', reasoning: 'Two and two.' });
  });

  it('remoteDeltaActions: a delta with both parts gives reasoning first; an empty one gives nothing', () => {
    expect(remoteDeltaActions({ requestId: 'r', messageId: 1, text: 'a', reasoning: 'b' })).toEqual([
      { type: 'reasoning', requestId: 'r', text: 'b' },
      { type: 'text', requestId: 'r', text: 'a' },
    ]);
    expect(remoteDeltaActions({ requestId: 'r', messageId: 1, text: '' })).toEqual([]);
  });
});
