// Admission by KV blocks. The engine reserves a sequence's blocks step by step; if requests together outgrow the
// pool, a step finds no block for the first request it plans and fails every request in flight. So a request
// waits here (first come, first served) until its worst case fits beside the worst cases of those running:
// then the engine can never run out of blocks for this server's requests. The queue is bounded in length and in
// time: past either bound a request is turned away (AdmissionRefused) instead of holding memory and a socket.
import { KV_BLOCK_TOKENS } from '../gpu/kv/layout';

interface Waiter {
  readonly blocks: number;
  readonly admit: () => void;
}

/** Default most requests waiting for KV blocks at once; more are refused (429). */
export const DEFAULT_MAX_WAITING = 64;
/** Default longest wait for KV blocks, in ms; then the request is refused (503). */
export const DEFAULT_MAX_WAIT_MS = 5 * 60_000;

/** A request turned away: the queue is full, or it waited `maxWaitMs` without being admitted. */
export class AdmissionRefused extends Error {
  constructor(
    readonly reason: 'queue-full' | 'timeout',
    message: string,
  ) {
    super(message);
    this.name = 'AdmissionRefused';
  }
}

export interface AdmissionLimits {
  readonly maxWaiting?: number;
  readonly maxWaitMs?: number;
}

/** Blocks a sequence can hold: every prompt position and every sampled one but the last (never computed). */
export const worstCaseBlocks = (promptTokens: number, maxNewTokens: number): number =>
  Math.ceil((promptTokens + maxNewTokens - 1) / KV_BLOCK_TOKENS);

export class KvAdmission {
  private reserved = 0;
  private readonly waiting: Waiter[] = [];

  readonly maxWaiting: number;
  readonly maxWaitMs: number;

  constructor(
    readonly capacity: number,
    limits: AdmissionLimits = {},
  ) {
    this.maxWaiting = limits.maxWaiting ?? DEFAULT_MAX_WAITING;
    this.maxWaitMs = limits.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  }

  /**
   * True when a new request would be turned away whatever it needs: others already wait ahead of it and the queue
   * is at its bound (checked before a body is read; acquire() decides for the rest).
   */
  get full(): boolean {
    return this.waiting.length > 0 && this.waiting.length >= this.maxWaiting;
  }

  get reservedBlocks(): number {
    return this.reserved;
  }

  get waitingRequests(): number {
    return this.waiting.length;
  }

  /**
   * Resolves once `blocks` are reserved; rejects with the signal's reason if it aborts first, and with
   * AdmissionRefused when the queue is full or the wait passes maxWaitMs.
   */
  acquire(blocks: number, signal?: AbortSignal): Promise<void> {
    if (blocks > this.capacity) return Promise.reject(new RangeError(`a request needing ${blocks} KV blocks can never fit in ${this.capacity}`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiting.length === 0 && this.reserved + blocks <= this.capacity) {
      this.reserved += blocks;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting) return Promise.reject(new AdmissionRefused('queue-full', `${this.waiting.length} requests are already waiting for this server's KV cache`));
    return new Promise<void>((resolve, reject) => {
      const leave = (error: unknown): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(error);
        this.admitWaiting(); // the head may have been the one that did not fit
      };
      const onAbort = (): void => leave(signal!.reason);
      const timer = setTimeout(() => leave(new AdmissionRefused('timeout', `waited ${Math.round(this.maxWaitMs / 1000)} s for this server's KV cache`)), this.maxWaitMs);
      const waiter: Waiter = {
        blocks,
        admit: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
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
