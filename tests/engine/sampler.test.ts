// The CPU reference sampler: parameter validation, greedy and seeded behaviour, the repetition penalty, and the
// distribution it draws from (chi-square against the truncated, renormalized softmax).
import { describe, expect, it } from 'vitest';
import { keptTokensCpu, sampleCpu, samplingUniform } from '../../src/gpu/engine/sampler-cpu';
import { GREEDY, normalizeSamplingParams, type SamplingParams } from '../../src/gpu/engine/sampling-params';

const params = (p: Partial<SamplingParams>): SamplingParams => normalizeSamplingParams(p);

describe('normalizeSamplingParams', () => {
  it('fills in the greedy defaults', () => {
    expect(normalizeSamplingParams()).toEqual(GREEDY);
    expect(normalizeSamplingParams({ temperature: 0.7, topP: 0.9 })).toEqual({ ...GREEDY, temperature: 0.7, topP: 0.9 });
  });

  it.each([
    [{ temperature: -0.1 }, /temperature/],
    [{ temperature: Number.NaN }, /temperature/],
    [{ temperature: Number.POSITIVE_INFINITY }, /temperature/],
    [{ topK: -1 }, /topK/],
    [{ topK: 2.5 }, /topK/],
    [{ topP: 0 }, /topP must be in \(0, 1\]/],
    [{ topP: 1.01 }, /topP/],
    [{ topP: Number.NaN }, /topP/],
    [{ minP: -0.01 }, /minP/],
    [{ minP: 1.5 }, /minP/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty/],
    [{ repetitionPenalty: -1 }, /repetitionPenalty/],
    [{ repetitionWindow: -1 }, /repetitionWindow/],
    [{ repetitionWindow: 257 }, /repetitionWindow/],
    [{ seed: -1 }, /seed/],
    [{ seed: 2 ** 32 }, /seed/],
    [{ seed: 0.5 }, /seed/],
  ] as [Partial<SamplingParams>, RegExp][])('rejects %o with a RangeError', (partial, message) => {
    expect(() => normalizeSamplingParams(partial)).toThrow(RangeError);
    expect(() => normalizeSamplingParams(partial)).toThrow(message);
  });

  it('accepts the edges of each range', () => {
    expect(() => normalizeSamplingParams({ topP: 1, minP: 1, topK: 0, seed: 2 ** 32 - 1, repetitionWindow: 256 })).not.toThrow();
    expect(() => normalizeSamplingParams({ topP: 1e-9, minP: 0, repetitionWindow: 0 })).not.toThrow();
  });
});

describe('greedy', () => {
  it('is the argmax, the lowest id on ties', () => {
    expect(sampleCpu(Float32Array.from([1, 3, 3, 2]), [], GREEDY, 0)).toBe(1);
    expect(sampleCpu(Float32Array.from([-5, -1, -2, -1]), [], GREEDY, 7)).toBe(1);
    expect(sampleCpu(Float32Array.from([-1, -0, 0, -1]), [], GREEDY, 0)).toBe(1); // -0 == +0
  });

  it('treats NaN as -inf', () => {
    expect(sampleCpu(Float32Array.from([Number.NaN, -100, Number.NaN]), [], GREEDY, 0)).toBe(1);
  });

  it('top-k = 1 samples the argmax whatever the temperature and seed (no ties)', () => {
    const logits = Float32Array.from({ length: 300 }, (_, i) => Math.sin(i * 12.9898) * 5);
    const best = sampleCpu(logits, [], GREEDY, 0);
    for (let step = 0; step < 50; step++) {
      expect(sampleCpu(logits, [], params({ temperature: 0.5 + step / 10, topK: 1, seed: step * 7919 }), step)).toBe(best);
    }
  });
});

describe('seeded randomness', () => {
  const logits = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i) * 2);
  const p = params({ temperature: 1, seed: 1234 });

  it('is a function of (seed, step)', () => {
    const a = Array.from({ length: 40 }, (_, step) => sampleCpu(logits, [], p, step));
    const b = Array.from({ length: 40 }, (_, step) => sampleCpu(logits, [], p, step));
    const c = Array.from({ length: 40 }, (_, step) => sampleCpu(logits, [], { ...p, seed: 1235 }, step));
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(5);
    expect(c).not.toEqual(a);
  });

  it('draws uniform f32 values in [0, 1)', () => {
    const n = 20000;
    const bins = new Array<number>(10).fill(0);
    for (let step = 0; step < n; step++) {
      const u = samplingUniform(99, step);
      expect(u >= 0 && u < 1 && Math.fround(u) === u).toBe(true);
      bins[Math.floor(u * 10)]!++;
    }
    const chi2 = bins.reduce((s, o) => s + (o - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(27.9); // df 9, p = 0.001
  });
});

