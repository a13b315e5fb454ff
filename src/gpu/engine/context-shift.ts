// The context shift's arithmetic, with no GPU and no engine state: when a sequence outgrows the context, which
// tokens stay, which are dropped, which K/V blocks remain valid and what must be recomputed.
//
//   tokens:  [ head (keepTokens) | dropped (oldest after the head) | kept tail ]
//   K/V:     [ valid: the head's full blocks, positions unchanged ][ recomputed: the rest of head + tail ]
//
// Only K/V wholly inside the head keeps its positions; every later kept token moves, so it is computed again.
import { KV_BLOCK_TOKENS } from '../kv/layout';

/**
 * What happens when a sequence reaches the model's context length (as LM Studio offers). `truncate-middle` keeps
 * the first `keepTokens` (the system prompt) and drops the oldest tokens after them; `rolling-window` keeps only
 * the latest tokens (and the first `keepTokens`, e.g. BOS). Both free half of what is not kept, reuse every block
 * still valid (those wholly inside the kept head) and recompute the rest.
 */
export type ContextPolicy = { readonly kind: 'stop' } | { readonly kind: 'truncate-middle'; readonly keepTokens: number } | { readonly kind: 'rolling-window'; readonly keepTokens?: number };

export type ShiftingPolicy = Exclude<ContextPolicy, { kind: 'stop' }>;

export interface ContextShift {
  readonly policy: ContextPolicy['kind'];
  /** Tokens removed from the sequence, after the first `keptHead`. */
  readonly droppedTokens: number;
  readonly keptHead: number;
  /** Tokens whose K/V was recomputed because their positions moved. */
  readonly recomputedTokens: number;
}

/** A shift decided for a sequence of `computed` tokens in the pool followed by pending ones. */
export interface ContextShiftPlan extends ContextShift {
  /** Leading tokens whose K/V stays in the pool (the head's full blocks, at most what was computed). */
  readonly validTokens: number;
  /** Tokens of the sequence after the shift: the head, then the tail after the dropped ones. */
  readonly keptTokens: number;
}

/**
 * Plans the shift of a sequence of `length` tokens (computed + pending) whose first `computed` have K/V in the
 * pool. Half of the context after the head is freed (llama.cpp's context shift), more if the input alone needs it.
 */
export function planContextShift(policy: ShiftingPolicy, length: number, computed: number, contextLength: number): ContextShiftPlan {
  const keptHead = Math.min(policy.keepTokens ?? 0, length);
  const rest = length - keptHead;
  const room = Math.floor((contextLength - keptHead) / 2);
  const droppedTokens = Math.max(Math.min(rest, rest - room), length - contextLength);
  const keptTokens = length - droppedTokens;
  const validTokens = Math.min(Math.floor(keptHead / KV_BLOCK_TOKENS) * KV_BLOCK_TOKENS, computed);
  return { policy: policy.kind, keptHead, droppedTokens, validTokens, keptTokens, recomputedTokens: keptTokens - validTokens };
}

/** The sequence's tokens after the shift (length `plan.keptTokens`). */
export function shiftedTokens(all: readonly number[], plan: ContextShiftPlan): number[] {
  return [...all.slice(0, plan.keptHead), ...all.slice(plan.keptHead + plan.droppedTokens)];
}

/** The report of a shift, without the plan's bookkeeping (what `GenerateResult.contextShifts` lists). */
export function shiftReport(plan: ContextShiftPlan): ContextShift {
  return { policy: plan.policy, droppedTokens: plan.droppedTokens, keptHead: plan.keptHead, recomputedTokens: plan.recomputedTokens };
}
