// Transfer speed and time left, over a sliding window, so a stall shows at once and one burst does not.

export interface TransferRate {
  /** Bytes per second over the window (0 before two samples). */
  readonly bytesPerSecond: number;
  /** Seconds left at that speed; null while the speed is unknown or zero. */
  readonly etaSeconds: number | null;
}

export class RateMeter {
  private readonly samples: { t: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 5000) {}

  /** Records `bytesDone` at `nowMs` and returns the rate toward `bytesTotal`. */
  sample(bytesDone: number, bytesTotal: number, nowMs = performance.now()): TransferRate {
    this.samples.push({ t: nowMs, bytes: bytesDone });
    while (this.samples.length > 2 && nowMs - this.samples[0]!.t > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (nowMs - first.t) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.max(0, (bytesDone - first.bytes) / seconds) : 0;
    return { bytesPerSecond, etaSeconds: bytesPerSecond > 0 ? Math.max(0, bytesTotal - bytesDone) / bytesPerSecond : null };
  }

  reset(): void {
    this.samples.length = 0;
  }
}