describe('the distribution sampled', () => {
  const probs = [0.4, 0.3, 0.15, 0.1, 0.05];
  const logits = Float32Array.from(probs, Math.log);
  const n = 20000;

  // Chi-square critical values at p = 0.001 by degrees of freedom: a seeded test, so no flakiness either way.
  const CRITICAL = [0, 10.83, 13.82, 16.27, 18.47];

  function expectFrequencies(p: SamplingParams, expected: number[]): void {
    const counts = new Array<number>(probs.length).fill(0);
    for (let step = 0; step < n; step++) counts[sampleCpu(logits, [], p, step)]!++;
    const total = expected.reduce((a, b) => a + b, 0);
    let chi2 = 0;
    let kept = 0;
    expected.forEach((e, i) => {
      if (e === 0) {
        expect(counts[i], `token ${i} is truncated`).toBe(0);
        return;
      }
      kept++;
      const want = (n * e) / total;
      chi2 += (counts[i]! - want) ** 2 / want;
    });
    expect(chi2, `counts ${counts.join(',')}`).toBeLessThan(CRITICAL[kept - 1]!);
  }

  it('temperature 1, nothing truncated: the softmax itself', () => expectFrequencies(params({ temperature: 1, seed: 1 }), probs));
  it('temperature 2 flattens it: p^(1/2)', () => expectFrequencies(params({ temperature: 2, seed: 2 }), probs.map(Math.sqrt)));
  it('temperature 0.5 sharpens it: p^2', () => expectFrequencies(params({ temperature: 0.5, seed: 3 }), probs.map((x) => x * x)));
  it('top-k 3 renormalizes the 3 most likely', () => expectFrequencies(params({ temperature: 1, topK: 3, seed: 4 }), [0.4, 0.3, 0.15, 0, 0]));
  it('top-p 0.8 keeps the smallest set reaching 0.8 (0.4 + 0.3 + 0.15)', () =>
    expectFrequencies(params({ temperature: 1, topP: 0.8, seed: 5 }), [0.4, 0.3, 0.15, 0, 0]));
  it('top-p 0.65 keeps two', () => expectFrequencies(params({ temperature: 1, topP: 0.65, seed: 6 }), [0.4, 0.3, 0, 0, 0]));
  it('min-p 0.2 keeps p >= 0.08', () => expectFrequencies(params({ temperature: 1, minP: 0.2, seed: 7 }), [0.4, 0.3, 0.15, 0.1, 0]));
  it('top-k, top-p and min-p together: the intersection, p-mass taken within the top k', () =>
    // top-k 4 → mass 0.95; top-p 0.7 of that = 0.665 → {0, 1}; min-p 0.5 → p >= 0.2 → {0, 1}.
    expectFrequencies(params({ temperature: 1, topK: 4, topP: 0.7, minP: 0.5, seed: 8 }), [0.4, 0.3, 0, 0, 0]));

  it('keeps ties with the k-th largest logit', () => {
    const tied = Float32Array.from([2, 1, 1, 1, 0]);
    expect(Array.from(keptTokensCpu(tied, [], params({ temperature: 1, topK: 2 })))).toEqual([1, 1, 1, 1, 0]);
  });
});

describe('repetition penalty', () => {
  it('divides positive logits and multiplies negative ones, once per distinct recent token', () => {
    const p = params({ repetitionPenalty: 2, repetitionWindow: 8 });
    // 2 / 2 = 1 > 0.9; applying the penalty twice would give 0.5.
    expect(sampleCpu(Float32Array.from([2, 0.9]), [0, 0, 0], p, 0)).toBe(0);
    expect(sampleCpu(Float32Array.from([2, 1.5]), [0], p, 0)).toBe(1);
    // -1 * 2 = -2 < -1.5.
    expect(sampleCpu(Float32Array.from([-1, -1.5]), [0], p, 0)).toBe(1);
    expect(sampleCpu(Float32Array.from([2, 1.5]), [0], GREEDY, 0)).toBe(0); // penalty 1: off
  });

  it('looks only at the last repetitionWindow tokens', () => {
    const p = params({ repetitionPenalty: 2, repetitionWindow: 2 });
    expect(sampleCpu(Float32Array.from([2, 1.5, 0]), [0, 2, 2], p, 0)).toBe(0);
    expect(sampleCpu(Float32Array.from([2, 1.5, 0]), [2, 0, 2], p, 0)).toBe(1);
    expect(sampleCpu(Float32Array.from([2, 1.5, 0]), [0], { ...p, repetitionWindow: 0 }, 0)).toBe(0);
  });

  it('a penalty below 1 boosts recent tokens', () => {
    expect(sampleCpu(Float32Array.from([2, 1.5]), [1], params({ repetitionPenalty: 0.5 }), 0)).toBe(1);
  });

  it('lowers the frequency of a repeated token', () => {
    const logits = Float32Array.from([1, 1, 1, 1]);
    const count = (recent: number[]): number => {
      const p = params({ temperature: 1, repetitionPenalty: 1.5, seed: 3 });
      let c = 0;
      for (let step = 0; step < 4000; step++) if (sampleCpu(logits, recent, p, step) === 0) c++;
      return c;
    };
    // Without: 1/4. With: e^(2/3) / (e^(2/3) + 3e) ≈ 0.192.
    expect(count([])).toBeGreaterThan(900);
    expect(count([0])).toBeLessThan(850);
    expect(count([0])).toBeGreaterThan(680);
  });

  it('rejects recent tokens outside the vocabulary', () => {
    expect(() => sampleCpu(Float32Array.from([1, 2]), [2], params({ repetitionPenalty: 1.1 }), 0)).toThrow(RangeError);
  });
});

it('every sampled token is in the kept set', () => {
  const logits = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 78.233) * 4);
  const p = params({ temperature: 0.9, topK: 100, topP: 0.8, minP: 0.01, repetitionPenalty: 1.3, seed: 77 });
  const recent = [5, 17, 900, 17];
  const kept = keptTokensCpu(logits, recent, p);
  const size = kept.reduce((a, b) => a + b, 0);
  expect(size).toBeGreaterThan(1);
  expect(size).toBeLessThanOrEqual(100);
  for (let step = 0; step < 300; step++) expect(kept[sampleCpu(logits, recent, p, step)]).toBe(1);
});
