// Failures lose nothing and say what happened: real loopback servers that answer 429 (Retry-After in seconds or as
// an HTTP-date), 5xx, cut the socket mid-answer or dribble bytes; and a closed port.
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/main/remote';
import { remoteFixture } from './helpers/fixtures';
import { answer, chunk, closedPort, httpServer, jsonError, sseHead, type TestHttpServer } from './helpers/http';

const KEY = 'sk-failure-tests-77aa';
const FAST_RETRY = { maxRetries: 2, baseDelayMs: 50, maxDelayMs: 5000 };

function setup(server: { url: string }, idleTimeoutMs?: number) {
  const f = remoteFixture({ client: { retry: FAST_RETRY, ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) }, saveIntervalMs: 0 });
  // Confirmed: one test points at a host name that is not loopback (the key never leaves, it does not resolve).
  const provider = f.service.addProvider({ name: 'test', baseUrl: server.url, apiKey: KEY, allowInsecureKey: true });
  const conversation = f.service.createConversation({ providerId: provider.id, model: 'm' });
  return { ...f, provider, conversation };
}

async function failure(p: Promise<unknown>): Promise<RemoteError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RemoteError);
  expect((e as RemoteError).message).not.toContain(KEY);
  return e as RemoteError;
}

const sentMessages = (s: TestHttpServer, i: number): unknown => (JSON.parse(s.requests[i]!.body) as { messages: unknown }).messages;

describe('429 Too Many Requests', () => {
  it('waits for Retry-After in seconds, then answers', async () => {
    const server = await httpServer((_req, res, n) => (n === 1 ? jsonError(res, 429, 'slow down', { 'retry-after': '1' }) : answer(res, ['Hi', ' there'])));
    const { service, conversation } = setup(server);
    const reply = await service.send(conversation.id, 'hello');
    expect(reply).toMatchObject({ content: 'Hi there', status: 'complete' });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(server.requests[1]!.authorization).toBe(`Bearer ${KEY}`); // decrypted for the request only
  });

  it('waits until a Retry-After HTTP-date', async () => {
    const server = await httpServer((_req, res, n) =>
      n === 1 ? jsonError(res, 429, 'later', { 'retry-after': new Date(Date.now() + 2000).toUTCString() }) : answer(res, ['ok']),
    );
    const { service, conversation } = setup(server);
    expect((await service.send(conversation.id, 'hello')).content).toBe('ok');
    const waited = server.requests[1]!.at - server.requests[0]!.at;
    expect(waited).toBeGreaterThanOrEqual(900); // the date has whole seconds: 1 to 2 s from now
    expect(waited).toBeLessThan(3000);
  });

  it('gives up after the bounded retries with a clear error; the question is kept', async () => {
    const server = await httpServer((_req, res) => jsonError(res, 429, 'quota'));
    const { service, conversation, messages } = setup(server);
    const e = await failure(service.send(conversation.id, 'hello'));
    expect(e).toMatchObject({ code: 'rate-limited', status: 429 });
    expect(e.message).toBe(`127.0.0.1:${server.port} is limiting requests (429 Too Many Requests) and still refused after 2 retries. Try again later.`);
    expect(server.requests).toHaveLength(3);
    expect(messages.thread(conversation.id).messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'error'],
    ]);
  });

  it('does not wait for a Retry-After past the limit: it says when to try again', async () => {
    const server = await httpServer((_req, res) => jsonError(res, 429, 'quota', { 'retry-after': '3600' }));
    const { service, conversation } = setup(server);
    const began = Date.now();
    const e = await failure(service.send(conversation.id, 'hello'));
    expect(Date.now() - began).toBeLessThan(1000);
    expect(e.message).toMatch(/after 0 retries\. It asks to wait 3600 s\. Try again later\.$/);
    expect(server.requests).toHaveLength(1);
  });

  it('Stop during a Retry-After wait ends at once, as a stopped answer', async () => {
    const server = await httpServer((_req, res) => jsonError(res, 429, 'quota', { 'retry-after': '4' }));
    const { service, conversation } = setup(server);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 200);
    const began = Date.now();
    const reply = await service.send(conversation.id, 'hello', { signal: stop.signal });
    expect(Date.now() - began).toBeLessThan(1500);
    expect(reply).toMatchObject({ status: 'incomplete', content: '', stats: { stopReason: 'cancelled' } });
  });
});

