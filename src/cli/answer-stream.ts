// generate's answer as its tokens come. A chat answer (--chat) is split into reasoning and answer by the markup
// of the model's template (reasoning.ts: the splitter the server and the app's worker use): the answer goes to
// stdout, the reasoning to stderr under a "Thinking:" header, so `generate --chat … > answer.txt` keeps only the
// answer while a terminal shows both. Raw text (no --chat) is one continuation and is never split.
import type { Metadata } from '../gpu/gguf/metadata';
import type { Tokenizer } from '../gpu/tokenizer';
import { promptEndsInThinking, ReasoningDecoder, reasoningFormatOf, type ReasoningDelta, type ReasoningFormat } from '../gpu/tokenizer/reasoning';

/** Where text is printed (process.stdout / process.stderr, or a test's buffer). */
export interface TextSink {
  write(text: string): unknown;
}

export interface AnswerStreamOptions {
  /** The answer continues text of the prompt (see continuesPrompt): its first token keeps its leading space. */
  readonly continuation: boolean;
  /** The prompt is a chat rendered by the model's template: split reasoning from the answer by its markup. */
  readonly chat: boolean;
  /** The answer's text, as it streams; absent: nothing is printed (--json prints at the end). */
  readonly out?: TextSink;
  /** The reasoning's text, under its header. */
  readonly err?: TextSink;
}

export const THINKING_HEADER = 'Thinking:\n';

export class AnswerStream {
  /** Which markup the answer is split by ('none': raw text, or a template without reasoning). */
  readonly format: ReasoningFormat;
  private readonly decoder: ReasoningDecoder;
  private content = '';
  private reasoning = '';
  /** The reasoning's header is printed and its text not yet closed by a blank line. */
  private thinkingOpen = false;
  private ended: ReasoningDelta | undefined;

  constructor(
    private readonly tokenizer: Tokenizer,
    metadata: Metadata,
    prompt: readonly number[],
    private readonly opts: AnswerStreamOptions,
  ) {
    this.format = opts.chat ? reasoningFormatOf(metadata) : 'none';
    const startsInReasoning = this.format === 'think' && promptEndsInThinking(tokenizer, prompt);
    this.decoder = new ReasoningDecoder(tokenizer, this.format, { continuation: opts.continuation, startsInReasoning });
  }

  /** One sampled token; an end-of-generation token is no text (harmony's `<|return|>` would be, decoded raw). */
  token(id: number): void {
    if (this.ended || this.tokenizer.endOfGeneration.has(id)) return;
    this.route(this.decoder.push(id));
  }

  /** The answer is over: held-back text comes out. Returns the whole answer and reasoning (again on a later call). */
  end(): ReasoningDelta {
    if (!this.ended) {
      this.route(this.decoder.flush());
      this.closeThinking();
      this.ended = { reasoning: this.reasoning, content: this.content };
    }
    return this.ended;
  }

  private route(d: ReasoningDelta): void {
    if (d.reasoning) {
      if (!this.thinkingOpen) {
        this.opts.err?.write(THINKING_HEADER);
        this.thinkingOpen = true;
      }
      this.reasoning += d.reasoning;
      this.opts.err?.write(d.reasoning);
    }
    if (d.content) {
      this.closeThinking();
      this.content += d.content;
      this.opts.out?.write(d.content);
    }
  }

  private closeThinking(): void {
    if (!this.thinkingOpen) return;
    this.opts.err?.write('\n\n');
    this.thinkingOpen = false;
  }
}
