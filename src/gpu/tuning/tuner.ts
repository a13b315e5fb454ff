// Picks a kernel variant by measuring: every candidate is run on the device, checked against the CPU reference,
// timed (warm-up, then the median of repeats), and the fastest exact one wins. Pure: the clock and the work are
// injected, so tests drive it with a fake timer and the engine with the GPU.

export interface TuneCandidate {
  /** The variant's name, as persisted (e.g. `tpr8.wg64.wg`). */
  readonly key: string;
  /** Runs the variant once and resolves when the device has finished it. */
  run(): Promise<void>;
  /** Whether its result equals the CPU reference on the real weights; a variant that is not is never chosen. */
  exact(): Promise<boolean>;
}

export type SkipReason = 'inexact' | 'error' | 'budget';

export interface CandidateTiming {
  readonly key: string;
  /** Median milliseconds of one run; absent when skipped. */
  readonly ms?: number;
  readonly skipped?: SkipReason;
  /** The error a failing candidate threw. */
  readonly error?: string;
}

export interface TuneOptions {
  readonly candidates: readonly TuneCandidate[];
  /** The key of the fixed rule's variant: timed first, and the choice whenever nothing better is measured. */
  readonly defaultKey: string;
  /** Milliseconds, monotonic (performance.now in the engine). */
  readonly clock: () => number;
  /** Candidates are not started once this much time has passed (the default is always measured). */
  readonly budgetMs: number;
  /** Untimed runs before timing (pipeline compilation, caches); default 1. */
  readonly warmup?: number;
  /** Timed runs per candidate, of which the median counts; default 5. */
  readonly repeats?: number;
  /**
   * How much faster than the default (default ms / candidate ms) a candidate must be to replace it; default 1.03:
   * a few repeats on a busy machine differ by a few percent, and a switch on noise can be a loss.
   */
  readonly minGain?: number;
  /** Called after each candidate (a progress bar). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface TuneResult {
  readonly chosen: string;
  /** Median ms of the chosen and of the default variant (equal when the default is chosen); absent if unmeasured. */
  readonly chosenMs?: number;
  readonly defaultMs?: number;
  readonly timings: readonly CandidateTiming[];
  /** Set when tuning itself failed and the default was kept. */
  readonly error?: string;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function measure(c: TuneCandidate, clock: () => number, warmup: number, repeats: number): Promise<CandidateTiming> {
  try {
    for (let i = 0; i < warmup; i++) await c.run();
    if (!(await c.exact())) return { key: c.key, skipped: 'inexact' };
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = clock();
      await c.run();
      times.push(clock() - t0);
    }
    return { key: c.key, ms: median(times) };
  } catch (e) {
    return { key: c.key, skipped: 'error', error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Times the candidates (the default first) within the budget and returns the fastest exact one. Never rejects:
 * whatever goes wrong outside a candidate (the clock, a progress callback) leaves the default chosen.
 */
export async function tune(opts: TuneOptions): Promise<TuneResult> {
  try {
    return await tuneCandidates(opts);
  } catch (e) {
    return { chosen: opts.defaultKey, timings: [], error: e instanceof Error ? e.message : String(e) };
  }
}

/** What a kernel family's tuner is given: its time budget, and the clock, repeats and progress callback (tests). */
export interface TuneBudget {
  readonly budgetMs: number;
  readonly clock?: () => number;
  readonly repeats?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** tune() over `candidates` within `budget`, the clock defaulting to performance.now. */
export function tuneWithin(candidates: readonly TuneCandidate[], defaultKey: string, budget: TuneBudget): Promise<TuneResult> {
  return tune({
    candidates,
    defaultKey,
    clock: budget.clock ?? (() => performance.now()),
    budgetMs: budget.budgetMs,
    ...(budget.repeats !== undefined ? { repeats: budget.repeats } : {}),
    ...(budget.onProgress ? { onProgress: budget.onProgress } : {}),
  });
}

/** `variants`, with the fixed rule's `fallback` first when they lack it (it must always be timed). */
export function withFallback<V>(variants: readonly V[], fallback: V, keyOf: (v: V) => string): readonly V[] {
  return variants.some((v) => keyOf(v) === keyOf(fallback)) ? variants : [fallback, ...variants];
}

async function tuneCandidates(opts: TuneOptions): Promise<TuneResult> {
  const { clock, budgetMs, defaultKey } = opts;
  const warmup = opts.warmup ?? 1;
  const repeats = Math.max(1, opts.repeats ?? 5);
  const ordered = [...opts.candidates].sort((a, b) => Number(b.key === defaultKey) - Number(a.key === defaultKey));
  const started = clock();
  const timings: CandidateTiming[] = [];
  for (const c of ordered) {
    const overBudget = c.key !== defaultKey && clock() - started >= budgetMs;
    timings.push(overBudget ? { key: c.key, skipped: 'budget' } : await measure(c, clock, warmup, repeats));
    opts.onProgress?.(timings.length, ordered.length);
  }
  const measured = timings.filter((t): t is CandidateTiming & { ms: number } => t.ms !== undefined);
  const defaultMs = measured.find((t) => t.key === defaultKey)?.ms;
  const best = measured.reduce<(CandidateTiming & { ms: number }) | undefined>((b, t) => (!b || t.ms < b.ms ? t : b), undefined);
  const minGain = opts.minGain ?? 1.03;
  const keepDefault = { chosen: defaultKey, ...(defaultMs !== undefined ? { chosenMs: defaultMs, defaultMs } : {}), timings };
  // Ties and anything unmeasured keep the default: a change of variant must be paid for by a measured gain.
  if (!best || best.key === defaultKey) return keepDefault;
  if (defaultMs === undefined) return { chosen: best.key, chosenMs: best.ms, timings };
  if (defaultMs / best.ms < minGain) return keepDefault;
  // Candidates were timed one after another, so a load spike on the machine can favour one of them: the winner
  // and the default are timed again taking turns, and the switch stands only if the gain does.
  const byKey = new Map(ordered.map((c) => [c.key, c]));
  const [again, againDefault] = await confirm(byKey.get(best.key)!, byKey.get(defaultKey)!, clock, repeats);
  if (againDefault / again < minGain) return { ...keepDefault, chosenMs: againDefault, defaultMs: againDefault };
  return { chosen: best.key, chosenMs: again, defaultMs: againDefault, timings };
}

/** Median ms of `a` and of `b` over `repeats` runs each, taking turns. */
async function confirm(a: TuneCandidate, b: TuneCandidate, clock: () => number, repeats: number): Promise<[number, number]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < repeats; i++) {
    for (const [c, times] of [[a, ta], [b, tb]] as const) {
      const t0 = clock();
      await c.run();
      times.push(clock() - t0);
    }
  }
  return [median(ta), median(tb)];
}

/** Largest absolute difference over the largest reference magnitude: a candidate's exactness against its CPU reference. */
export function normalizedError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0;
  let scale = 1e-30;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return err / scale;
}

/** Values in [-1, 1), the same for every run (xorshift): the inputs candidates are checked and timed on. */
export function seededValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}
