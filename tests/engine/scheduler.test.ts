// Property tests of step planning with no GPU: random queues of requests (prompt length, new tokens, arrival step)
// run to completion on a simulated KV pool that counts blocks as the engine's KvCache does (a request holds the
// blocks backing its positions [0, end); finished and failed requests' sequences are released by their callers).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scheduleStep, type BlockLedger, type QueuedRequest, type StepLimits, type StepSchedule } from '../../src/gpu/engine/scheduler';
import { KV_BLOCK_TOKENS } from '../../src/gpu/kv/layout';

interface Spec {
  readonly arrival: number;
  readonly prompt: number;
  readonly maxNew: number;
}

interface Simulated {
  readonly serial: number;
  readonly spec: Spec;
  computed: number;
  pending: number;
  generated: number;
  /** Blocks backing its sequence's positions [0, computed + reserved). */
  held: number;
  preemptions: number;
  outcome?: { kind: 'finished' } | { kind: 'failed'; end: number; poolLeft: number };
}

/** What the engine hands the scheduler: a snapshot of each queued request at the start of the step. */
interface View extends QueuedRequest {
  readonly sim: Simulated;
}

interface Pool {
  readonly numBlocks: number;
  /** Blocks held by sequences that are not generating (an open conversation between turns). */
  readonly idle: number;
}

const blocksFor = (positions: number): number => Math.ceil(positions / KV_BLOCK_TOKENS);

function ledgerOf(pool: Pool, all: readonly Simulated[]): BlockLedger<View> {
  const freeBlocks = (): number => pool.numBlocks - pool.idle - all.reduce((n, r) => n + r.held, 0);
  return {
    freeBlocks,
    blocksNeeded: (v, end) => Math.max(0, blocksFor(end) - v.sim.held),
    reserve: (v, end) => {
      const more = Math.max(0, blocksFor(end) - v.sim.held);
      if (more > freeBlocks()) throw new Error(`reserved ${more} blocks with ${freeBlocks()} free`);
      v.sim.held += more;
    },
    holdsBlocks: (v) => v.sim.held > 0,
    release: (v) => {
      v.sim.held = 0;
      v.sim.pending += v.sim.computed;
      v.sim.computed = 0;
      v.sim.preemptions++;
    },
  };
}

interface Trace {
  readonly sims: Simulated[];
  readonly steps: number;
}

/**
 * Runs every request to its end, checking each step's schedule with `check` (given the queue it planned and the
 * blocks each request held after planning). Gives up after `maxSteps` (a starved request).
 */
function simulate(specs: readonly Spec[], limits: StepLimits, pool: Pool, check: (queue: readonly View[], s: StepSchedule<View>, all: readonly Simulated[]) => void, maxSteps = 3_000): Trace {
  const sims: Simulated[] = specs
    .map((spec, i) => ({ spec, i }))
    .sort((a, b) => a.spec.arrival - b.spec.arrival || a.i - b.i)
    .map(({ spec }, serial) => ({ serial, spec, computed: 0, pending: spec.prompt, generated: 0, held: 0, preemptions: 0 }));
  const ledger = ledgerOf(pool, sims);
  let step = 0;
  for (; step < maxSteps && sims.some((r) => !r.outcome); step++) {
    const queue = sims.filter((r) => !r.outcome && r.spec.arrival <= step).map((sim): View => ({ sim, serial: sim.serial, computed: sim.computed, pending: sim.pending }));
    if (queue.length === 0) continue;
    const schedule = scheduleStep(queue, limits, ledger);
    check(queue, schedule, sims);
    for (const f of schedule.failed) {
      // Blocks of requests failed earlier in this step stay with their sequences until the callers release them.
      const failedEarlier = schedule.failed.slice(0, schedule.failed.indexOf(f)).reduce((n, g) => n + g.request.sim.held, 0);
      f.request.sim.outcome = { kind: 'failed', end: f.end, poolLeft: pool.numBlocks - pool.idle - failedEarlier };
    }
    for (const run of schedule.runs) {
      const r = run.request.sim;
      r.computed += run.tokens;
      r.pending -= run.tokens;
      if (!run.samples) continue;
      expect(r.pending).toBe(0);
      r.generated++;
      r.pending = 1; // the sampled token waits for the next step
      if (r.generated >= r.spec.maxNew) r.outcome = { kind: 'finished' };
    }
    for (const r of sims) if (r.outcome) r.held = 0; // the caller releases an ended request's sequence
  }
  return { sims, steps: step };
}

