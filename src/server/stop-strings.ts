// Stop sequences are matched on decoded text, which arrives a piece at a time: a piece may end with the first
// characters of a stop string, so that tail is held back until the next piece shows whether the stop string
// follows. The stop string itself and everything after it never reach the client.

export interface StopScan {
  /** Text safe to send now. */
  readonly text: string;
  /** A stop string was found: generation should end, `text` is the last of the output. */
  readonly stopped: boolean;
}

export class StopStringMatcher {
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {
    if (stops.some((s) => s.length === 0)) throw new RangeError('stop strings must not be empty');
  }

  get stopped(): boolean {
    return this.done;
  }

  push(piece: string): StopScan {
    if (this.done) return { text: '', stopped: true };
    const text = this.held + piece;
    const at = this.firstMatch(text);
    if (at >= 0) {
      this.done = true;
      this.held = '';
      return { text: text.slice(0, at), stopped: true };
    }
    const keep = this.partialTail(text);
    this.held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stopped: false };
  }

  /** Generation ended without a stop string: the held-back tail was ordinary text after all. */
  flush(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }

  /**
   * Where the output ends, or -1: the stream stops at the first character that completes any stop string (the
   * model would be stopped right there), and of the stop strings completed by that character the longest counts.
   * So the answer does not depend on how the text was split into pieces.
   */
  private firstMatch(text: string): number {
    let end = Infinity;
    let cut = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i < 0) continue;
      const e = i + s.length;
      if (e < end || (e === end && i < cut)) {
        end = e;
        cut = i;
      }
    }
    return cut;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private partialTail(text: string): number {
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, text.length); n > keep; n--) {
        if (text.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    return keep;
  }
}
