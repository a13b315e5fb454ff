// GPU sampling against the CPU reference. Summing float probabilities in a parallel tree rounds differently
// from a sequential CPU sum, so a draw within an ulp of a CDF boundary (or a top-p mass within an ulp of p)
// could pick the neighbouring token. The kernel avoids that: its softmax weights are fixed-point integers and
// its sums integer sums, whose order cannot matter, so the tokens are expected to be identical. The test still
// asserts only the contract the engine needs (>= 99% identical for stochastic sampling, always in the kept
// set, greedy always identical): a device that flushes subnormal logits to zero could differ in rare cases.
import { describe, expect, it } from 'vitest';
import { keptTokensCpu, sampleCpu } from '../../src/gpu/engine/sampler-cpu';
import { GREEDY, normalizeSamplingParams, type SamplingParams } from '../../src/gpu/engine/sampling-params';
import { KernelContext } from '../../src/gpu/kernels/context';
import { GpuSampler, type SamplingRequest } from '../../src/gpu/kernels/sampling';
import { testDevice } from '../helpers/gpu';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** LLM-like rows: a Gaussian bulk, a few strong candidates, ties, and one NaN and one -inf per row. */
function randomLogits(rows: number, vocab: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(rows * vocab);
  for (let i = 0; i < x.length; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    x[i] = r() < 0.05 ? Math.round(g * 4) / 2 : g * 2.5; // 5% on a half-integer grid: ties
  }
  for (let s = 0; s < rows; s++) {
    for (let j = 0; j < 6; j++) x[s * vocab + Math.floor(r() * vocab)] = 8 + 3 * r();
    x[s * vocab + Math.floor(r() * vocab)] = Number.NaN;
    x[s * vocab + Math.floor(r() * vocab)] = -Infinity;
  }
  return x;
}

const PARAMS: SamplingParams[] = [
  GREEDY,
  normalizeSamplingParams({ repetitionPenalty: 1.3, repetitionWindow: 64 }),
  normalizeSamplingParams({ temperature: 0.8, topK: 40 }),
  normalizeSamplingParams({ temperature: 1, topP: 0.9 }),
  normalizeSamplingParams({ temperature: 1.2, minP: 0.05 }),
  normalizeSamplingParams({ temperature: 0.7, topK: 50, topP: 0.95, minP: 0.02, repetitionPenalty: 1.2 }),
  normalizeSamplingParams({ temperature: 1 }),
  normalizeSamplingParams({ temperature: 1.5, topP: 0.5, repetitionPenalty: 0.9, repetitionWindow: 256 }),
  normalizeSamplingParams({ temperature: 1, topK: 200, topP: 0.5 }), // top-p's mass is taken within the top k
  normalizeSamplingParams({ temperature: 1, repetitionPenalty: 1.5, repetitionWindow: 128 }), // negative logits too
];

interface Tally {
  greedy: number;
  greedySame: number;
  stochastic: number;
  stochasticSame: number;
  outside: number;
}

async function compare(sampler: GpuSampler, ctx: KernelContext, vocab: number, copies: number, trials: number, tally: Tally): Promise<void> {
  const rows = PARAMS.length * copies;
  const r = rng(vocab);
  for (let trial = 0; trial < trials; trial++) {
    const logits = randomLogits(rows, vocab, vocab * 1000 + trial);
    const buf = ctx.upload(logits, 'logits');
    const requests: SamplingRequest[] = Array.from({ length: rows }, (_, s) => {
      const p = PARAMS[s % PARAMS.length]!;
      const row = logits.subarray(s * vocab, (s + 1) * vocab);
      let top = 0;
      for (let i = 1; i < vocab; i++) if (row[i]! > row[top]!) top = i;
      // Recent tokens with repeats, including the row's best token so that the penalty changes the outcome.
      const recent = Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? top : Math.floor(r() * vocab)));
      return { params: { ...p, seed: Math.floor(r() * 2 ** 32) }, recent, step: Math.floor(r() * 100000) };
    });
    const gpu = await sampler.sample(buf, requests);
    buf.destroy();
    requests.forEach((req, s) => {
      const row = logits.subarray(s * vocab, (s + 1) * vocab);
      const cpu = sampleCpu(row, [...req.recent], req.params, req.step);
      const got = gpu[s]!;
      if (req.params.temperature === 0) {
        tally.greedy++;
        if (got === cpu) tally.greedySame++;
      } else {
        tally.stochastic++;
        if (got === cpu) tally.stochasticSame++;
        if (!keptTokensCpu(row, req.recent, req.params)[got]) tally.outside++;
      }
    });
  }
}

// One context for the file: its pipeline cache compiles each vocab's kernel once (seconds on SwiftShader).
let context: Promise<KernelContext> | undefined;
const kernelContext = (): Promise<KernelContext> => (context ??= testDevice().then((gpu) => new KernelContext(gpu)));

