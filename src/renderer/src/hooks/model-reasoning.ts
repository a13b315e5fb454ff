// What the loaded model's template says about reasoning, as the engine worker last reported it: whether a chat may
// switch thinking off (Qwen3's enable_thinking) or choose a reasoning effort (gpt-oss's reasoning_effort). A tiny external store, so a panel opened after the model loaded
// still knows (useAnswer, mounted with the app, hears every 'loaded' event and sets it).
import { useSyncExternalStore } from 'react';
import type { ReasoningFormat } from '../../../gpu/tokenizer/reasoning';

export interface ModelReasoning {
  readonly format: ReasoningFormat;
  /** The template takes `enable_thinking`. */
  readonly thinkingSwitch: boolean;
  /** The template reads `reasoning_effort` (low, medium, high). */
  readonly reasoningEffort: boolean;
}

const NONE: ModelReasoning = { format: 'none', thinkingSwitch: false, reasoningEffort: false };
let current: ModelReasoning = NONE;
const listeners = new Set<() => void>();

export function setModelReasoning(next: ModelReasoning): void {
  if (next.format === current.format && next.thinkingSwitch === current.thinkingSwitch && next.reasoningEffort === current.reasoningEffort) return;
  current = next;
  for (const l of listeners) l();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The model's reasoning as the worker's 'loaded' event reports it. The event does not say yet whether the template
 * reads reasoning_effort (hasReasoningEffort in the worker would): harmony's templates (gpt-oss) are the ones that
 * do, so the harmony format stands for it until the event carries its own flag.
 */
export function modelReasoningOf(e: { readonly reasoningFormat?: ReasoningFormat; readonly thinkingSwitch?: boolean; readonly reasoningEffort?: boolean }): ModelReasoning {
  const format = e.reasoningFormat ?? 'none';
  return { format, thinkingSwitch: e.thinkingSwitch ?? false, reasoningEffort: e.reasoningEffort ?? format === 'harmony' };
}

export function useModelReasoning(): ModelReasoning {
  return useSyncExternalStore(subscribe, () => current);
}
