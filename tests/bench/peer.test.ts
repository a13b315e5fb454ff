// The peer bench's pure helpers: how step times, medians, prompts and greedy agreement are computed.
import { describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { archTensorType } from '../../bench/synthetic-arch';
import { kernelName } from '../../bench/peer/profile';
import { choosePlan, FULL_PLAN, QUICK_PLAN } from '../../bench/peer/run';
import { benchPrompt, commonPrefix, decodeTiming, median, stepTimes } from '../../bench/peer/types';

describe('peer bench helpers', () => {
  it('takes the median of odd and even counts and refuses none', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('times decode steps as gaps between token arrivals, leaving out the prefill', () => {
    expect(stepTimes([100, 110, 125, 130])).toEqual([10, 15, 5]);
    expect(stepTimes([100])).toEqual([]);
  });

  it('splits a generation into prefill (time to first token) and the median decode step', () => {
    expect(decodeTiming(1000, [1500, 1510, 1530, 1540])).toEqual({ prefillMs: 500, stepMs: 10 });
    expect(() => decodeTiming(0, [5])).toThrow(RangeError);
  });

  it('names kernels from their pipeline cache keys', () => {
    expect(kernelName('accumulate=true;bias=false;family=matmul;tTile=8;tpr=2;wtype=8')).toBe('matmul Q8_0 t8 +residual');
    expect(kernelName('dtype=f16;family=attention;group=2;headDim=64;keyTile=16;variant=flash-decode')).toBe('attention flash-decode hd64');
    expect(kernelName('family=elementwise;op=swiglu')).toBe('elementwise swiglu');
    expect(kernelName('bench-copy')).toBe('bench-copy');
  });

  it('narrows a plan with --shape and --quant (a full run in pieces) and refuses unknown names', () => {
    expect(choosePlan(['--quick'])).toEqual(QUICK_PLAN);
    expect(choosePlan([])).toEqual(FULL_PLAN);
    const part = choosePlan(['--shape', '135M', '--quant', 'Q8_0,Q4_K']);
    expect(part.shapes.map((s) => s.name)).toEqual(['synthetic-135M']);
    expect(part.quants.map((q) => ggmlTypeName(q))).toEqual(['Q8_0', 'Q4_K']);
    expect(part.prefillTokens).toBe(FULL_PLAN.prefillTokens);
    expect(() => choosePlan(['--shape', '7B'])).toThrow(/--shape 7B/);
    expect(() => choosePlan(['--quant', 'Q2_K'])).toThrow(/--quant Q2_K/);
  });

  it('narrows to architecture shapes alone, or Llama shapes alone, by the names --shape lists', () => {
    const arch = choosePlan(['--quick', '--shape', 'qwen3moe-quick', '--quant', 'Q4_K']);
    expect(arch.shapes).toEqual([]);
    expect(arch.archShapes.map((s) => s.arch)).toEqual(['qwen3moe']);
    expect(arch.archQuants.map((q) => ggmlTypeName(q))).toEqual(['Q4_K']);
    expect(choosePlan(['--shape', 'tiny']).archShapes).toEqual([]);
    expect(QUICK_PLAN.archShapes.map((s) => s.arch)).toEqual(['gemma3', 'qwen3moe']);
  });

  it('quantizes architecture models as llama-quantize --pure: vectors and the router F32, narrow rows to the fallback', () => {
    expect(archTensorType({ name: 'blk.0.attn_norm.weight', dims: [640] }, GgmlType.Q4_K)).toBe(GgmlType.F32);
    expect(archTensorType({ name: 'blk.0.ffn_gate_inp.weight', dims: [512, 128] }, GgmlType.Q8_0)).toBe(GgmlType.F32);
    expect(archTensorType({ name: 'blk.0.ffn_down_exps.weight', dims: [256, 512, 128] }, GgmlType.Q4_K)).toBe(GgmlType.Q4_K);
    expect(archTensorType({ name: 'blk.0.attn_q.weight', dims: [640, 1024] }, GgmlType.Q4_K)).toBe(GgmlType.Q5_0);
    expect(archTensorType({ name: 'blk.0.attn_q.weight', dims: [640, 1024] }, GgmlType.Q8_0)).toBe(GgmlType.Q8_0);
  });

  it('counts the agreeing prefix of two generations', () => {
    expect(commonPrefix([1, 2, 3], [1, 2, 3])).toBe(3);
    expect(commonPrefix([1, 2, 3], [1, 9, 3])).toBe(1);
    expect(commonPrefix([1, 2], [1, 2, 3])).toBe(2);
    expect(commonPrefix([], [1])).toBe(0);
  });

  it('builds prompts of the asked length: BOS, then ordinary tokens only', () => {
    const p = benchPrompt(512, 32000);
    expect(p).toHaveLength(512);
    expect(p[0]).toBe(1);
    expect(p.slice(1).every((t) => t >= 3 && t < 32000 && Number.isInteger(t))).toBe(true);
    expect(new Set(p).size).toBeGreaterThan(500);
  });
});
