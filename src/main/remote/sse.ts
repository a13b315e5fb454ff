// Server-sent events as the WHATWG spec parses them, fed raw bytes in whatever pieces the network delivers: a
// line, a CRLF pair or a UTF-8 character may be split across chunks, and nothing is emitted until it is whole.

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  /** The previous chunk ended in '\r': a '\n' starting the next one belongs to the same line break. */
  private pendingCr = false;
  private data: string[] = [];
  private eventName = '';

  /** Feeds bytes; returns the events they completed. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.feed(this.decoder.decode(chunk, { stream: true }));
  }

  /** The stream ended: flushes a last line without its newline (an unterminated event is dropped, per spec). */
  end(): SseEvent[] {
    const events = this.feed(this.decoder.decode());
    if (this.buffer !== '') events.push(...this.line(this.buffer));
    this.buffer = '';
    return events;
  }

  private feed(text: string): SseEvent[] {
    let s = text;
    if (s !== '') {
      if (this.pendingCr && s.startsWith('\n')) s = s.slice(1);
      this.pendingCr = false;
    }
    this.buffer += s;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      events.push(...this.line(this.buffer.slice(start, i)));
      if (c === 13) {
        if (i + 1 === this.buffer.length) this.pendingCr = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent[] {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return []; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
    return [];
  }

  private dispatch(): SseEvent[] {
    const events = this.data.length === 0 ? [] : [{ event: this.eventName || 'message', data: this.data.join('\n') }];
    this.data = [];
    this.eventName = '';
    return events;
  }
}
