// Flash-decode's two tuning rounds (tilings, then keys per split) on a fake device whose clock moves only when a
// candidate runs, by that candidate's cost: the fastest exact choice wins, an inexact or failing one never does, a
// failure outside a candidate keeps the fixed rule, and a gain that does not survive the final turn-taking is dropped.
import { describe, expect, it } from 'vitest';
import { decodeTilingKey, type DecodeTiling } from '../../src/gpu/kernels/attention-decode';
import { decodeChoiceKey, parseDecodeChoiceKey, tuneDecodeRounds, type DecodeChoice, type DecodeRounds } from '../../src/gpu/tuning/decode-split-tuning';
import type { TuneCandidate } from '../../src/gpu/tuning/tuner';

const FIXED: DecodeTiling = { lanes: 2, headTile: 4, keysPerPhase: 16 };
const TWO_BLOCKS: DecodeTiling = { lanes: 2, headTile: 4, keysPerPhase: 32 };
const WIDE: DecodeTiling = { lanes: 8, headTile: 4, keysPerPhase: 16 };
const SMALL_TILE: DecodeTiling = { lanes: 2, headTile: 2, keysPerPhase: 16 };

interface Behaviour {
  readonly ms: number;
  readonly exact?: boolean;
  readonly throws?: boolean;
}

/** Rounds over the fake device: `cost(choice)`, asked at every run, says how a choice behaves; runs are counted per key. */
function fakeRounds(cost: (c: DecodeChoice) => Behaviour, over: Partial<DecodeRounds> = {}): { rounds: DecodeRounds; clock: () => number; runs: Map<string, number> } {
  let now = 0;
  const runs = new Map<string, number>();
  const candidate = (c: DecodeChoice): TuneCandidate => {
    const key = decodeChoiceKey(c);
    return {
      key,
      run: () => {
        runs.set(key, (runs.get(key) ?? 0) + 1);
        const b = cost(c);
        if (b.throws) return Promise.reject(new Error(`${key}: pipeline failed`));
        now += b.ms;
        return Promise.resolve();
      },
      exact: () => Promise.resolve(cost(c).exact ?? true),
    };
  };
  const rounds: DecodeRounds = {
    fixed: { tiling: FIXED, keysPerSplit: 256 },
    tilings: [FIXED, TWO_BLOCKS, WIDE, SMALL_TILE],
    keysPerSplitFor: () => [256, 64, 128, 512],
    candidate,
    ...over,
  };
  return { rounds, clock: () => now, runs };
}

const is = (a: DecodeTiling, b: DecodeTiling): boolean => decodeTilingKey(a) === decodeTilingKey(b);
const budget = (clock: () => number) => ({ budgetMs: 10_000, clock, repeats: 3 });

