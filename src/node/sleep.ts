// An abortable wait (Node's timers/promises), rejecting with what the caller makes of the signal rather than
// Node's generic AbortError, so a Stop or a pause reads as the caller's own error.
import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`; as soon as `signal` aborts, rejects with `reason(signal)` (default: the signal's reason). */
export async function sleep(ms: number, signal?: AbortSignal, reason: (s: AbortSignal) => unknown = (s) => s.reason): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (e) {
    if (signal?.aborted) throw reason(signal);
    throw e;
  }
}