describe('server and network failures', () => {
  it('a 5xx is a server error quoting the server, with the key redacted', async () => {
    const server = await httpServer((_req, res) => jsonError(res, 503, `model overloaded (request with key ${KEY})`));
    const { service, conversation } = setup(server);
    const e = await failure(service.send(conversation.id, 'hello'));
    expect(e).toMatchObject({ code: 'server-error', status: 503 });
    expect(e.message).toBe(`127.0.0.1:${server.port} failed with 503 Service Unavailable: model overloaded (request with key [key]).`);
  });

  it('a 404 for an unknown model quotes the server', async () => {
    const server = await httpServer((_req, res) => jsonError(res, 404, "The model 'm' does not exist"));
    const { service, conversation } = setup(server);
    const e = await failure(service.send(conversation.id, 'hello'));
    expect(e).toMatchObject({ code: 'http-error', status: 404 });
    expect(e.message).toMatch(/refused the request with 404 Not Found: The model 'm' does not exist\.$/);
  });

  it('an unreachable host is named in the error, for chat and for the model list', async () => {
    const port = await closedPort();
    const { service, conversation, provider } = setup({ url: `http://127.0.0.1:${port}` });
    const e = await failure(service.send(conversation.id, 'hello'));
    expect(e.code).toBe('unreachable');
    expect(e.message).toBe(`Could not reach 127.0.0.1:${port}: the connection was refused (is the server running on that port?).`);
    await expect(service.listModels(provider.id)).rejects.toMatchObject({ code: 'unreachable', message: e.message });
  });

  it('a server that ignores stream: true and answers one JSON completion is still understood', async () => {
    const server = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'whole answer' }, finish_reason: 'length' }], usage: { prompt_tokens: 3, completion_tokens: 2 } }));
    });
    const { service, conversation } = setup(server);
    const deltas: string[] = [];
    const reply = await service.send(conversation.id, 'hello', { onDelta: (_id, t) => deltas.push(t) });
    expect(deltas).toEqual(['whole answer']);
    expect(reply).toMatchObject({ content: 'whole answer', status: 'complete', tokenCount: 2, stats: { stopReason: 'max-tokens', promptTokens: 3 } });
  });

  it('a host name that does not resolve is named in the error', async () => {
    const { service, provider } = setup({ url: 'http://no-such-host.invalid:8000' }); // .invalid never resolves (RFC 6761)
    const e = await failure(service.listModels(provider.id));
    expect(e.code).toBe('unreachable');
    expect(e.message).toMatch(/^Could not reach no-such-host\.invalid:8000: the host name (does not resolve|could not be resolved \(no network\?\))\.$/);
  });

  it('an answer that is not JSON is a clear error', async () => {
    const server = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login page</html>');
    });
    const { service, provider } = setup(server);
    await expect(service.listModels(provider.id)).rejects.toMatchObject({ code: 'bad-response', message: expect.stringMatching(/not JSON/) });
  });

  it('an error event inside the stream keeps the part received', async () => {
    const server = await httpServer((_req, res) => {
      sseHead(res);
      res.write(chunk('Half an'));
      res.end(`data: ${JSON.stringify({ error: { message: 'out of memory', type: 'server_error' } })}\n\ndata: [DONE]\n\n`);
    });
    const { service, conversation, messages } = setup(server);
    const e = await failure(service.send(conversation.id, 'hello'));
    expect(e).toMatchObject({ code: 'server-error', message: `127.0.0.1:${server.port} failed during the answer: out of memory` });
    expect(messages.getMessage(e.messageId!)).toMatchObject({ content: 'Half an', status: 'incomplete' });
  });
});

