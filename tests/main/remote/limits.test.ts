// Nothing a server sends is read without a bound: loopback servers that stream deltas forever, one 200 MB line, a
// 500 MB model list. Each is cut at its limit with a RemoteError (the part of an answer received kept), the client
// hangs up there (the server sends little more than the limit), and memory stays flat. Plus the save schedule of
// a long answer: doubling intervals, not one rewrite a second.
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_RESPONSE_LIMITS, RemoteError, SseParser, SseTooLongError } from '../../../src/main/remote';
import { remoteFixture } from './helpers/fixtures';
import { chunk, httpServer, pattern, sseHead, streamLazily, type LazyStreamProgress } from './helpers/http';

const MiB = 1024 * 1024;
/** Socket buffers on both sides of a loopback connection, plus fetch's own: what may pass after the client stops. */
const IN_FLIGHT_SLACK = 24 * MiB;
/** "Memory flat": growth allowed while hundreds of MB are offered (the limits themselves are 8 MiB at most). */
const MAX_MEMORY_GROWTH = 64 * MiB;

const memory = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** Samples memory every 10 ms while `run` runs: the highest growth seen over the starting point. */
async function peakGrowth<T>(run: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const start = memory();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, memory())), 10);
  try {
    const result = await run();
    peak = Math.max(peak, memory());
    return { result, growth: peak - start };
  } finally {
    clearInterval(timer);
  }
}

async function rejection(p: Promise<unknown>): Promise<RemoteError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RemoteError);
  return e as RemoteError;
}

function setup(url: string) {
  const f = remoteFixture();
  const provider = f.service.addProvider({ name: 'endless', baseUrl: url });
  const conversation = f.service.createConversation({ providerId: provider.id, model: 'm' });
  return { ...f, provider, conversation };
}

