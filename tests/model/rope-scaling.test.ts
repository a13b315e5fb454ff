// RoPE scalings read as llama.cpp reads them, and the angles they give, against values worked out from ggml's
// formulas (ggml_rope_yarn_corr_dims, rope_yarn, llama-context.cpp's yarn_attn_factor).
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../src/gpu/gguf/errors';
import type { GgufValue } from '../../src/gpu/gguf/types';
import { readRopeScaling, ropeCosSin, ropeFactorTensor, usesLongRopeFactors, yarnRamp, type RopeAngleConfig } from '../../src/gpu/model/rope-scaling';

const meta = (entries: Record<string, GgufValue>): Map<string, GgufValue> => new Map(Object.entries(entries));
const shape = { ropeDim: 128, ropeBase: 10000, contextLength: 131072, longRope: false };

describe('readRopeScaling', () => {
  it('none, absent or factor 1: no scaling', () => {
    expect(readRopeScaling(meta({}), 'llama', shape)).toEqual({ ropeLinearScale: 1 });
    expect(readRopeScaling(meta({ 'llama.rope.scaling.type': 'none', 'llama.rope.scaling.factor': 8 }), 'llama', shape)).toEqual({ ropeLinearScale: 1 });
  });

  it('linear (llama.cpp\'s default type when only a factor is given)', () => {
    expect(readRopeScaling(meta({ 'llama.rope.scaling.factor': 4 }), 'llama', shape)).toEqual({ ropeLinearScale: 4 });
    expect(readRopeScaling(meta({ 'llama.rope.scale_linear': 2 }), 'llama', shape)).toEqual({ ropeLinearScale: 2 });
  });

  it('YaRN as Qwen2.5 long-context uploads write it: factor 4 over 32768, head dim 128, base 1e6', () => {
    const r = readRopeScaling(
      meta({ 'qwen2.rope.scaling.type': 'yarn', 'qwen2.rope.scaling.factor': 4, 'qwen2.rope.scaling.original_context_length': 32768 }),
      'qwen2',
      { ...shape, ropeBase: 1e6 },
    );
    // corr_dim(b) = 128 ln(32768 / (2 pi b)) / (2 ln 1e6): b = 32 -> 23.60, b = 1 -> 39.65; floor / ceil.
    expect(r).toEqual({ ropeLinearScale: 1, ropeScaling: { freqScale: 0.25, yarn: { low: 23, high: 40 }, attnFactor: expect.closeTo(1 + 0.1 * Math.log(4), 12) as number } });
  });

  it('YaRN ramp bounds (gpt-oss: head dim 64, 4096, base 150000 -> 8.09, 17.40), clamped to [0, ropeDim - 1]', () => {
    expect(yarnRamp(64, 4096, 150000)).toEqual({ low: 8, high: 18 });
    expect(yarnRamp(16, 100, 10000).low).toBe(0);
    expect(yarnRamp(16, 1e12, 10).high).toBe(15);
  });

  it('rope.scaling.attn_factor multiplies (LongRoPE files carry it)', () => {
    const r = readRopeScaling(meta({ 'phi3.rope.scaling.attn_factor': 1.19, 'phi3.rope.scaling.original_context_length': 4096 }), 'phi3', { ...shape, longRope: true });
    expect(r).toEqual({ ropeLinearScale: 1, ropeScaling: { freqScale: 1, attnFactor: 1.19, longRopeOriginalContext: 4096 } });
  });

  it('refuses a scaling it does not compute, naming it', () => {
    for (const type of ['dynamic', 'longrope']) {
      expect(() => readRopeScaling(meta({ 'llama.rope.scaling.type': type, 'llama.rope.scaling.factor': 4 }), 'llama', shape)).toThrow(GgufError);
      expect(() => readRopeScaling(meta({ 'llama.rope.scaling.type': type, 'llama.rope.scaling.factor': 4 }), 'llama', shape)).toThrow(type);
    }
    expect(() => readRopeScaling(meta({ 'llama.rope.scaling.factor': -2 }), 'llama', shape)).toThrow('not a positive number');
  });
});

describe('LongRoPE factor choice (llama_model::get_rope_factors: long when n_ctx > original context)', () => {
  const scaling = { freqScale: 1, attnFactor: 1, longRopeOriginalContext: 4096 };
  it('at or under the original context: short factors; past it: long ones', () => {
    expect(ropeFactorTensor({ contextLength: 4096, hasRopeFreqs: false, ropeScaling: scaling })).toBe('rope_factors_short.weight');
    expect(ropeFactorTensor({ contextLength: 4097, hasRopeFreqs: false, ropeScaling: scaling })).toBe('rope_factors_long.weight');
    expect(usesLongRopeFactors({ contextLength: 4097, ropeScaling: scaling })).toBe(true);
    expect(ropeFactorTensor({ contextLength: 4097, hasRopeFreqs: true })).toBe('rope_freqs.weight');
    expect(ropeFactorTensor({ contextLength: 4097, hasRopeFreqs: false })).toBeUndefined();
  });
});

describe('ropeCosSin', () => {
  const out = new Float64Array(2);
  const angle = (c: RopeAngleConfig, pos: number, i: number, f?: Float32Array): number => {
    ropeCosSin(c, f, pos, i, out);
    return Math.atan2(out[1]!, out[0]!);
  };
  const plain: RopeAngleConfig = { ropeBase: 10000, ropeDim: 16, ropeLinearScale: 1 };

  it('plain, linear and frequency factors', () => {
    expect(angle(plain, 3, 1)).toBeCloseTo(3 * 10000 ** (-2 / 16), 12);
    expect(angle({ ...plain, ropeLinearScale: 2 }, 3, 1)).toBeCloseTo(1.5 * 10000 ** (-2 / 16), 12);
    expect(angle(plain, 3, 1, Float32Array.of(1, 4))).toBeCloseTo((3 * 10000 ** (-2 / 16)) / 4, 12);
  });

  it('YaRN: extrapolated below the ramp, interpolated above it, mixed on it; cos and sin scaled by attnFactor', () => {
    const yarn: RopeAngleConfig = { ...plain, ropeScaling: { freqScale: 0.25, yarn: { low: 2, high: 6 }, attnFactor: 1.5 } };
    const base = (i: number): number => 0.5 * 10000 ** ((-2 * i) / 16);
    expect(angle(yarn, 0.5, 1)).toBeCloseTo(base(1), 12);
    expect(angle(yarn, 0.5, 7)).toBeCloseTo(0.25 * base(7), 12);
    // i = 3: y = (3 - 2) / 4, ramp 0.75: theta = 0.25 theta * 0.25 + theta * 0.75.
    expect(angle(yarn, 0.5, 3)).toBeCloseTo(base(3) * (0.25 * 0.25 + 0.75), 12);
    ropeCosSin(yarn, undefined, 0, 0, out);
    expect([...out]).toEqual([1.5, 0]);
  });
});
