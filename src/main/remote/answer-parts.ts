// A remote answer's reasoning, in whichever form an OpenAI-compatible server sends it, mapped to the split the
// local engine produces (src/gpu/tokenizer/reasoning.ts), so the Thinking view and the store see one shape:
// - `reasoning_content` beside `content` (llama.cpp's server, vLLM, DeepSeek);
// - `reasoning` beside `content` (OpenRouter, Ollama; newer vLLM sends both names, with the same text);
// - raw `<think>…</think>` at the start of `content` (a server that runs no reasoning parser), split by the same
//   splitter the engine's Qwen3 answers go through, so a marker cut across deltas is still found.
// An answer that does not open with `<think>` is passed on exactly as sent (leading spaces too), except the blank
// lines between reasoning sent in a field and the answer, which are markup as they are after `</think>`.
import { ReasoningSplitter, type ReasoningDelta } from '../../gpu/tokenizer/reasoning';

/** A streamed `choices[0].delta` or a whole `choices[0].message`, as a server may send it. */
export interface AnswerPartJson {
  readonly content?: unknown;
  readonly reasoning_content?: unknown;
  readonly reasoning?: unknown;
}

const THINK_OPEN = '<think>';

export class RemoteAnswerParts {
  /** How the content is read: not known until its first non-space text shows whether it opens `<think>`. */
  private mode: 'undecided' | 'think' | 'plain';
  /** Undecided content so far (whitespace, a part of `<think>`). */
  private pending = '';
  private readonly think = new ReasoningSplitter('think');
  private reasoningSeen = false;

  /** `continuing`: the content goes on from text already received, so it cannot open a `<think>` block. */
  constructor(continuing: boolean) {
    this.mode = continuing ? 'plain' : 'undecided';
  }

  /** The parts one delta (or a whole message) settles; text that may start a marker waits for the next. */
  push(part: AnswerPartJson): ReasoningDelta {
    const field = typeof part.reasoning_content === 'string' ? part.reasoning_content : typeof part.reasoning === 'string' ? part.reasoning : '';
    if (field !== '') this.reasoningSeen = true;
    const d = typeof part.content === 'string' && part.content !== '' ? this.pushContent(part.content) : { reasoning: '', content: '' };
    return { reasoning: field + d.reasoning, content: d.content };
  }

  /** The answer ended (or was stopped): what was held back comes out. */
  flush(): ReasoningDelta {
    if (this.mode === 'think') return this.think.flush();
    const content = this.reasoningSeen ? this.pending.trimStart() : this.pending;
    this.pending = '';
    return { reasoning: '', content };
  }

  private pushContent(text: string): ReasoningDelta {
    if (this.mode === 'think') return this.think.push(text);
    if (this.mode === 'plain') return { reasoning: '', content: text };
    this.pending += text;
    const body = this.pending.trimStart();
    if (body === '' || THINK_OPEN.startsWith(body)) return { reasoning: '', content: '' };
    const held = this.pending;
    this.pending = '';
    if (body.startsWith(THINK_OPEN)) {
      this.mode = 'think';
      return this.think.push(held);
    }
    this.mode = 'plain';
    return { reasoning: '', content: this.reasoningSeen ? body : held };
  }
}