describe('a stream that drops mid-answer', () => {
  it('keeps the partial answer as incomplete; continue appends to it, regenerate branches', async () => {
    let mode: 'drop' | 'answer' = 'drop';
    const server = await httpServer((_req, res) => {
      if (mode === 'answer') return answer(res, [' and', ' then', ' the end.']);
      sseHead(res);
      res.write(chunk('Once upon'));
      res.write(chunk(' a time'), () => setTimeout(() => res.socket?.destroy(), 50));
    });
    const { service, conversation, messages } = setup(server);
    const deltas: string[] = [];
    const stored: string[] = [];
    const onDelta = (id: number, t: string): void => {
      deltas.push(t);
      stored.push(messages.getMessage(id).content); // saved as it streams, before the delta is passed on
    };
    const e = await failure(service.send(conversation.id, 'Tell me a story', { onDelta }));
    expect(e.code).toBe('stream-dropped');
    expect(e.message).toBe(`The connection to 127.0.0.1:${server.port} dropped in the middle of the answer; the part received was kept.`);
    expect(deltas).toEqual(['Once upon', ' a time']);
    expect(stored).toEqual(['Once upon', 'Once upon a time']);
    const partial = messages.getMessage(e.messageId!);
    expect(partial).toMatchObject({ role: 'assistant', content: 'Once upon a time', status: 'incomplete', stats: { stopReason: 'error', errorMessage: e.message } });

    mode = 'answer';
    const continued = await service.continue(partial.id);
    expect(continued).toMatchObject({ id: partial.id, content: 'Once upon a time and then the end.', status: 'complete', stats: { stopReason: 'eos', generatedTokens: 3 } });
    expect(continued.stats.errorMessage).toBe(e.message); // stats merge; the status says it recovered
    expect(sentMessages(server, 1)).toEqual([
      { role: 'user', content: 'Tell me a story' },
      { role: 'assistant', content: 'Once upon a time' },
    ]);

    const regenerated = await service.regenerate(partial.id);
    expect(regenerated).toMatchObject({ parentId: partial.parentId, content: ' and then the end.', status: 'complete' });
    expect(sentMessages(server, 2)).toEqual([{ role: 'user', content: 'Tell me a story' }]);
    expect(messages.thread(conversation.id).messages[1]!.siblingIds).toEqual([partial.id, regenerated.id]);

    // Continuing the first answer again brings its branch back on screen.
    await service.continue(partial.id);
    expect(messages.thread(conversation.id).activeLeafId).toBe(partial.id);
    // An answer with a reply after it cannot be continued.
    await service.send(conversation.id, 'more');
    await expect(service.continue(partial.id)).rejects.toMatchObject({ code: 'invalid-message', message: expect.stringMatching(/has replies after it/) });
  });

  it('a stream that goes quiet is given up after the idle timeout, keeping the part received', async () => {
    const server = await httpServer((_req, res) => {
      sseHead(res);
      res.write(chunk('Once'));
      // ...and nothing more, connection left open.
    });
    const { service, conversation, messages } = setup(server, 300);
    const began = Date.now();
    const e = await failure(service.send(conversation.id, 'hello'));
    expect(Date.now() - began).toBeLessThan(2000);
    expect(e).toMatchObject({ code: 'timeout', message: `127.0.0.1:${server.port} sent nothing for 300 ms; gave up (the part received was kept).` });
    expect(messages.getMessage(e.messageId!)).toMatchObject({ content: 'Once', status: 'incomplete' });
  });

  it('a server that never answers the request is given up after the idle timeout', async () => {
    const server = await httpServer(() => undefined);
    const { service, conversation, messages } = setup(server, 300);
    const e = await failure(service.send(conversation.id, 'hello'));
    expect(e.code).toBe('timeout');
    expect(messages.getMessage(e.messageId!)).toMatchObject({ content: '', status: 'error' });
    await expect(service.listModels(service.listProviders()[0]!.id)).rejects.toMatchObject({
      code: 'timeout',
      message: `127.0.0.1:${server.port} did not list its models within 300 ms.`,
    });
  });

  it('a stream that ends cleanly but without finish_reason or [DONE] counts as dropped', async () => {
    const server = await httpServer((_req, res) => {
      sseHead(res);
      res.end(chunk('cut'));
    });
    const { service, conversation } = setup(server);
    expect((await failure(service.send(conversation.id, 'hello'))).code).toBe('stream-dropped');
  });

  it('bytes dribbled one at a time (inside UTF-8 characters and CRLFs) give the exact text', async () => {
    const pieces = ['Grüße ', '👋🏽', ' 日本語', '\n\nend'];
    const server = await httpServer(async (_req, res) => {
      sseHead(res);
      const body = Buffer.from(
        pieces.map((p) => chunk(p).replace(/\n/g, '\r\n')).join('') + chunk('', 'stop') + 'data: [DONE]\r\n\r\n',
        'utf8',
      );
      for (let i = 0; i < body.length; i += 3) {
        res.write(body.subarray(i, i + 3));
        if (i % 90 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      res.end();
    });
    const { service, conversation, messages } = setup(server);
    const reply = await service.send(conversation.id, 'hello');
    expect(reply.content).toBe(pieces.join(''));
    expect(messages.getMessage(reply.id).content).toBe(pieces.join(''));
  });
});

describe('settings and history sent', () => {
  it("sends the conversation's system prompt and sampling settings, and skips failed empty answers", async () => {
    let fail = true;
    const server = await httpServer((_req, res) => (fail ? jsonError(res, 500, 'boom') : answer(res, ['fine'])));
    const { service, conversations, messages } = setup(server);
    const provider = service.listProviders()[0]!;
    const c = service.createConversation({ providerId: provider.id, model: 'remote-model', systemPrompt: 'Be brief.' });
    conversations.updateSettings(c.id, { settings: { temperature: 0.3, topP: 0.9, maxTokens: 64, seed: 7 } });
    await failure(service.send(c.id, 'first'));
    fail = false;
    await service.send(c.id, 'second');
    const body = JSON.parse(server.requests[1]!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'remote-model', stream: true, temperature: 0.3, top_p: 0.9, max_tokens: 64, seed: 7 });
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'first' },
      { role: 'user', content: 'second' },
    ]);
    expect(messages.thread(c.id).messages.map((m) => m.status)).toEqual(['complete', 'error', 'complete', 'complete']);
  });

  it('a second answer while one streams into the same conversation is refused; Stop ends the first', async () => {
    const server = await httpServer((_req, res) => {
      sseHead(res);
      res.write(chunk('waiting'));
    });
    const { service, conversation } = setup(server);
    const stop = new AbortController();
    let first: Promise<unknown> | undefined;
    const started = new Promise<void>((resolve) => {
      first = service.send(conversation.id, 'one', { signal: stop.signal, onDelta: () => resolve() });
    });
    await started;
    expect(service.isStreaming(conversation.id)).toBe(true);
    await expect(service.send(conversation.id, 'two')).rejects.toMatchObject({ code: 'busy' });
    stop.abort();
    await expect(first).resolves.toMatchObject({ content: 'waiting', status: 'incomplete', stats: { stopReason: 'cancelled' } });
    expect(service.isStreaming(conversation.id)).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('a conversation that is not remote, or an empty message, is refused', async () => {
    const server = await httpServer((_req, res) => answer(res, ['x']));
    const { service, conversations, conversation, messages } = setup(server);
    const local = conversations.createConversation({});
    await expect(service.send(local.id, 'hi')).rejects.toMatchObject({ code: 'not-remote' });
    await expect(service.send(conversation.id, '  ')).rejects.toMatchObject({ code: 'invalid-message' });
    const userId = messages.appendMessage({ conversationId: conversation.id, parentId: null, role: 'user', content: 'q' });
    await expect(service.continue(userId)).rejects.toMatchObject({ code: 'invalid-message' });
    expect(server.requests).toHaveLength(0);
  });
});
