// Server-sent events as the WHATWG spec parses them, fed raw bytes in whatever pieces the network delivers: a
// line, a CRLF pair or a UTF-8 character may be split across chunks, and nothing is emitted until it is whole.
// Each piece of text is scanned once (an unfinished line is kept as pieces, never rescanned), and a line or an
// event longer than the limit is an error rather than memory without end.

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Longest line, and longest event data (its data lines together), in UTF-16 code units (~bytes for JSON). */
export const DEFAULT_MAX_SSE_LINE = 1024 * 1024;

/** A line or event past the parser's limit; the client turns it into a RemoteError naming the host. */
export class SseTooLongError extends Error {
  /** Events the same chunk completed before the limit was hit: whole, so still worth keeping. */
  events: SseEvent[] = [];

  constructor(
    readonly what: 'line' | 'event',
    readonly limit: number,
  ) {
    super(`A server-sent event ${what} is longer than ${limit} characters`);
    this.name = 'SseTooLongError';
  }
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  /** The line begun but not ended yet, as the pieces that arrived (joined once, when its end comes). */
  private pending: string[] = [];
  private pendingLength = 0;
  /** The previous chunk ended in '\r': a '\n' starting the next one belongs to the same line break. */
  private pendingCr = false;
  private data: string[] = [];
  private dataLength = 0;
  private eventName = '';

  constructor(private readonly maxLine: number = DEFAULT_MAX_SSE_LINE) {}

  /** Feeds bytes; returns the events they completed. Throws SseTooLongError past the limit. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.feed(this.decoder.decode(chunk, { stream: true }));
  }

  /** The stream ended: flushes a last line without its newline (an unterminated event is dropped, per spec). */
  end(): SseEvent[] {
    const events = this.feed(this.decoder.decode());
    if (this.pendingLength > 0) this.line(this.takeLine(''), events);
    return events;
  }

  private feed(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    try {
      this.scan(text, events);
    } catch (e) {
      if (e instanceof SseTooLongError) e.events = events;
      throw e;
    }
    return events;
  }

  private scan(text: string, events: SseEvent[]): void {
    let start = 0;
    if (this.pendingCr && text !== '') {
      if (text.charCodeAt(0) === 10) start = 1;
      this.pendingCr = false;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(this.takeLine(text.slice(start, i)), events);
      if (c === 13) {
        if (i + 1 === text.length) this.pendingCr = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    if (start < text.length) {
      const rest = text.slice(start);
      this.pendingLength += rest.length;
      if (this.pendingLength > this.maxLine) throw new SseTooLongError('line', this.maxLine);
      this.pending.push(rest);
    }
  }

  /** The pending pieces plus `tail`: one whole line. */
  private takeLine(tail: string): string {
    if (this.pendingLength + tail.length > this.maxLine) throw new SseTooLongError('line', this.maxLine);
    if (this.pendingLength === 0) return tail;
    this.pending.push(tail);
    const line = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    return line;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') return this.dispatch(events);
    if (line.startsWith(':')) return; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.dataLength += value.length + 1; // + the '\n' that joins data lines
      if (this.dataLength > this.maxLine) throw new SseTooLongError('event', this.maxLine);
      this.data.push(value);
    } else if (field === 'event') {
      this.eventName = value;
    }
  }

  private dispatch(events: SseEvent[]): void {
    if (this.data.length > 0) events.push({ event: this.eventName || 'message', data: this.data.join('\n') });
    this.data = [];
    this.dataLength = 0;
    this.eventName = '';
  }
}
