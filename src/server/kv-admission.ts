// Admission by KV blocks. The engine reserves a sequence's blocks step by step; if requests together outgrow the
// pool, a step finds no block for the first request it plans and fails every request in flight. So a request
// waits here (first come, first served) until its worst case fits beside the worst cases of those running:
// then the engine can never run out of blocks for this server's requests.
import { KV_BLOCK_TOKENS } from '../gpu/kv/layout';

interface Waiter {
  readonly blocks: number;
  readonly admit: () => void;
}

/** Blocks a sequence can hold: every prompt position and every sampled one but the last (never computed). */
export const worstCaseBlocks = (promptTokens: number, maxNewTokens: number): number =>
  Math.ceil((promptTokens + maxNewTokens - 1) / KV_BLOCK_TOKENS);

export class KvAdmission {
  private reserved = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly capacity: number) {}

  get reservedBlocks(): number {
    return this.reserved;
  }

  get waitingRequests(): number {
    return this.waiting.length;
  }

  /** Resolves once `blocks` are reserved; rejects with the signal's reason if it aborts first. */
  acquire(blocks: number, signal?: AbortSignal): Promise<void> {
    if (blocks > this.capacity) return Promise.reject(new RangeError(`a request needing ${blocks} KV blocks can never fit in ${this.capacity}`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
        this.admitWaiting(); // the head may have been the one that did not fit
      };
      const waiter: Waiter = {
        blocks,
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      this.admitWaiting();
    });
  }

  release(blocks: number): void {
    this.reserved -= blocks;
    this.admitWaiting();
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.reserved + this.waiting[0]!.blocks <= this.capacity) {
      const w = this.waiting.shift()!;
      this.reserved += w.blocks;
      w.admit();
    }
  }
}
