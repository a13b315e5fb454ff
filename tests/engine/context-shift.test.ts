// The context shift's arithmetic with no GPU: what stays, what is dropped, which K/V stays valid and what is
// recomputed; equal to what the engine computed inline before it had its own module, and to the cases of
// kv-sharing.gpu.test.ts (a 64-token context).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planContextShift, shiftedTokens, shiftReport, type ShiftingPolicy } from '../../src/gpu/engine/context-shift';
import { KV_BLOCK_TOKENS } from '../../src/gpu/kv/layout';

/** The engine's shiftContext before the extraction, on plain arrays: the new computed count and pending tokens. */
function previousEngineShift(tokens: readonly number[], pending: readonly number[], computed: number, contextLength: number, keepTokens: number) {
  const all = [...tokens, ...pending];
  const keep = Math.min(keepTokens, all.length);
  const rest = all.length - keep;
  const room = Math.floor((contextLength - keep) / 2);
  const drop = Math.max(Math.min(rest, rest - room), all.length - contextLength);
  const kept = [...all.slice(0, keep), ...all.slice(keep + drop)];
  const valid = Math.min(Math.floor(keep / KV_BLOCK_TOKENS) * KV_BLOCK_TOKENS, computed);
  return { computed: valid, pending: kept.slice(valid), droppedTokens: drop, keptHead: keep, recomputedTokens: kept.length - valid };
}

describe('context shift', () => {
  it('truncate-middle at a 64-token context with 17 kept: the head and half the rest stay, the head block is valid', () => {
    // After a decode step: 64 positions computed, the sampled token pending.
    const plan = planContextShift({ kind: 'truncate-middle', keepTokens: 17 }, 65, 64, 64);
    expect(plan).toEqual({ policy: 'truncate-middle', keptHead: 17, droppedTokens: 25, keptTokens: 40, validTokens: 16, recomputedTokens: 24 });
    expect(plan.recomputedTokens).toBeLessThan(64 - 16);
  });

  it('rolling-window on a new sequence whose prompt is longer than the context keeps BOS and the latest tokens', () => {
    const length = 81; // a 17-token prompt and four copies of its tail
    const plan = planContextShift({ kind: 'rolling-window', keepTokens: 1 }, length, 0, 64);
    expect(plan).toEqual({ policy: 'rolling-window', keptHead: 1, droppedTokens: 49, keptTokens: 32, validTokens: 0, recomputedTokens: 32 });
    expect(plan.droppedTokens).toBeGreaterThanOrEqual(length - 64);
    const all = Array.from({ length }, (_, i) => i);
    expect(shiftedTokens(all, plan)).toEqual([0, ...all.slice(50)]);
    expect(shiftReport(plan)).toEqual({ policy: 'rolling-window', droppedTokens: 49, keptHead: 1, recomputedTokens: 32 });
  });

  it('rolling-window keeps no head by default', () => {
    expect(planContextShift({ kind: 'rolling-window' }, 65, 64, 64)).toMatchObject({ keptHead: 0, droppedTokens: 33, keptTokens: 32, validTokens: 0 });
  });

  it('equals the engine\'s previous inline arithmetic, and keeps its invariants', () => {
    const policy: fc.Arbitrary<ShiftingPolicy> = fc.oneof(
      fc.record({ kind: fc.constant('truncate-middle' as const), keepTokens: fc.integer({ min: 0, max: 200 }) }),
      fc.record({ kind: fc.constant('rolling-window' as const), keepTokens: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }) }),
    );
    const input = fc
      .record({ contextBlocks: fc.integer({ min: 2, max: 24 }), policy, over: fc.integer({ min: 1, max: 300 }), pending: fc.integer({ min: 1, max: 300 }) })
      .map(({ contextBlocks, policy: p, over, pending }) => {
        const contextLength = contextBlocks * KV_BLOCK_TOKENS;
        // keepTokens is below half the context (generate() refuses more).
        const keep = Math.min(p.keepTokens ?? 0, contextLength / 2 - 1);
        const shifted: ShiftingPolicy = p.kind === 'truncate-middle' ? { kind: p.kind, keepTokens: keep } : p.keepTokens === undefined ? p : { kind: p.kind, keepTokens: keep };
        const length = contextLength + over;
        return { contextLength, policy: shifted, length, computed: Math.max(0, length - pending) };
      });
    fc.assert(
      fc.property(input, ({ contextLength, policy, length, computed }) => {
        const all = Array.from({ length }, (_, i) => 1000 + i);
        const plan = planContextShift(policy, length, computed, contextLength);
        const before = previousEngineShift(all.slice(0, computed), all.slice(computed), computed, contextLength, policy.keepTokens ?? 0);
        const kept = shiftedTokens(all, plan);
        expect({ computed: plan.validTokens, pending: kept.slice(plan.validTokens), droppedTokens: plan.droppedTokens, keptHead: plan.keptHead, recomputedTokens: plan.recomputedTokens }).toEqual(before);
        // What stays fits the context, starts with the head and ends with the latest tokens.
        expect(kept.length).toBe(plan.keptTokens);
        expect(plan.keptTokens).toBeLessThanOrEqual(contextLength);
        expect(plan.droppedTokens).toBeGreaterThanOrEqual(1);
        expect(kept.slice(0, plan.keptHead)).toEqual(all.slice(0, plan.keptHead));
        expect(kept.slice(plan.keptHead)).toEqual(all.slice(length - (plan.keptTokens - plan.keptHead)));
        // Valid K/V: computed, inside the head, whole blocks unless the head's blocks were not all computed yet.
        expect(plan.validTokens).toBeLessThanOrEqual(Math.min(computed, plan.keptHead));
        if (plan.validTokens < computed) expect(plan.validTokens % KV_BLOCK_TOKENS).toBe(0);
        expect(plan.recomputedTokens).toBe(plan.keptTokens - plan.validTokens);
      }),
      { numRuns: 500, seed: 20261122 },
    );
  });
});
