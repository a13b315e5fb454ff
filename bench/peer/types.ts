// One interface for every engine the peer bench times, so each figure is taken the same way on each.

/** A model loaded by one engine with a fixed context size, ready to be timed. */
export interface LoadedModel {
  /** Milliseconds to run `prompt` through the model and sample one token greedily (a fresh sequence). */
  prefillMs(prompt: readonly number[]): Promise<number>;
  /**
   * `steps` greedy tokens after `prompt` on a fresh sequence: the time to the first token (the prompt's prefill)
   * and the median milliseconds per decode step after it.
   */
  decode(prompt: readonly number[], steps: number): Promise<DecodeTiming>;
  /** Greedy tokens after `prompt`, at most `maxNew`, ending at a token of `stop` (included). */
  greedy(prompt: readonly number[], maxNew: number, stop: ReadonlySet<number>): Promise<number[]>;
  dispose(): Promise<void>;
}

export interface DecodeTiming {
  readonly prefillMs: number;
  readonly stepMs: number;
}

/** Timing of one generation from its start and its token arrival times. */
export function decodeTiming(start: number, arrivals: readonly number[]): DecodeTiming {
  if (arrivals.length < 2) throw new RangeError('a decode timing needs at least two tokens');
  return { prefillMs: arrivals[0]! - start, stepMs: median(stepTimes(arrivals)) };
}

export interface BenchEngine {
  /** Short label: `ours`, `llama.cpp-vulkan`, `llama.cpp-cpu`. */
  readonly name: string;
  load(path: string, contextSize: number): Promise<LoadedModel>;
  close(): Promise<void>;
}

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) throw new RangeError('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Step times from token arrival times: the gaps between consecutive tokens (the first token ends the prefill). */
export function stepTimes(arrivals: readonly number[]): number[] {
  return arrivals.slice(1).map((t, i) => t - arrivals[i]!);
}

/** Length of the common prefix of two token lists. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** `n` prompt tokens spread over the vocabulary, skipping ids 0..2 (unknown, BOS, EOS); BOS first. */
export function benchPrompt(n: number, vocab: number, bos = 1): number[] {
  return [bos, ...Array.from({ length: n - 1 }, (_, i) => 3 + ((i * 7919 + 17) % (vocab - 3)))];
}