describe('response limits (loopback servers that never stop)', () => {
  it('an answer streamed forever stops at 8 MiB: too-large, the part received kept, memory flat', async () => {
    const progress: LazyStreamProgress = { sent: 0, closedByClient: false };
    const piece = 'a'.repeat(16 * 1024);
    const server = await httpServer((_req, res) => {
      sseHead(res);
      void streamLazily(res, pattern('', chunk(piece), 1000 * MiB), progress);
    });
    const { service, conversation, messages } = setup(server.url);
    const began = Date.now();
    const { result: e, growth } = await peakGrowth(() => rejection(service.send(conversation.id, 'go on forever')));
    expect(e).toMatchObject({
      code: 'too-large',
      message: `127.0.0.1:${server.port} sent an answer longer than 8 MiB; stopped reading it (the part received was kept).`,
    });
    const kept = messages.getMessage(e.messageId!);
    expect(kept.status).toBe('incomplete');
    expect(kept.content.length).toBeLessThanOrEqual(DEFAULT_RESPONSE_LIMITS.maxAnswerBytes);
    expect(kept.content.length).toBeGreaterThan(DEFAULT_RESPONSE_LIMITS.maxAnswerBytes - piece.length);
    expect(kept.content).toBe('a'.repeat(kept.content.length));
    await vi.waitFor(() => expect(progress.closedByClient).toBe(true));
    expect(progress.sent).toBeLessThan(8 * MiB * 1.01 + IN_FLIGHT_SLACK);
    expect(growth).toBeLessThan(MAX_MEMORY_GROWTH);
    expect(Date.now() - began).toBeLessThan(10_000);
  });

  it('one 200 MB line stops at 1 MiB: too-large, the deltas before it kept, memory flat', async () => {
    const progress: LazyStreamProgress = { sent: 0, closedByClient: false };
    const server = await httpServer((_req, res) => {
      sseHead(res);
      res.write(chunk('Before'));
      res.write(chunk(' the flood'));
      void streamLazily(res, pattern('data: {"choices":[{"delta":{"content":"', 'x', 200 * 1000 * 1000), progress);
    });
    const { service, conversation, messages } = setup(server.url);
    const { result: e, growth } = await peakGrowth(() => rejection(service.send(conversation.id, 'hello')));
    expect(e).toMatchObject({
      code: 'too-large',
      message: `127.0.0.1:${server.port} sent a stream line longer than 1 MiB; stopped reading it (the part received was kept).`,
    });
    expect(messages.getMessage(e.messageId!)).toMatchObject({ content: 'Before the flood', status: 'incomplete' });
    await vi.waitFor(() => expect(progress.closedByClient).toBe(true));
    expect(progress.sent).toBeLessThan(1 * MiB + IN_FLIGHT_SLACK);
    expect(growth).toBeLessThan(MAX_MEMORY_GROWTH);
  });

  it('a 500 MB model list stops at 4 MiB; a declared one is not even read', async () => {
    const progress: LazyStreamProgress = { sent: 0, closedByClient: false };
    let declare = false;
    const server = await httpServer((_req, res) => {
      const total = 500 * 1000 * 1000;
      res.writeHead(200, { 'content-type': 'application/json', ...(declare ? { 'content-length': String(total) } : {}) });
      void streamLazily(res, pattern('{"object":"list","data":[', '{"id":"model","object":"model","owned_by":"x"},', total), progress);
    });
    const { service, provider } = setup(server.url);
    const { result: e, growth } = await peakGrowth(() => rejection(service.listModels(provider.id)));
    expect(e).toMatchObject({ code: 'too-large', message: `127.0.0.1:${server.port} sent a model list larger than 4 MiB; stopped reading it.` });
    await vi.waitFor(() => expect(progress.closedByClient).toBe(true));
    expect(progress.sent).toBeLessThan(4 * MiB + IN_FLIGHT_SLACK);
    expect(growth).toBeLessThan(MAX_MEMORY_GROWTH);

    declare = true;
    Object.assign(progress, { sent: 0, closedByClient: false });
    await expect(service.listModels(provider.id)).rejects.toMatchObject({ code: 'too-large' });
    await vi.waitFor(() => expect(progress.closedByClient).toBe(true));
    expect(progress.sent).toBeLessThan(IN_FLIGHT_SLACK);
  });

  it('a non-streamed JSON answer and an error body are bounded too', async () => {
    const progress: LazyStreamProgress = { sent: 0, closedByClient: false };
    let status = 200;
    const server = await httpServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      void streamLazily(res, pattern('{"error":{"message":"', 'z', 300 * 1000 * 1000), progress);
    });
    const { service, conversation } = setup(server.url);
    const e = await rejection(service.send(conversation.id, 'hello'));
    expect(e).toMatchObject({ code: 'too-large', message: `127.0.0.1:${server.port} sent an answer larger than 9 MiB; stopped reading it.` });
    await vi.waitFor(() => expect(progress.closedByClient).toBe(true));

    status = 500; // an endless error page: its start is quoted, the rest never read
    Object.assign(progress, { sent: 0, closedByClient: false });
    const failed = await rejection(service.send(conversation.id, 'hello'));
    expect(failed.code).toBe('server-error');
    expect(failed.message.length).toBeLessThan(500);
    await vi.waitFor(() => expect(progress.closedByClient).toBe(true));
    expect(progress.sent).toBeLessThan(IN_FLIGHT_SLACK);
  });
});