/** Checks that hold in every step, whatever the pool. */
function checkStep(limits: StepLimits) {
  return (queue: readonly View[], s: StepSchedule<View>): void => {
    expect(s.runs.length).toBeLessThanOrEqual(limits.maxSeqs);
    expect(s.runs.reduce((n, r) => n + r.tokens, 0)).toBeLessThanOrEqual(limits.maxBatchTokens);
    for (const r of s.runs) {
      expect(r.tokens).toBeGreaterThanOrEqual(1);
      expect(r.tokens).toBeLessThanOrEqual(r.request.pending);
      expect(r.samples).toBe(r.tokens === r.request.pending);
      expect(r.request.sim.held).toBeGreaterThanOrEqual(blocksFor(r.request.computed + r.tokens)); // backed
    }
    // Decoding first, then by age.
    for (let i = 1; i < s.runs.length; i++) {
      const [a, b] = [s.runs[i - 1]!.request, s.runs[i]!.request];
      expect(a.pending < b.pending || (a.pending === b.pending && a.serial < b.serial)).toBe(true);
    }
    // A decoding request left out of a step that prefills was preempted, failed, or waits with no blocks.
    if (s.runs.some((r) => r.request.pending > 1)) {
      for (const q of queue.filter((v) => v.pending === 1 && !s.runs.some((r) => r.request === v))) {
        const out = s.preempted.some((p) => p.victim === q) || s.failed.some((f) => f.request === q);
        expect(out || q.sim.held === 0).toBe(true);
      }
    }
    // A request that gave its blocks back to wait for older ones is overtaken by no newer one.
    for (const p of s.preempted.filter((x) => x.victim === x.beneficiary)) {
      expect(s.runs.filter((r) => r.request.serial > p.victim.serial)).toEqual([]);
    }
    // The oldest request is never preempted for a newer one; a request gives its own blocks back only to wait.
    const oldest = Math.min(...queue.map((q) => q.serial));
    for (const p of s.preempted) {
      expect(p.victim.serial).toBeGreaterThan(oldest);
      expect(p.victim.serial).toBeGreaterThanOrEqual(p.beneficiary.serial);
    }
    // Nothing planned runs with a preempted or failed request.
    for (const r of s.runs) {
      expect(s.preempted.some((p) => p.victim === r.request)).toBe(false);
      expect(s.failed.some((f) => f.request === r.request)).toBe(false);
    }
  };
}

const limitsAndPool = fc
  .record({ maxSeqs: fc.integer({ min: 1, max: 4 }), batchBlocks: fc.integer({ min: 1, max: 3 }), extra: fc.integer({ min: 1, max: 8 }), idle: fc.integer({ min: 0, max: 2 }) })
  .map(({ maxSeqs, batchBlocks, extra, idle }) => ({
    limits: { maxSeqs, maxBatchTokens: batchBlocks * KV_BLOCK_TOKENS },
    // The engine's minimum: a whole batch plus a block to copy, here besides what idle sequences hold.
    pool: { numBlocks: batchBlocks + extra + idle, idle },
  }));

const spec = (maxPrompt: number): fc.Arbitrary<Spec> => fc.record({ arrival: fc.integer({ min: 0, max: 12 }), prompt: fc.integer({ min: 1, max: maxPrompt }), maxNew: fc.integer({ min: 1, max: 40 }) });

/** Positions a request computes at most: its prompt and every sampled token but the last (it stays pending). */
const mostPositions = (s: Spec): number => s.prompt + s.maxNew - 1;

