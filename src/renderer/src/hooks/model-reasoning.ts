// What the loaded model's template says about reasoning, as the engine worker last reported it: whether a chat may
// switch thinking off (Qwen3's enable_thinking). A tiny external store, so a panel opened after the model loaded
// still knows (useAnswer, mounted with the app, hears every 'loaded' event and sets it).
import { useSyncExternalStore } from 'react';
import type { ReasoningFormat } from '../../../gpu/tokenizer/reasoning';

export interface ModelReasoning {
  readonly format: ReasoningFormat;
  /** The template takes `enable_thinking`. */
  readonly thinkingSwitch: boolean;
}

const NONE: ModelReasoning = { format: 'none', thinkingSwitch: false };
let current: ModelReasoning = NONE;
const listeners = new Set<() => void>();

export function setModelReasoning(next: ModelReasoning): void {
  if (next.format === current.format && next.thinkingSwitch === current.thinkingSwitch) return;
  current = next;
  for (const l of listeners) l();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useModelReasoning(): ModelReasoning {
  return useSyncExternalStore(subscribe, () => current);
}
