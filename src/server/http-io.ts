// Reading request bodies under a size limit, and writing JSON, errors and server-sent events.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badRequest, bodyTooLarge } from './errors';

/** The body parsed as JSON; 413 past `limit` bytes (announced or actual), 400 when it is not JSON. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) throw bodyTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw bodyTooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw badRequest('The request body is empty; send a JSON object.', 'invalid_json');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`The request body is not valid JSON: ${(e as Error).message}`, 'invalid_json');
  }
}

/**
 * Reads and drops what is left of a request body the server will not use (a refused request), so the error it
 * answers reaches the client: closing a socket with unread bytes resets it, and the client may see the reset
 * instead of the 429. True when the body ended within `limit` bytes and `ms`; false: close the connection.
 */
export function discardBody(req: IncomingMessage, limit: number, ms = 5000): Promise<boolean> {
  const announced = Number(req.headers['content-length']);
  if (req.readableEnded) return Promise.resolve(true);
  if (Number.isFinite(announced) && announced > limit) return Promise.resolve(false);
  return new Promise((resolve) => {
    let size = 0;
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError);
      if (!ok) req.pause();
      resolve(ok);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) done(false);
    };
    const onEnd = (): void => done(true);
    const onError = (): void => done(false);
    const timer = setTimeout(() => done(false), ms);
    req.on('data', onData).once('end', onEnd).once('error', onError);
    req.resume();
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * An error before the response started: its status and OpenAI body. The connection is closed after it when the
 * request body was not read to the end (a 413, a 401 before reading), so no unread bytes are taken as a next request.
 */
export function sendError(res: ServerResponse, error: ApiError, closeConnection = false): void {
  sendJson(res, error.status, error.body, closeConnection ? { ...error.headers, connection: 'close' } : error.headers);
}

/** A `text/event-stream` response: one `data:` line per JSON event, `data: [DONE]` at the end. */
export class SseStream {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
  }

  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  send(event: unknown): void {
    if (this.open) this.res.write(`data: ${JSON.stringify(event)}\n\n`);
  }

  done(): void {
    if (this.open) this.res.end('data: [DONE]\n\n');
  }

  /** A failure after the stream began: OpenAI's error object as the last event. */
  fail(error: ApiError): void {
    this.send(error.body);
    this.done();
  }
}
