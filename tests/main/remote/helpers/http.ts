// Small real HTTP servers on loopback that misbehave on purpose (429, 5xx, a socket cut mid-stream, bytes dribbled
// one at a time), for the failures our own server never produces. Closed after each test.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: string;
  readonly at: number;
}

export interface TestHttpServer {
  readonly url: string;
  readonly port: number;
  readonly requests: SeenRequest[];
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number, body: string) => void | Promise<void>;

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!();
});

export async function httpServer(handler: Handler): Promise<TestHttpServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body, at: Date.now() });
      void handler(req, res, requests.length, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  open.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${port}`, port, requests };
}

/** A free port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export const chunk = (content: string, finish: string | null = null): string =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

export function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
}

/** A whole well-formed answer: the pieces, a stop, usage and [DONE]. */
export function answer(res: ServerResponse, pieces: readonly string[]): void {
  sseHead(res);
  for (const p of pieces) res.write(chunk(p));
  res.write(chunk('', 'stop'));
  res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: pieces.length } })}\n\n`);
  res.end('data: [DONE]\n\n');
}

export function jsonError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type: 'error', code: null } }));
}

/** What a lazy stream has sent so far, in bytes, and whether the client hung up before its end. */
export interface LazyStreamProgress {
  sent: number;
  closedByClient: boolean;
}

/**
 * Writes `next()`'s pieces until it returns null or the client hangs up, waiting for 'drain' (so only what the
 * client reads is generated: a 500 MB body costs what the client takes of it, not 500 MB of memory or time).
 */
export async function streamLazily(res: ServerResponse, next: () => Buffer | null, progress: LazyStreamProgress): Promise<void> {
  const hungUp = new Promise<void>((r) => res.once('close', () => r()));
  res.once('close', () => (progress.closedByClient = !res.writableFinished));
  for (let piece = next(); piece !== null && !res.destroyed; piece = next()) {
    progress.sent += piece.byteLength;
    if (!res.write(piece)) await Promise.race([new Promise<void>((r) => res.once('drain', () => r())), hungUp]);
  }
  if (!res.destroyed) res.end();
}

/** The next `total` bytes of an endless pattern: `head` once, then `body` again and again, as `piece`-sized Buffers. */
export function pattern(head: string, body: string, total: number, piece = 64 * 1024): () => Buffer | null {
  const first = Buffer.from(head);
  const unit = Buffer.from(body.repeat(Math.max(1, Math.floor(piece / Buffer.byteLength(body)))));
  let left = total;
  let started = false;
  return () => {
    if (left <= 0) return null;
    const b = started ? unit : first;
    started = true;
    const out = b.byteLength <= left ? b : b.subarray(0, left);
    left -= out.byteLength;
    return out;
  };
}