describe('SseParser limits', () => {
  const enc = new TextEncoder();

  it('scans each byte once: a line just under 1 MiB, fed 64 bytes at a time, parses in linear time', () => {
    const p = new SseParser();
    const piece = enc.encode('x'.repeat(64));
    const began = performance.now();
    p.push(enc.encode('data: '));
    for (let n = 6; n + 64 < 1024 * 1024; n += 64) p.push(piece);
    const events = p.push(enc.encode('\n\n'));
    // Rescanning the buffer on every chunk would cost ~8e9 character reads here (seconds); one scan is milliseconds.
    expect(performance.now() - began).toBeLessThan(1000);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toBe('x'.repeat(events[0]!.data.length));
    expect(events[0]!.data.length).toBeGreaterThan(1024 * 1024 - 80);
  });

  it('a line past the limit is an error carrying the events completed before it in the same chunk', () => {
    const p = new SseParser(100);
    let err: unknown;
    try {
      p.push(enc.encode(`data: one\n\ndata: ${'y'.repeat(200)}`));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SseTooLongError);
    expect(err).toMatchObject({ what: 'line', limit: 100, events: [{ event: 'message', data: 'one' }] });
    // Split over many chunks, the limit holds too.
    const q = new SseParser(100);
    expect(() => {
      for (let i = 0; i < 30; i++) q.push(enc.encode('data-xxxxx'));
    }).toThrow(SseTooLongError);
  });

  it('an event of many short data lines past the limit is an error too', () => {
    const p = new SseParser(100);
    expect(() => p.push(enc.encode('data: 0123456789\n'.repeat(20)))).toThrow(expect.objectContaining({ what: 'event' }));
    expect(new SseParser(100).push(enc.encode('data: 0123456789\n'.repeat(5) + '\n'))).toHaveLength(1);
  });
});

describe('saving a streaming answer', () => {
  /** A server sending a small delta every 5 ms for `ms`, then finishing. */
  async function steadyServer(ms: number) {
    return httpServer(async (_req, res) => {
      sseHead(res);
      const end = Date.now() + ms;
      while (Date.now() < end && !res.destroyed) {
        res.write(chunk('word '));
        await new Promise((r) => setTimeout(r, 5));
      }
      res.write(chunk('', 'stop'));
      res.end('data: [DONE]\n\n');
    });
  }

  it('saves at doubling intervals: a handful of writes, each a longer prefix, then the whole answer', async () => {
    const server = await steadyServer(1300);
    const f = remoteFixture({ saveIntervalMs: 10, maxSaveIntervalMs: 60_000 });
    const provider = f.service.addProvider({ name: 's', baseUrl: server.url });
    const conversation = f.service.createConversation({ providerId: provider.id, model: 'm' });
    const saves = vi.spyOn(f.messages, 'updateMessage');
    let deltas = 0;
    const reply = await f.service.send(conversation.id, 'talk', { onDelta: () => deltas++ });
    const written = saves.mock.calls.map(([, changes]) => changes.content ?? '');
    // Saves at 10, 30, 70, 150, 310, 630, 1270 ms; one every 10 ms would be ~130 writes.
    expect(deltas).toBeGreaterThan(50);
    expect(written.length - 1).toBeGreaterThanOrEqual(3);
    expect(written.length - 1).toBeLessThanOrEqual(8);
    for (let i = 1; i < written.length; i++) expect(written[i]!.startsWith(written[i - 1]!)).toBe(true);
    expect(written.at(-1)).toBe(reply.content);
    expect(reply.status).toBe('complete');
    // Bytes written: far less than one rewrite per delta (deltas x the final length / 2).
    const bytes = written.reduce((n, t) => n + t.length, 0);
    expect(bytes).toBeLessThan((deltas * reply.content.length) / 10);
  });

  it('the wait between saves stops growing at maxSaveIntervalMs', async () => {
    const server = await steadyServer(700);
    const f = remoteFixture({ saveIntervalMs: 10, maxSaveIntervalMs: 80 });
    const provider = f.service.addProvider({ name: 's', baseUrl: server.url });
    const conversation = f.service.createConversation({ providerId: provider.id, model: 'm' });
    const saves = vi.spyOn(f.messages, 'updateMessage');
    await f.service.send(conversation.id, 'talk');
    // 10, 30, 70, 150, then every 80 ms to ~700 ms: about 11 saves (fewer if the machine is slow, never ~70).
    expect(saves.mock.calls.length - 1).toBeGreaterThanOrEqual(6);
    expect(saves.mock.calls.length - 1).toBeLessThanOrEqual(13);
  });
});
