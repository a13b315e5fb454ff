// How the next token is chosen from a row of logits. One type for the CPU reference sampler and the GPU kernel.

export interface SamplingParams {
  /** Divides the logits before the softmax; 0 means greedy (argmax, lowest token id on ties). */
  readonly temperature: number;
  /** Keep the k most likely tokens (ties with the k-th are kept too); 0 disables. */
  readonly topK: number;
  /** Keep the smallest set of most likely tokens whose probability mass reaches topP, in (0, 1]; 1 disables. */
  readonly topP: number;
  /** Keep tokens whose probability is at least minP times the largest probability, in [0, 1]; 0 disables. */
  readonly minP: number;
  /** llama.cpp's rule on each distinct recent token: logit > 0 → logit / penalty, else logit * penalty; 1 disables. */
  readonly repetitionPenalty: number;
  /** How many of the most recent tokens the penalty looks at (tokens, 0..MAX_REPETITION_WINDOW). */
  readonly repetitionWindow: number;
  /** With the decode step, the only source of randomness: same (seed, step, logits) → same token. u32. */
  readonly seed: number;
}

/** The GPU kernel keeps the window in workgroup memory; llama.cpp's default window is 64. */
export const MAX_REPETITION_WINDOW = 256;

export const GREEDY: Readonly<SamplingParams> = Object.freeze({
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  repetitionWindow: 64,
  seed: 0,
});

/** A sampling parameter out of range; `param` names it, so each front end can say it in its own words. */
export class SamplingParamError extends RangeError {
  constructor(
    readonly param: keyof SamplingParams,
    readonly rule: string,
    readonly value: number,
  ) {
    super(`sampling parameter ${param} must be ${rule}, got ${String(value)}`);
    this.name = 'SamplingParamError';
  }
}

function check(ok: boolean, name: keyof SamplingParams, rule: string, value: number): void {
  if (!ok) throw new SamplingParamError(name, rule, value);
}

/** Any integer seed a user gives (64-bit, negative) folded into the sampler's u32. */
export const foldSeed = (seed: number): number => ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32;

/**
 * What users mean by top-p 0 (llama.cpp's and OpenAI's reading): keep only the likeliest token, i.e. greedy.
 * Every front end applies it, so `--top-p 0` and `top_p: 0` mean the same thing.
 */
export function topPZeroAsGreedy(p: Partial<SamplingParams>): Partial<SamplingParams> {
  return p.topP === 0 ? { ...p, temperature: 0, topP: 1 } : p;
}

/** GREEDY overlaid with `partial`, validated: throws a RangeError naming the first parameter out of range. */
export function normalizeSamplingParams(partial: Partial<SamplingParams> = {}): SamplingParams {
  const p: SamplingParams = { ...GREEDY, ...partial };
  const isInt = Number.isInteger;
  check(Number.isFinite(p.temperature) && p.temperature >= 0, 'temperature', 'a finite number >= 0 (0 = greedy)', p.temperature);
  check(isInt(p.topK) && p.topK >= 0, 'topK', 'an integer >= 0 (0 = disabled)', p.topK);
  check(p.topP > 0 && p.topP <= 1, 'topP', 'in (0, 1] (1 = disabled)', p.topP);
  check(p.minP >= 0 && p.minP <= 1, 'minP', 'in [0, 1] (0 = disabled)', p.minP);
  check(Number.isFinite(p.repetitionPenalty) && p.repetitionPenalty > 0, 'repetitionPenalty', 'a finite number > 0 (1 = disabled)', p.repetitionPenalty);
  check(isInt(p.repetitionWindow) && p.repetitionWindow >= 0 && p.repetitionWindow <= MAX_REPETITION_WINDOW, 'repetitionWindow', `an integer in [0, ${MAX_REPETITION_WINDOW}]`, p.repetitionWindow);
  check(isInt(p.seed) && p.seed >= 0 && p.seed <= 0xffffffff, 'seed', 'an integer in [0, 2^32)', p.seed);
  return p;
}
