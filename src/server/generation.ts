// One admitted request's generation on the shared engine: a sequence of its own (released after, whatever happens),
// tokens decoded to text as they come, the model's reasoning split from its answer (reasoning.ts), and the answer
// checked against the stop strings. The streaming and the non-streaming response are built from the same text
// pieces, so they always agree.
import type { GenerateOptions, GenerateResult, StopReason } from '../gpu/engine/engine';
import type { SamplingParams } from '../gpu/engine/sampling-params';
import { continuesPrompt, type Tokenizer } from '../gpu/tokenizer';
import { ReasoningDecoder, type ReasoningDelta, type ReasoningFormat } from '../gpu/tokenizer/reasoning';
import { StopStringMatcher } from './stop-strings';

export interface GenerationJob {
  readonly prompt: readonly number[];
  readonly maxNewTokens: number;
  readonly sampling: Partial<SamplingParams>;
  readonly stop: readonly string[];
  /** Aborted when the client goes away or the server shuts down. */
  readonly signal: AbortSignal;
  /** Each piece of output text as soon as it is certain (not part of a possible stop string). */
  readonly onText?: (text: string) => void;
  /** How the model's reasoning is told from its answer (chat only); default none: all text is answer. */
  readonly reasoning?: ReasoningSetup;
  /** Each piece of reasoning as soon as it is certain; stop strings never apply to it. */
  readonly onReasoning?: (text: string) => void;
}

export interface ReasoningSetup {
  readonly format: ReasoningFormat;
  /** The prompt ended inside an open `<think>`. */
  readonly startsInReasoning: boolean;
}

export type FinishReason = 'stop' | 'length';

export interface GenerationOutcome {
  /** The answer (reasoning left out). */
  readonly text: string;
  /** The model's reasoning, '' when it gave none. */
  readonly reasoning: string;
  /** undefined: the job's signal aborted it (nobody is left to answer). */
  readonly finishReason: FinishReason | undefined;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
}

/** What the server uses of an engine: a real Engine, or main's bridge to the engine in the app's renderer. */
export interface ServerEngine {
  readonly config: { readonly contextLength: number };
  readonly pool: { readonly blocks: number };
  createSequence(): number;
  releaseSequence(seq: number): void;
  generate(seq: number, tokens: readonly number[], opts: GenerateOptions): Promise<Pick<GenerateResult, 'tokens' | 'stopReason' | 'cachedTokens'>>;
}

export interface GenerationContext {
  readonly engine: ServerEngine;
  readonly tokenizer: Tokenizer;
}

/**
 * Turns sampled tokens into output text: reasoning split from the answer, the answer checked against the stop
 * strings, ending the generation through `stopNow` when one shows up.
 */
class OutputText {
  private readonly decoder: ReasoningDecoder;
  private readonly matcher: StopStringMatcher;
  private readonly pieces: string[] = [];
  private readonly reasoningPieces: string[] = [];

  constructor(
    private readonly tokenizer: Tokenizer,
    continuation: boolean,
    private readonly job: Pick<GenerationJob, 'stop' | 'onText' | 'onReasoning' | 'reasoning'>,
    private readonly stopNow: () => void,
  ) {
    // The output continues the prompt: the first token keeps its leading space, as the CLI prints it (unless the
    // prompt is BOS alone: then the text starts there, without one).
    this.decoder = new ReasoningDecoder(tokenizer, job.reasoning?.format ?? 'none', { continuation, startsInReasoning: job.reasoning?.startsInReasoning ?? false });
    this.matcher = new StopStringMatcher(job.stop);
  }

  get reasoning(): string {
    return this.reasoningPieces.join('');
  }

  get stoppedByString(): boolean {
    return this.matcher.stopped;
  }

  get text(): string {
    return this.pieces.join('');
  }

  token(id: number): void {
    if (this.matcher.stopped || this.tokenizer.endOfGeneration.has(id)) return;
    this.route(this.decoder.push(id));
  }

  /** Generation is over: a character left unfinished and text held back for a marker or a stop string come out now. */
  end(): void {
    if (this.matcher.stopped) return;
    this.route(this.decoder.flush());
    if (this.matcher.stopped) return;
    this.emit(this.matcher.flush());
  }

  private route(d: ReasoningDelta): void {
    if (d.reasoning.length > 0) {
      this.reasoningPieces.push(d.reasoning);
      this.job.onReasoning?.(d.reasoning);
    }
    if (d.content.length === 0) return;
    const { text, stopped } = this.matcher.push(d.content);
    this.emit(text);
    if (stopped) this.stopNow();
  }

  private emit(text: string): void {
    if (text.length === 0) return;
    this.pieces.push(text);
    this.job.onText?.(text);
  }
}

function finishReasonOf(stopReason: StopReason, stoppedByString: boolean): FinishReason | undefined {
  if (stoppedByString || stopReason === 'eos') return 'stop';
  if (stopReason === 'max-tokens' || stopReason === 'context') return 'length';
  return undefined;
}

/** Runs a job that holds its KV admission (the caller acquired and releases it). */
export async function runGeneration(ctx: GenerationContext, job: GenerationJob): Promise<GenerationOutcome> {
  // One signal for the engine: the client's, or ours once a stop string has been found.
  const stop = new AbortController();
  const onClientAbort = (): void => stop.abort(job.signal.reason);
  job.signal.addEventListener('abort', onClientAbort, { once: true });
  if (job.signal.aborted) onClientAbort();
  const seq = ctx.engine.createSequence();
  let callbackError: unknown;
  const output = new OutputText(ctx.tokenizer, continuesPrompt(job.prompt, ctx.tokenizer.bos), job, () => stop.abort());
  try {
    const result = await ctx.engine.generate(seq, job.prompt, {
      maxNewTokens: job.maxNewTokens,
      sampling: job.sampling,
      stopTokens: ctx.tokenizer.endOfGeneration,
      signal: stop.signal,
      // Runs inside the engine's step: a throw here would fail every request in the batch, so it ends only this one.
      onToken: (t) => {
        try {
          output.token(t);
        } catch (e) {
          callbackError ??= e;
          stop.abort(e);
        }
      },
    });
    if (callbackError !== undefined) throw callbackError;
    const finishReason = finishReasonOf(result.stopReason, output.stoppedByString);
    if (finishReason !== undefined) output.end();
    return { text: output.text, reasoning: output.reasoning, finishReason, promptTokens: job.prompt.length, completionTokens: result.tokens.length, cachedTokens: result.cachedTokens };
  } finally {
    job.signal.removeEventListener('abort', onClientAbort);
    ctx.engine.releaseSequence(seq);
  }
}
