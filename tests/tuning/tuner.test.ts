import { describe, expect, it } from 'vitest';
import { tune, type TuneCandidate } from '../../src/gpu/tuning/tuner';
import { KERNEL_VARIANTS_VERSION, memoryTuningStore, tuningKey } from '../../src/gpu/tuning/tuning-store';

/** A fake clock that only moves when a candidate "runs": each run advances it by the candidate's cost. */
function fakeDevice(): { clock: () => number; candidate: (key: string, ms: number, o?: { exact?: boolean; throws?: 'run' | 'exact' }) => TuneCandidate & { runs: number } } {
  let now = 0;
  return {
    clock: () => now,
    candidate: (key, ms, o = {}) => {
      const c = {
        key,
        runs: 0,
        run: () => {
          c.runs++;
          if (o.throws === 'run') return Promise.reject(new Error(`${key} failed to compile`));
          now += ms;
          return Promise.resolve();
        },
        exact: () => (o.throws === 'exact' ? Promise.reject(new Error('read back failed')) : Promise.resolve(o.exact ?? true)),
      };
      return c;
    },
  };
}

describe('tune', () => {
  it('picks the fastest exact candidate, with median times for it and the default', async () => {
    const d = fakeDevice();
    const r = await tune({ candidates: [d.candidate('a', 5), d.candidate('b', 2), d.candidate('c', 3)], defaultKey: 'a', clock: d.clock, budgetMs: 1000 });
    expect(r.chosen).toBe('b');
    expect(r.chosenMs).toBe(2);
    expect(r.defaultMs).toBe(5);
    expect(r.timings.map((t) => [t.key, t.ms])).toEqual([['a', 5], ['b', 2], ['c', 3]]);
  });

  it('never chooses an inexact candidate, however fast', async () => {
    const d = fakeDevice();
    const r = await tune({ candidates: [d.candidate('a', 5), d.candidate('fast-wrong', 1, { exact: false }), d.candidate('c', 4)], defaultKey: 'a', clock: d.clock, budgetMs: 1000 });
    expect(r.chosen).toBe('c');
    expect(r.timings.find((t) => t.key === 'fast-wrong')).toEqual({ key: 'fast-wrong', skipped: 'inexact' });
  });

  it('skips candidates that throw in run or in the exactness check, and keeps their error', async () => {
    const d = fakeDevice();
    const r = await tune({
      candidates: [d.candidate('a', 5), d.candidate('bad-shader', 1, { throws: 'run' }), d.candidate('bad-read', 1, { throws: 'exact' })],
      defaultKey: 'a',
      clock: d.clock,
      budgetMs: 1000,
    });
    expect(r.chosen).toBe('a');
    expect(r.timings.filter((t) => t.skipped === 'error').map((t) => [t.key, t.error])).toEqual([['bad-shader', 'bad-shader failed to compile'], ['bad-read', 'read back failed']]);
  });

  it('measures the default first, then stops starting candidates once the budget is spent', async () => {
    const d = fakeDevice();
    const cands = [d.candidate('b', 10), d.candidate('c', 10), d.candidate('a', 10), d.candidate('d', 1)];
    // Default: 1 warm-up + 5 timed runs = 60 ms; b another 60: 120 >= 100, so c and d are never started.
    const r = await tune({ candidates: cands, defaultKey: 'a', clock: d.clock, budgetMs: 100 });
    expect(r.timings.map((t) => t.key)).toEqual(['a', 'b', 'c', 'd']);
    expect(r.timings.map((t) => t.skipped)).toEqual([undefined, undefined, 'budget', 'budget']);
    expect(cands.map((c) => c.runs)).toEqual([6, 0, 6, 0]);
    expect(r.chosen).toBe('a'); // b tied the default: no change without a measured gain
  });

  it('keeps the default when nothing beats it, and when tuning itself fails', async () => {
    const d = fakeDevice();
    expect((await tune({ candidates: [d.candidate('a', 2), d.candidate('b', 3)], defaultKey: 'a', clock: d.clock, budgetMs: 1000 })).chosen).toBe('a');
    const broken = await tune({
      candidates: [d.candidate('a', 2), d.candidate('b', 1)],
      defaultKey: 'a',
      clock: d.clock,
      budgetMs: 1000,
      onProgress: () => {
        throw new Error('progress bar gone');
      },
    });
    expect(broken).toMatchObject({ chosen: 'a', error: 'progress bar gone' });
    const none = await tune({ candidates: [], defaultKey: 'a', clock: d.clock, budgetMs: 1000 });
    expect(none.chosen).toBe('a');
  });

  it('switches only for a gain above minGain (default 3%)', async () => {
    const d = fakeDevice();
    const slightly = [d.candidate('a', 100), d.candidate('b', 98)];
    expect((await tune({ candidates: slightly, defaultKey: 'a', clock: d.clock, budgetMs: 1e6 })).chosen).toBe('a');
    expect((await tune({ candidates: slightly, defaultKey: 'a', clock: d.clock, budgetMs: 1e6, minGain: 1 })).chosen).toBe('b');
    expect((await tune({ candidates: [d.candidate('a', 100), d.candidate('b', 90)], defaultKey: 'a', clock: d.clock, budgetMs: 1e6 })).chosen).toBe('b');
  });

  it('confirms a switch by timing the winner and the default again, taking turns', async () => {
    let now = 0;
    let bRuns = 0;
    const a: TuneCandidate = { key: 'a', run: () => ((now += 5), Promise.resolve()), exact: () => Promise.resolve(true) };
    // Fast while first measured (a load spike elsewhere, say), slow when timed again beside the default.
    const b: TuneCandidate = { key: 'b', run: () => ((now += bRuns++ < 6 ? 1 : 10), Promise.resolve()), exact: () => Promise.resolve(true) };
    const r = await tune({ candidates: [a, b], defaultKey: 'a', clock: () => now, budgetMs: 1e6 });
    expect(r.timings.find((t) => t.key === 'b')?.ms).toBe(1);
    expect(r).toMatchObject({ chosen: 'a', chosenMs: 5, defaultMs: 5 });
    expect(bRuns).toBe(11); // warm-up, five timed, five confirming
  });

  it('takes a faster exact candidate when the default itself fails', async () => {
    const d = fakeDevice();
    const r = await tune({ candidates: [d.candidate('a', 2, { throws: 'run' }), d.candidate('b', 3)], defaultKey: 'a', clock: d.clock, budgetMs: 1000 });
    expect(r.chosen).toBe('b');
    expect(r.defaultMs).toBeUndefined();
  });

  it('median of the repeats, not the mean: one slow outlier does not decide', async () => {
    let now = 0;
    let n = 0;
    const costs = [0, 3, 3, 50, 3, 3]; // warm-up, then five timed runs with one outlier
    const a: TuneCandidate = { key: 'a', run: () => ((now += costs[n++] ?? 3), Promise.resolve()), exact: () => Promise.resolve(true) };
    const r = await tune({ candidates: [a], defaultKey: 'a', clock: () => now, budgetMs: 1000 });
    expect(r.chosenMs).toBe(3);
  });
});

describe('tuning store', () => {
  it('keys a choice by device, kernel version, kernel and model shape', async () => {
    const key = tuningKey({ adapter: 'mesa / software / llvmpipe', kernel: 'matvec', modelShape: 'llama q8_0:64x512' });
    expect(key).toBe(`kernel-variant/v${KERNEL_VARIANTS_VERSION}/matvec/mesa / software / llvmpipe/llama q8_0:64x512`);
    expect(tuningKey({ adapter: 'x', kernel: 'matvec', modelShape: 'm', version: 1 })).not.toBe(tuningKey({ adapter: 'x', kernel: 'matvec', modelShape: 'm' }));
    const store = memoryTuningStore();
    await store.set(key, 'tpr8.wg64.wg');
    expect(await store.get(key)).toBe('tpr8.wg64.wg');
    expect(await store.get('other')).toBeUndefined();
  });
});
