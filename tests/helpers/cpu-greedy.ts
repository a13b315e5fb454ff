// The CPU-reference greedy loop the llama.cpp fixture tests compare against, and their logits distance.
import { argmax } from './shared';

/** Any CPU reference: the logits after `token` at `pos`. */
export interface CpuForward {
  forward(token: number, pos: number): Float32Array;
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Greedy tokens until `positions` positions, and the logits after the prompt. */
export function cpuGreedyTo(model: CpuForward, prompt: readonly number[], positions: number): { tokens: number[]; first: Float32Array } {
  let logits: Float32Array = new Float32Array(0);
  prompt.forEach((t, pos) => (logits = model.forward(t, pos)));
  const first = logits.slice();
  const tokens: number[] = [];
  for (let pos = prompt.length; pos < positions; pos++) {
    tokens.push(argmax(logits));
    if (pos + 1 < positions) logits = model.forward(tokens.at(-1)!, pos);
  }
  return { tokens, first };
}
