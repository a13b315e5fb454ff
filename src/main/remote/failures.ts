// The failures of a remote request as RemoteErrors a user can act on: each names the host, none quotes the key (a
// server's own error text is quoted only with the key redacted, and never for a refused key).
import type { RemoteEndpoint } from './client';
import { RemoteError } from './errors';
import { hostOf } from './url';

/** Most characters of a server's own message quoted in an error. */
const MAX_QUOTED = 300;

const SOCKET_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the connection was refused (is the server running on that port?)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (no network?)',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  UND_ERR_SOCKET: 'the connection closed before an answer',
  UND_ERR_HEADERS_TIMEOUT: 'it sent no answer in time',
};

function causeCode(e: unknown): string | undefined {
  for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    // AggregateError (a host with IPv4 and IPv6 addresses, both refused).
    const first = (c as { errors?: unknown[] }).errors?.[0];
    if (first) return causeCode(first);
  }
  return undefined;
}

export function networkError(e: unknown, endpoint: RemoteEndpoint, signal: AbortSignal | undefined): RemoteError {
  const host = hostOf(endpoint.baseUrl);
  if (signal?.aborted) return new RemoteError('unreachable', `The request to ${host} was stopped`, { cause: e });
  const code = causeCode(e);
  const why = (code && SOCKET_CODES[code]) ?? 'the connection failed';
  const errorCode = code === 'UND_ERR_HEADERS_TIMEOUT' ? 'timeout' : 'unreachable';
  return new RemoteError(errorCode, `Could not reach ${host}: ${why}.`, { cause: e });
}

export function dropped(endpoint: RemoteEndpoint, cause?: unknown): RemoteError {
  return new RemoteError(
    'stream-dropped',
    `The connection to ${hostOf(endpoint.baseUrl)} dropped in the middle of the answer; the part received was kept.`,
    { cause },
  );
}

export function tooLarge(endpoint: RemoteEndpoint, what: string, partKept: boolean): RemoteError {
  return new RemoteError(
    'too-large',
    `${hostOf(endpoint.baseUrl)} sent ${what}; stopped reading it${partKept ? ' (the part received was kept)' : ''}.`,
  );
}

export function badResponse(endpoint: RemoteEndpoint, what: string): RemoteError {
  return new RemoteError('bad-response', `${hostOf(endpoint.baseUrl)} gave an unexpected answer: ${what}.`);
}

export function rateLimited(endpoint: RemoteEndpoint, retries: number, askedMs: number | undefined): RemoteError {
  const when = askedMs === undefined ? '' : ` It asks to wait ${Math.ceil(askedMs / 1000)} s.`;
  return new RemoteError(
    'rate-limited',
    `${hostOf(endpoint.baseUrl)} is limiting requests (429 Too Many Requests) and still refused after ${retries} ${retries === 1 ? 'retry' : 'retries'}.${when} Try again later.`,
    { status: 429 },
  );
}

/** The `error.message` of an OpenAI error body, else the start of the text, with the key redacted. */
export function serverMessage(text: string, endpoint: RemoteEndpoint): string {
  let message: unknown = text;
  try {
    const json = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    message = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message ?? text);
  } catch {
    // not JSON: quote the text itself
  }
  return quote(message, endpoint);
}

export function quote(message: unknown, endpoint: RemoteEndpoint): string {
  let s = (typeof message === 'string' ? message : JSON.stringify(message) ?? '').replace(/\s+/g, ' ').trim();
  if (endpoint.apiKey) s = s.split(endpoint.apiKey).join('[key]');
  return s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED - 3)}...` : s;
}
