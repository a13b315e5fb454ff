// Response bodies read with a bound: a body past its limit is never read whole (the connection is closed at the
// limit), a connection lost mid-body is the error that says so, and a non-2xx status becomes its RemoteError.
import type { RemoteEndpoint } from './client';
import { RemoteError } from './errors';
import { badResponse, dropped, serverMessage } from './failures';
import { hostOf } from './url';

/** The next piece of a response body; a connection lost mid-body is the error that says so. */
export async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>, endpoint: RemoteEndpoint): Promise<ReadableStreamReadResult<Uint8Array>> {
  try {
    return await reader.read();
  } catch (e) {
    throw dropped(endpoint, e);
  }
}

/**
 * Reads a body up to `maxBytes` (a larger Content-Length is not even started). At the limit it stops and closes
 * the connection: `complete` is then false and `text` is what fitted.
 */
async function readCapped(
  res: Response,
  endpoint: RemoteEndpoint,
  maxBytes: number,
  activity: () => void = () => undefined,
): Promise<{ text: string; complete: boolean }> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    return { text: '', complete: !res.body };
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let complete = false;
  try {
    for (;;) {
      const chunk = await readChunk(reader, endpoint);
      if (chunk.done) {
        complete = true;
        break;
      }
      activity();
      const room = maxBytes - bytes;
      chunks.push(chunk.value.byteLength > room ? chunk.value.subarray(0, room) : chunk.value);
      bytes += Math.min(chunk.value.byteLength, room);
      if (chunk.value.byteLength > room) break;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return { text: new TextDecoder().decode(Buffer.concat(chunks, bytes)), complete };
}

export async function readJson(res: Response, endpoint: RemoteEndpoint, maxBytes: number, tooBig: () => RemoteError, activity?: () => void): Promise<unknown> {
  const { text, complete } = await readCapped(res, endpoint, maxBytes, activity);
  if (!complete) throw tooBig();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badResponse(endpoint, 'it answered with something that is not JSON (is this an OpenAI-compatible server?)');
  }
}

/** Only the start of an error page is read: its message is quoted at 300 characters anyway. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export async function statusError(res: Response, endpoint: RemoteEndpoint): Promise<RemoteError> {
  const host = hostOf(endpoint.baseUrl);
  const detail = await readCapped(res, endpoint, MAX_ERROR_BODY_BYTES).then(
    (r) => serverMessage(r.text, endpoint),
    () => '',
  );
  const status = res.status;
  if (status === 401 || status === 403) {
    // The server's own words are left out: some quote part of the key they refused.
    const what = endpoint.apiKey ? 'refused the API key' : 'needs an API key';
    return new RemoteError('unauthorized', `${host} ${what} (${status}). Check the key in this provider's settings.`, { status });
  }
  const line = `${status}${res.statusText ? ` ${res.statusText}` : ''}`;
  if (status >= 500) return new RemoteError('server-error', `${host} failed with ${line}${detail ? `: ${detail}` : ''}.`, { status });
  return new RemoteError('http-error', `${host} refused the request with ${line}${detail ? `: ${detail}` : ''}.`, { status });
}
