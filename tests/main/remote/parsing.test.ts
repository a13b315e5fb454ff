// The pure parts: SSE framing under any chunk split, Retry-After in both forms, base URL validation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeBaseUrl, retryAfterMs, RemoteError, SseParser, type SseEvent } from '../../../src/main/remote';

const enc = new TextEncoder();

function parseInPieces(bytes: Uint8Array, cuts: number[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...p.push(bytes.subarray(at, cut)));
    at = cut;
  }
  out.push(...p.push(bytes.subarray(at)), ...p.end());
  return out;
}

describe('SseParser', () => {
  const stream =
    ': keep-alive\n\n' +
    'data: {"choices":[{"delta":{"content":"Héllo 👋"}}]}\r\n\r\n' +
    'event: note\rdata: line one\rdata: line two\r\r' +
    'data:no-space\n\n' +
    'id: 7\nretry: 10\ndata: [DONE]\n\n';
  const expected: SseEvent[] = [
    { event: 'message', data: '{"choices":[{"delta":{"content":"Héllo 👋"}}]}' },
    { event: 'note', data: 'line one\nline two' },
    { event: 'message', data: 'no-space' },
    { event: 'message', data: '[DONE]' },
  ];

  it('parses LF, CRLF and CR line ends, comments, multi-line data and named events', () => {
    expect(parseInPieces(enc.encode(stream), [])).toEqual(expected);
  });

  it('gives the same events however the bytes are split (inside CRLF pairs and UTF-8 characters too)', () => {
    const bytes = enc.encode(stream);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
        expect(parseInPieces(bytes, cuts)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
    // Every single-byte split, exhaustively.
    expect(parseInPieces(bytes, Array.from({ length: bytes.length }, (_, i) => i))).toEqual(expected);
  });

  it('drops an event the stream ended before finishing', () => {
    expect(parseInPieces(enc.encode('data: whole\n\ndata: cut'), [])).toEqual([{ event: 'message', data: 'whole' }]);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('Mon, 23 Nov 2026 10:00:00 GMT');
  it('reads delay-seconds and HTTP-dates', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Mon, 23 Nov 2026 10:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Mon, 23 Nov 2026 09:59:00 GMT', now)).toBe(0); // already past
  });
  it('ignores absent or unreadable values', () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('1.5', now)).toBeUndefined();
    expect(retryAfterMs('-1', now)).toBeUndefined();
  });
});

describe('normalizeBaseUrl', () => {
  it('keeps http(s) servers, without a trailing slash or /v1', () => {
    expect(normalizeBaseUrl('http://localhost:8000')).toBe('http://localhost:8000');
    expect(normalizeBaseUrl(' https://api.example.com/v1/ ')).toBe('https://api.example.com');
    expect(normalizeBaseUrl('http://10.0.0.2:11434/ollama/v1')).toBe('http://10.0.0.2:11434/ollama');
    expect(normalizeBaseUrl('http://[::1]:9000/')).toBe('http://[::1]:9000');
  });

  it.each([
    ['not a url', /not a URL/],
    ['ftp://example.com', /Only http:\/\/ and https:\/\/.*not ftp:/],
    ['file:///etc/passwd', /Only http/],
    ['javascript:alert(1)', /Only http/],
    ['http://user:sk-secret@example.com', /API key in its own field/],
    ['http://example.com/v1?key=sk-secret', /query/],
  ])('refuses %s with a clear error that does not echo it', (input, message) => {
    let err: unknown;
    try {
      normalizeBaseUrl(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).code).toBe('invalid-url');
    expect((err as RemoteError).message).toMatch(message);
    expect((err as RemoteError).message).not.toContain('sk-secret');
  });
});