describe('GpuSampler matches the CPU reference sampler', () => {
  // Each trial is one dispatch of PARAMS.length * copies sequences with fresh logits, seeds and steps.
  const cases: [vocab: number, copies: number, trials: number][] = [
    [512, 3, 6],
    [2048, 2, 4],
    [32000, 1, 2],
    [151936, 1, 1],
  ];
  for (const [vocab, copies, trials] of cases) {
    it(`vocab ${vocab}: ${PARAMS.length * copies} sequences with different params in one dispatch`, async () => {
      const ctx = await kernelContext();
      const sampler = new GpuSampler(ctx, PARAMS.length * copies, vocab);
      const tally: Tally = { greedy: 0, greedySame: 0, stochastic: 0, stochasticSame: 0, outside: 0 };
      await compare(sampler, ctx, vocab, copies, trials, tally);
      sampler.destroy();
      console.log(`vocab ${vocab}: greedy ${tally.greedySame}/${tally.greedy}, stochastic ${tally.stochasticSame}/${tally.stochastic} identical, ${tally.outside} outside the kept set`);
      expect(tally.greedySame).toBe(tally.greedy);
      expect(tally.stochasticSame).toBeGreaterThanOrEqual(0.99 * tally.stochastic);
      expect(tally.outside).toBe(0);
    });
  }
});

describe('GpuSampler edge cases', () => {
  const vocab = 512;
  const row = (f: (i: number) => number): Float32Array => Float32Array.from({ length: vocab }, (_, i) => f(i));
  const cases: [string, Float32Array, Partial<SamplingParams>][] = [
    ['all logits equal, top-k 3 keeps every tie', row(() => 0), { temperature: 1, topK: 3 }],
    ['all -inf', row(() => -Infinity), { temperature: 1, topP: 0.9 }],
    ['all NaN, greedy', row(() => Number.NaN), {}],
    ['two +inf', row((i) => (i === 100 || i === 300 ? Infinity : i % 5)), { temperature: 1 }],
    ['tiny temperature', row((i) => Math.sin(i)), { temperature: 1e-30, topK: 10 }],
    ['huge temperature', row((i) => Math.sin(i) * 50), { temperature: 1e4, topP: 0.99 }],
    ['min-p 1 keeps the maximum only', row((i) => (i % 100 === 7 ? 3 : Math.cos(i))), { temperature: 1, minP: 1 }],
    ['top-p tiny keeps the maximum only', row((i) => Math.cos(i * 3)), { temperature: 1, topP: 1e-7 }],
    ['top-k larger than the vocabulary', row((i) => Math.cos(i * 3)), { temperature: 0.5, topK: 100000 }],
    ['penalty on the whole window of 256', row((i) => (i < 256 ? 5 : 4.9)), { temperature: 0.1, repetitionPenalty: 1.1, repetitionWindow: 256 }],
    ['penalty on negative logits multiplies', row((i) => -1 - (i % 3) / 10), { temperature: 1, repetitionPenalty: 3, repetitionWindow: 256 }],
  ];

  it('picks the CPU reference token', async () => {
    const ctx = await kernelContext();
    const sampler = new GpuSampler(ctx, cases.length, vocab);
    const logits = new Float32Array(cases.length * vocab);
    cases.forEach(([, l], s) => logits.set(l, s * vocab));
    const recent = Array.from({ length: 300 }, (_, i) => i % 256);
    const buf = ctx.upload(logits, 'logits');
    for (const step of [0, 1, 2, 3]) {
      const requests = cases.map(([, , p], s) => ({ params: normalizeSamplingParams({ ...p, seed: s }), recent, step }));
      const gpu = await sampler.sample(buf, requests);
      const cpu = requests.map((req, s) => sampleCpu(logits.subarray(s * vocab, (s + 1) * vocab), recent, req.params, step));
      expect(Array.from(gpu).map((t, s) => `${cases[s]![0]}: ${t}`)).toEqual(cpu.map((t, s) => `${cases[s]![0]}: ${t}`));
    }
    expect(sampleCpu(cases[6]![1], [], normalizeSamplingParams(cases[6]![2]), 0) % 100).toBe(7);
    buf.destroy();
    sampler.destroy();
  });

  it('reads logits through a binding offset, and rejects what it cannot sample', async () => {
    const ctx = await kernelContext();
    const sampler = new GpuSampler(ctx, 2, vocab);
    const logits = randomLogits(3, vocab, 5);
    const buf = ctx.upload(logits, 'logits');
    const requests = [0, 1].map((s) => ({ params: normalizeSamplingParams({ temperature: 1, seed: s }), recent: [], step: 3 }));
    const gpu = await sampler.sample({ buffer: buf, offset: vocab * 4, size: 2 * vocab * 4 }, requests);
    const cpu = requests.map((req, s) => sampleCpu(logits.subarray((s + 1) * vocab, (s + 2) * vocab), [], req.params, 3));
    expect(Array.from(gpu)).toEqual(cpu);
    const pass = {} as GPUComputePassEncoder; // never reached: validation throws first
    expect(() => sampler.encode(pass, buf, [...requests, ...requests])).toThrow(RangeError);
    expect(() => sampler.encode(pass, { buffer: buf, size: 1024 }, requests)).toThrow(/logits hold/);
    const badToken = { params: normalizeSamplingParams({ repetitionPenalty: 1.2 }), recent: [vocab], step: 0 };
    expect(() => sampler.encode(pass, buf, [badToken])).toThrow(/not a token id/);
    expect(() => sampler.encode(pass, buf, [{ ...requests[0]!, params: { ...GREEDY, topP: 2 } }])).toThrow(/topP/);
    buf.destroy();
    sampler.destroy();
  });
});
