// Step planning for continuous batching, with no GPU: which queued requests run in the next step and how many of
// their pending tokens, and whose KV blocks are taken back when the pool runs short (as vLLM preempts).
//
// - Decoding requests (one pending token) go first, so a long prompt never stalls them; then the oldest.
// - A step holds at most `maxSeqs` requests and `maxBatchTokens` tokens; a prompt is prefilled in chunks.
// - Short of blocks with nothing planned yet, the newest request holding blocks gives them back (it is recomputed
//   later); never an older one, so the oldest always progresses. A request that waits on older ones gives its own
//   blocks back, and no newer request overtakes it in that step (else a newer one with fewer pending tokens could
//   take those blocks step after step, and the older ones would starve). A request that cannot fit even when no
//   other queued request holds a block fails alone.
//
// The blocks themselves stay with the caller behind a BlockLedger (the engine's is its KvCache; tests count).

/** A queued request as the scheduler sees it. */
export interface QueuedRequest {
  /** Arrival order: the older of two requests is never preempted for the newer. */
  readonly serial: number;
  /** Positions of its sequence whose K/V are in the pool. */
  readonly computed: number;
  /** Tokens appended but not yet run (1 while decoding; a prompt or a preempted request's history otherwise). */
  readonly pending: number;
}

export interface StepLimits {
  readonly maxSeqs: number;
  readonly maxBatchTokens: number;
}

/** The pool's side of scheduling; `reserve` and `release` change it at once, so later decisions see the change. */
export interface BlockLedger<R> {
  /** Blocks a reservation can take now (free and idle cached ones). */
  freeBlocks(): number;
  /** Blocks `reserve(r, end)` would take (new blocks, plus one to copy a shared block before writing it). */
  blocksNeeded(r: R, end: number): number;
  /** Backs positions [0, end) of r's sequence, writable from its computed count. Called only when they fit. */
  reserve(r: R, end: number): void;
  holdsBlocks(r: R): boolean;
  /** Takes all of r's blocks back: r is preempted and runs its tokens again in a later step. */
  release(r: R): void;
}

/** A request in the step: its next `tokens` pending tokens run; `samples` when they are all it had pending. */
export interface ScheduledRun<R> {
  readonly request: R;
  readonly tokens: number;
  readonly samples: boolean;
}

/** A request whose blocks were taken back, and the request they were taken for (itself when it waits). */
export interface Preemption<R> {
  readonly victim: R;
  readonly beneficiary: R;
}

/** A request the pool cannot hold: `needed` blocks for positions [0, end) with `free` available and nobody to preempt. */
export interface CapacityFailure<R> {
  readonly request: R;
  readonly end: number;
  readonly needed: number;
  readonly free: number;
}

export interface StepSchedule<R> {
  /** In planning order: decoding first, then by age. */
  readonly runs: readonly ScheduledRun<R>[];
  readonly preempted: readonly Preemption<R>[];
  readonly failed: readonly CapacityFailure<R>[];
}

/** Plans one step over `queue` (every request in flight), reserving the blocks of each run through `ledger`. */
export function scheduleStep<R extends QueuedRequest>(queue: readonly R[], limits: StepLimits, ledger: BlockLedger<R>): StepSchedule<R> {
  const runs: ScheduledRun<R>[] = [];
  const preempted: Preemption<R>[] = [];
  const failed: CapacityFailure<R>[] = [];
  const out = new Set<R>(); // preempted or failed while planning: not in this step
  let batchTokens = 0;
  let waiting = Infinity; // serial of the oldest request waiting this step for blocks older ones hold
  const order = [...queue].sort((a, b) => a.pending - b.pending || a.serial - b.serial);
  for (const r of order) {
    if (runs.length >= limits.maxSeqs || batchTokens >= limits.maxBatchTokens) break;
    if (out.has(r) || r.serial > waiting) continue;
    const tokens = Math.min(r.pending, limits.maxBatchTokens - batchTokens);
    const end = r.computed + tokens;
    if (!reserveOrPreempt(r, end, runs.length > 0)) {
      if (runs.length > 0) break; // wait for the planned ones to finish
      continue;
    }
    runs.push({ request: r, tokens, samples: tokens === r.pending });
    batchTokens += tokens;
  }
  return { runs, preempted, failed };

  /** True when r's positions up to `end` are backed; false when r waits (perhaps preempted itself) or failed. */
  function reserveOrPreempt(r: R, end: number, othersPlanned: boolean): boolean {
    for (;;) {
      const needed = ledger.blocksNeeded(r, end);
      if (needed <= ledger.freeBlocks()) {
        ledger.reserve(r, end);
        return true;
      }
      if (othersPlanned) return false;
      const holders = queue.filter((q) => q !== r && !out.has(q) && ledger.holdsBlocks(q));
      const victim = holders.filter((q) => q.serial > r.serial).sort((a, b) => b.serial - a.serial)[0];
      if (victim) {
        take(victim, r);
        continue;
      }
      if (holders.length > 0) {
        // Only older requests hold blocks: r gives its own back and waits for them.
        if (ledger.holdsBlocks(r)) take(r, r);
        waiting = Math.min(waiting, r.serial);
        return false;
      }
      failed.push({ request: r, end, needed, free: ledger.freeBlocks() });
      out.add(r);
      return false;
    }
  }

  function take(victim: R, beneficiary: R): void {
    ledger.release(victim);
    preempted.push({ victim, beneficiary });
    out.add(victim);
  }
}