describe('step planning (scheduler)', () => {
  it('requests that each fit an empty pool all finish: budgets kept, decoding first, the oldest never preempted', () => {
    fc.assert(
      fc.property(limitsAndPool, fc.array(spec(120), { minLength: 1, maxLength: 8 }), ({ limits, pool }, raw) => {
        const room = (pool.numBlocks - pool.idle) * KV_BLOCK_TOKENS;
        const specs = raw.map((s) => (mostPositions(s) <= room ? s : { ...s, prompt: Math.max(1, room - s.maxNew + 1), maxNew: Math.min(s.maxNew, room) }));
        const { sims } = simulate(specs, limits, pool, checkStep(limits));
        for (const r of sims) {
          expect(r.outcome, `request ${r.serial} (${JSON.stringify(r.spec)}) was starved`).toEqual({ kind: 'finished' });
          expect(r.generated).toBe(r.spec.maxNew);
        }
      }),
      { numRuns: 300, seed: 20261119 },
    );
  });

  it('a request fails only when it cannot fit the pool that no other in-flight request holds; every other request ends', () => {
    let failures = 0;
    let preemptions = 0;
    fc.assert(
      fc.property(limitsAndPool, fc.array(spec(200), { minLength: 1, maxLength: 8 }), ({ limits, pool }, specs) => {
        const { sims } = simulate(specs, limits, pool, (queue, s, all) => {
          checkStep(limits)(queue, s);
          // Fails alone: when it fails, no request still in flight holds a block it could have taken back.
          for (const f of s.failed) {
            const holders = queue.filter((q) => q !== f.request && !s.failed.some((g) => g.request === q) && q.sim.held > 0);
            expect(holders).toEqual([]);
          }
          void all;
        });
        for (const r of sims) {
          expect(r.outcome, `request ${r.serial} was starved`).toBeDefined();
          if (r.outcome!.kind === 'failed') {
            failures++;
            expect(blocksFor(r.outcome!.end)).toBeGreaterThan(r.outcome!.poolLeft);
          } else {
            expect(r.generated).toBe(r.spec.maxNew);
          }
          preemptions += r.preemptions;
        }
      }),
      { numRuns: 300, seed: 20261120 },
    );
    // The runs reached both preemption and failure (else the property says little).
    expect(failures).toBeGreaterThan(0);
    expect(preemptions).toBeGreaterThan(0);
  });

  it('a roomy pool never preempts: every decoding request is in the batch before any prompt chunk', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(spec(60), { minLength: 1, maxLength: 6 }), (maxSeqs, specs) => {
        const limits = { maxSeqs, maxBatchTokens: 32 };
        const pool = { numBlocks: specs.reduce((n, s) => n + blocksFor(mostPositions(s)), 0) + 2, idle: 0 };
        simulate(specs, limits, pool, (queue, s) => {
          expect(s.preempted).toEqual([]);
          expect(s.failed).toEqual([]);
          const decoding = queue.filter((q) => q.pending === 1).length;
          expect(s.runs.slice(0, Math.min(decoding, maxSeqs)).every((r) => r.request.pending === 1)).toBe(true);
        });
      }),
      { numRuns: 200, seed: 20261121 },
    );
  });

  it('short of blocks, the newest holder gives its blocks back to the oldest; a waiting request gives its own back', () => {
    const limits = { maxSeqs: 4, maxBatchTokens: 64 };
    /** Requests holding the blocks of `computed` positions, with `pending` tokens to run, oldest first. */
    const queueOf = (...reqs: [computed: number, pending: number][]): { queue: View[]; sims: Simulated[] } => {
      const sims = reqs.map(([computed, pending], serial): Simulated => ({ serial, spec: { arrival: 0, prompt: computed + pending, maxNew: 8 }, computed, pending, generated: 0, held: blocksFor(computed), preemptions: 0 }));
      return { sims, queue: sims.map((sim) => ({ sim, serial: sim.serial, computed: sim.computed, pending: sim.pending })) };
    };
    // Requests 1 and 2 go first (fewer pending tokens) and fit; the oldest then waits for them, preempting nobody.
    const busy = queueOf([16, 40], [16, 16], [16, 16]);
    const planned = scheduleStep(busy.queue, limits, ledgerOf({ numBlocks: 5, idle: 0 }, busy.sims));
    expect(planned.runs.map((r) => r.request.serial)).toEqual([1, 2]);
    expect(planned.preempted).toEqual([]);
    // First in line with nothing planned, the oldest takes the newest holder's blocks, then the next newest's.
    const front = queueOf([16, 40], [16, 60], [16, 50]);
    const taken = scheduleStep(front.queue, limits, ledgerOf({ numBlocks: 4, idle: 0 }, front.sims));
    expect(taken.preempted.map((p) => [p.victim.serial, p.beneficiary.serial])).toEqual([[2, 0], [1, 0]]);
    expect(taken.runs.map((r) => [r.request.serial, r.tokens])).toEqual([[0, 40]]);
    // A newer decoding request short of a block, with only an older request holding others, gives its own back.
    const waiting = queueOf([16, 20], [32, 1]);
    const waited = scheduleStep(waiting.queue, limits, ledgerOf({ numBlocks: 3, idle: 0 }, waiting.sims));
    expect(waited.preempted.map((p) => [p.victim.serial, p.beneficiary.serial])).toEqual([[1, 1]]);
    expect(waited.runs.map((r) => [r.request.serial, r.tokens])).toEqual([[0, 20]]);
  });

  it('a request larger than the pool fails alone once nothing else in flight holds a block', () => {
    const limits = { maxSeqs: 4, maxBatchTokens: 32 };
    const { sims } = simulate(
      [{ arrival: 0, prompt: 5, maxNew: 8 }, { arrival: 0, prompt: 100, maxNew: 8 }, { arrival: 0, prompt: 5, maxNew: 8 }],
      limits,
      { numBlocks: 4, idle: 0 },
      checkStep(limits),
    );
    expect(sims.map((r) => r.outcome?.kind)).toEqual(['finished', 'failed', 'finished']);
  });
});
