// End to end against our own OpenAI-compatible server (src/server) on loopback, over a real engine with
// stories260K: models listed, answers streamed into the SQLite store, Stop, continue, regenerate, a bad key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/main/remote';
import { clientFor, loadTestModel, MODEL_ID, startOpenAiServer, type TestModel } from '../../server/harness';
import type { OpenAiServer } from '../../../src/server';
import { remoteFixture } from './helpers/fixtures';

const KEY = 'sk-loopback-8c1f0e2d';
const MAX_TOKENS = 24;

let model: TestModel;
let server: OpenAiServer;

beforeAll(async () => {
  model = await loadTestModel(4);
  server = await startOpenAiServer({ ...model.options, apiKey: KEY });
}, 120_000);

afterAll(async () => {
  await server?.close();
  model?.engine.destroy();
});

/** A store with a provider for our server and a greedy conversation on it. */
function setup(apiKey = KEY) {
  const f = remoteFixture({ saveIntervalMs: 0 });
  const provider = f.service.addProvider({ name: 'loopback', baseUrl: `${server.url}/v1`, apiKey });
  const conversation = f.service.createConversation({ providerId: provider.id, model: MODEL_ID, title: 'remote' });
  f.conversations.updateSettings(conversation.id, { settings: { temperature: 0, maxTokens: MAX_TOKENS } });
  return { ...f, provider, conversation };
}

/** What the server answers to the same history, greedy, without streaming: the answer we must have stored. */
async function direct(messages: { role: 'user' | 'assistant'; content: string }[]): Promise<string> {
  const r = await clientFor(server, KEY).chat.completions.create({ model: MODEL_ID, messages, temperature: 0, max_tokens: MAX_TOKENS });
  return r.choices[0]!.message.content ?? '';
}

describe('remote provider: our own server on loopback', () => {
  it('lists the models from GET /v1/models', async () => {
    const { service, provider } = setup();
    expect(await service.listModels(provider.id)).toEqual([{ id: MODEL_ID, ownedBy: expect.any(String) }]);
  });

  it('streams an answer into the store: deltas, saved text and stats match the server', async () => {
    const { service, messages, conversation } = setup();
    const deltas: string[] = [];
    const answer = await service.send(conversation.id, 'Once upon a time', { onDelta: (_id, t) => deltas.push(t) });
    expect(deltas.length).toBeGreaterThan(1);
    expect(answer.content).toBe(deltas.join(''));
    expect(answer.content).toBe(await direct([{ role: 'user', content: 'Once upon a time' }]));
    expect(answer).toMatchObject({ role: 'assistant', status: 'complete', tokenCount: MAX_TOKENS });
    expect(answer.stats).toMatchObject({ stopReason: 'max-tokens', generatedTokens: MAX_TOKENS, promptTokens: expect.any(Number) });
    expect(answer.stats.timeToFirstTokenMs).toBeGreaterThan(0);
    const thread = messages.thread(conversation.id);
    expect(thread.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Once upon a time'],
      ['assistant', answer.content],
    ]);

    // The next question carries the whole history.
    const second = await service.send(conversation.id, 'Then');
    expect(second.content).toBe(
      await direct([
        { role: 'user', content: 'Once upon a time' },
        { role: 'assistant', content: answer.content },
        { role: 'user', content: 'Then' },
      ]),
    );
  });

  it('Stop keeps the partial answer as incomplete; continue appends to it; regenerate adds a branch', async () => {
    const { service, messages, conversation } = setup();
    const stop = new AbortController();
    const received: string[] = [];
    const stopped = await service.send(conversation.id, 'The dog', {
      signal: stop.signal,
      onDelta: (_id, t) => {
        received.push(t);
        if (received.length === 3) stop.abort();
      },
    });
    expect(stopped.status).toBe('incomplete');
    expect(stopped.stats.stopReason).toBe('cancelled');
    expect(stopped.content).toBe(received.slice(0, 3).join(''));
    expect(messages.getMessage(stopped.id).content).toBe(stopped.content);

    const continued = await service.continue(stopped.id);
    expect(continued.id).toBe(stopped.id);
    expect(continued.status).toBe('complete');
    expect(continued.content.startsWith(stopped.content)).toBe(true);
    expect(continued.content.length).toBeGreaterThan(stopped.content.length);
    expect(continued.content.slice(stopped.content.length)).toBe(
      await direct([
        { role: 'user', content: 'The dog' },
        { role: 'assistant', content: stopped.content },
      ]),
    );

    const again = await service.regenerate(stopped.id);
    expect(again.id).not.toBe(stopped.id);
    expect(again.parentId).toBe(stopped.parentId);
    expect(again.content).toBe(await direct([{ role: 'user', content: 'The dog' }])); // greedy: the same answer
    const thread = messages.thread(conversation.id);
    expect(thread.activeLeafId).toBe(again.id);
    expect(thread.messages[1]!.siblingIds).toEqual([stopped.id, again.id]);
  });

  it('a wrong key is a clear 401 error that never quotes the key; the question is kept', async () => {
    const wrong = 'sk-wrong-key-0000';
    const { service, messages, conversation, provider } = setup(wrong);
    let err: unknown;
    await service.send(conversation.id, 'Hello').catch((e: unknown) => (err = e));
    expect(err).toBeInstanceOf(RemoteError);
    const e = err as RemoteError;
    expect(e).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(e.message).toBe(`127.0.0.1:${server.port} refused the API key (401). Check the key in this provider's settings.`);
    expect(JSON.stringify(e)).not.toContain(wrong);
    const [question, answer] = messages.thread(conversation.id).messages;
    expect(question).toMatchObject({ role: 'user', content: 'Hello', status: 'complete' });
    expect(answer).toMatchObject({ id: e.messageId, role: 'assistant', content: '', status: 'error' });
    expect(answer!.stats.errorMessage).toBe(e.message);
    await expect(service.listModels(provider.id)).rejects.toMatchObject({ code: 'unauthorized' });
  });
});