describe('flash-decode tuning rounds', () => {
  it('picks the fastest exact tiling, then the fastest keys per split with it', async () => {
    const costs: Record<string, number> = { 'l2.ht4.k16': 10, 'l2.ht4.k32': 6, 'l8.ht4.k16': 8, 'l2.ht2.k16': 9 };
    const { rounds, clock } = fakeRounds((c) => ({ ms: costs[`l${c.tiling.lanes}.ht${c.tiling.headTile}.k${c.tiling.keysPerPhase}`]! - (c.keysPerSplit === 128 ? 2 : 0) }));
    const r = await tuneDecodeRounds(rounds, budget(clock));
    expect(r.tiling).toEqual(TWO_BLOCKS);
    expect(r.keysPerSplit).toBe(128);
    expect(r.chosen).toBe('l2.ht4.k32.kps128');
    expect(r.chosenMs).toBe(4);
    expect(r.defaultMs).toBe(10);
    // Tilings at 256 keys a split (the fixed one first), then the winner's other keys per split; none twice.
    expect(r.timings.map((t) => t.key)).toEqual([
      'l2.ht4.k16.kps256',
      'l2.ht4.k32.kps256',
      'l8.ht4.k16.kps256',
      'l2.ht2.k16.kps256',
      'l2.ht4.k32.kps64',
      'l2.ht4.k32.kps128',
      'l2.ht4.k32.kps512',
    ]);
    expect(parseDecodeChoiceKey(r.chosen)).toEqual({ tiling: TWO_BLOCKS, keysPerSplit: 128 });
  });

  it('never chooses an inexact tiling or one whose pipeline fails, however fast', async () => {
    const { rounds, clock } = fakeRounds((c) => {
      if (is(c.tiling, TWO_BLOCKS)) return { ms: 1, exact: false };
      if (is(c.tiling, WIDE)) return { ms: 1, throws: true };
      return { ms: is(c.tiling, SMALL_TILE) ? 7 : 10 };
    });
    const r = await tuneDecodeRounds(rounds, budget(clock));
    expect(r.tiling).toEqual(SMALL_TILE);
    expect(r.timings.find((t) => t.key === 'l2.ht4.k32.kps256')).toEqual({ key: 'l2.ht4.k32.kps256', skipped: 'inexact' });
    expect(r.timings.find((t) => t.key === 'l8.ht4.k16.kps256')).toMatchObject({ skipped: 'error', error: 'l8.ht4.k16.kps256: pipeline failed' });
  });

  it('keeps the fixed rule when a failure outside any candidate stops the tuning', async () => {
    const { rounds, clock } = fakeRounds((c) => ({ ms: is(c.tiling, WIDE) ? 2 : 10 }), {
      keysPerSplitFor: () => {
        throw new Error('device lost');
      },
    });
    const r = await tuneDecodeRounds(rounds, budget(clock));
    expect(r).toMatchObject({ chosen: 'l2.ht4.k16.kps256', tiling: FIXED, keysPerSplit: 256, error: 'device lost' });
  });

  it('keeps the fixed rule when every other candidate fails, and times it', async () => {
    const { rounds, clock } = fakeRounds((c) => (is(c.tiling, FIXED) && c.keysPerSplit === 256 ? { ms: 10 } : { ms: 1, throws: true }));
    const r = await tuneDecodeRounds(rounds, budget(clock));
    expect(r).toMatchObject({ chosen: 'l2.ht4.k16.kps256', tiling: FIXED, keysPerSplit: 256, chosenMs: 10, defaultMs: 10 });
    expect(r.error).toBeUndefined();
  });

  it('drops a winner whose gain is gone when it is timed against the fixed rule once more, taking turns', async () => {
    // WIDE is fast through both rounds, then (a load spike on the machine ends) as slow as the fixed rule when the
    // final turn-taking makes the fixed rule's candidate a second time.
    let fast = true;
    let fixedMade = 0;
    const fake = fakeRounds((c) => ({ ms: is(c.tiling, WIDE) && fast ? 5 : 10 }));
    const { rounds, clock, runs } = fake;
    const withSpikeEnd: DecodeRounds = {
      ...rounds,
      candidate: (c) => {
        if (decodeChoiceKey(c) === decodeChoiceKey(rounds.fixed) && ++fixedMade === 2) fast = false;
        return rounds.candidate(c);
      },
    };
    const r = await tuneDecodeRounds(withSpikeEnd, budget(clock));
    expect(fixedMade).toBe(2);
    expect(runs.get('l8.ht4.k16.kps256')).toBeGreaterThan(4);
    expect(r.chosen).toBe('l2.ht4.k16.kps256');
    expect(r.chosenMs).toBe(10);
    expect(r.defaultMs).toBe(10);
  });

  it('starts no tiling once its share of the budget is spent; the fixed rule is always timed', async () => {
    const { rounds, clock, runs } = fakeRounds(() => ({ ms: 10 }));
    const r = await tuneDecodeRounds(rounds, { budgetMs: 50, clock, repeats: 3 });
    expect(r.chosen).toBe('l2.ht4.k16.kps256');
    expect(r.timings.filter((t) => t.skipped === 'budget').map((t) => t.key)).toContain('l2.ht2.k16.kps256');
    expect(runs.has('l2.ht2.k16.kps256')).toBe(false);
  });
});
