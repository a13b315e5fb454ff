// A model's reasoning split from its answer while the text streams, as llama.cpp's server and vLLM do:
// - 'think' (Qwen3, DeepSeek-R1 and their kin): `<think>…</think>` at the start of the answer, or the answer opens
//   inside a `<think>` that the template already wrote at the end of the generation prompt;
// - 'harmony' (gpt-oss): messages `<|channel|>NAME<|message|>BODY<|end|>`, each after `<|start|>assistant` but the
//   first; the analysis channel is the reasoning, the final channel the answer, a commentary preamble (no recipient)
//   is answer text, and a tool call (`to=…`, which this app does not run) is dropped;
// - 'none': everything is answer text.
// Text arrives in pieces cut anywhere, so a piece that ends with the start of a marker is held back until the next
// piece decides it: the split never depends on where the pieces were cut.
import { optionalString, type Metadata } from '../gguf/metadata';
import { StreamingDecoder } from './streaming-decoder';
import type { Tokenizer } from './tokenizer';

export type ReasoningFormat = 'none' | 'think' | 'harmony';

/** Text for each part of the answer; either may be ''. */
export interface ReasoningDelta {
  readonly reasoning: string;
  readonly content: string;
}

const EMPTY: ReasoningDelta = { reasoning: '', content: '' };

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';
const CHANNEL = '<|channel|>';
const MESSAGE = '<|message|>';
/** Markers that end a harmony message body (`<|channel|>`: a model that skipped `<|end|><|start|>assistant`). */
const HARMONY_BODY_END = ['<|end|>', '<|start|>', '<|return|>', '<|call|>', CHANNEL] as const;

/** Which reasoning markup a chat template speaks, from its Jinja source. */
export function reasoningFormatOfTemplate(source: string | undefined): ReasoningFormat {
  if (!source) return 'none';
  if (source.includes(CHANNEL) && source.includes(MESSAGE)) return 'harmony';
  if (source.includes(THINK_CLOSE)) return 'think';
  return 'none';
}

export function reasoningFormatOf(meta: Metadata): ReasoningFormat {
  return reasoningFormatOfTemplate(optionalString(meta, 'tokenizer.chat_template'));
}

/** Whether the template takes `enable_thinking` (Qwen3's switch): a chat can then turn thinking off. */
export function hasThinkingSwitch(meta: Metadata): boolean {
  return optionalString(meta, 'tokenizer.chat_template')?.includes('enable_thinking') ?? false;
}

/** gpt-oss's reasoning levels (harmony's `Reasoning: …` line; its template defaults to medium). */
export const REASONING_EFFORTS = ['low', 'medium', 'high'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

export function isReasoningEffort(value: unknown): value is ReasoningEffort {
  return (REASONING_EFFORTS as readonly unknown[]).includes(value);
}

/** Whether the template reads `reasoning_effort` (gpt-oss): a chat can then choose how hard the model thinks. */
export function hasReasoningEffort(meta: Metadata): boolean {
  return optionalString(meta, 'tokenizer.chat_template')?.includes('reasoning_effort') ?? false;
}

/** A chat's reasoning choices; absent: the template's own default. */
export interface ReasoningChoice {
  /** false: answer without reasoning, where the template has the switch. */
  readonly thinking?: boolean | undefined;
  readonly effort?: ReasoningEffort | undefined;
}

/**
 * The template variables for a chat's choices, as every front end passes them: `enable_thinking: false` only when
 * thinking is off and the template has the switch (on is its default), `reasoning_effort` only where it is read.
 */
export function reasoningTemplateKwargs(meta: Metadata, choice: ReasoningChoice): Record<string, unknown> {
  return {
    ...(choice.thinking === false && hasThinkingSwitch(meta) ? { enable_thinking: false } : {}),
    ...(choice.effort !== undefined && hasReasoningEffort(meta) ? { reasoning_effort: choice.effort } : {}),
  };
}

/**
 * Whether a rendered prompt ends inside an open `<think>` (a template that starts the reasoning for the model), so
 * the answer's first text is reasoning. Give it the prompt's tail decoded with special tokens.
 */
export function promptOpensThinking(promptTail: string): boolean {
  const open = promptTail.lastIndexOf(THINK_OPEN);
  return open >= 0 && promptTail.indexOf(THINK_CLOSE, open) < 0 && promptTail.slice(open + THINK_OPEN.length).trim() === '';
}

/** Prompt tokens read back to see whether the template left a `<think>` open (its last few suffice). */
const PROMPT_TAIL_TOKENS = 16;

/** Whether the prompt's tokens end inside an open `<think>` (promptOpensThinking on their decoded tail). */
export function promptEndsInThinking(tokenizer: Tokenizer, prompt: readonly number[]): boolean {
  return promptOpensThinking(tokenizer.decode(prompt.slice(-PROMPT_TAIL_TOKENS), { special: true, continuation: true }));
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `markers`. */
export function heldTail(text: string, markers: readonly string[]): number {
  let keep = 0;
  for (const m of markers) {
    for (let n = Math.min(m.length - 1, text.length); n > keep; n--) {
      if (text.endsWith(m.slice(0, n))) {
        keep = n;
        break;
      }
    }
  }
  return keep;
}

/** The earliest of `markers` in `text`: its index and length, or undefined. */
function firstMarker(text: string, markers: readonly string[]): { at: number; length: number } | undefined {
  let best: { at: number; length: number } | undefined;
  for (const m of markers) {
    const at = text.indexOf(m);
    if (at >= 0 && (best === undefined || at < best.at)) best = { at, length: m.length };
  }
  return best;
}

interface Splitter {
  push(text: string): ReasoningDelta;
  flush(): ReasoningDelta;
}

const delta = (reasoning: string, content: string): ReasoningDelta => (reasoning || content ? { reasoning, content } : EMPTY);

/** `<think>…</think>` then the answer; the blank lines between them are not part of either. */
class ThinkSplitter implements Splitter {
  private state: 'start' | 'reasoning' | 'after' | 'content';
  private held = '';
  /** Reasoning text has begun (the whitespace after `<think>` is markup, not reasoning). */
  private reasoningBegun = false;

  constructor(startsInReasoning: boolean) {
    this.state = startsInReasoning ? 'reasoning' : 'start';
  }

  push(text: string): ReasoningDelta {
    let reasoning = '';
    let content = '';
    let rest = this.held + text;
    this.held = '';
    while (rest.length > 0) {
      if (this.state === 'content') {
        content += rest;
        break;
      }
      if (this.state === 'start' || this.state === 'after') {
        // Leading whitespace waits: before `<think>` it is nothing, after `</think>` it separates the parts.
        const body = rest.trimStart();
        if (body.length === 0) {
          this.held = this.state === 'start' ? rest : '';
          break;
        }
        if (this.state === 'after') {
          this.state = 'content';
          rest = body;
          continue;
        }
        if (body.startsWith(THINK_OPEN)) {
          this.state = 'reasoning';
          rest = body.slice(THINK_OPEN.length);
          continue;
        }
        if (THINK_OPEN.startsWith(body)) {
          this.held = rest;
          break;
        }
        this.state = 'content';
        rest = body;
        continue;
      }
      // reasoning
      if (!this.reasoningBegun) {
        rest = rest.trimStart();
        if (rest.length === 0) break;
        this.reasoningBegun = true;
      }
      const end = rest.indexOf(THINK_CLOSE);
      if (end >= 0) {
        reasoning += rest.slice(0, end).trimEnd();
        this.state = 'after';
        rest = rest.slice(end + THINK_CLOSE.length);
        continue;
      }
      const keep = heldTail(rest, [THINK_CLOSE]);
      // Trailing whitespace waits too: the reasoning's last line break belongs to the markup.
      const safe = rest.slice(0, rest.length - keep);
      const trimmed = safe.trimEnd();
      reasoning += trimmed;
      this.held = safe.slice(trimmed.length) + rest.slice(rest.length - keep);
      break;
    }
    return delta(reasoning, content);
  }

  /** The stream ended: reasoning never closed (max_tokens) stays reasoning; a held marker start is text after all. */
  flush(): ReasoningDelta {
    const rest = this.held;
    this.held = '';
    if (this.state === 'reasoning') return delta(rest.trimEnd(), '');
    if (this.state === 'start') return delta('', rest.trimStart());
    return delta('', rest);
  }
}

type HarmonyTarget = 'reasoning' | 'content' | 'drop';

/** gpt-oss's channels: headers are read whole, bodies streamed to their part. */
class HarmonySplitter implements Splitter {
  private state: 'header' | 'body' = 'header';
  private target: HarmonyTarget = 'content';
  private held = '';
  /** A body was already given to content: the next content body starts on a new paragraph. */
  private contentSeen = false;
  private reasoningSeen = false;

  push(text: string): ReasoningDelta {
    const out = { reasoning: '', content: '' };
    let rest = this.held + text;
    this.held = '';
    while (rest.length > 0) {
      if (this.state === 'header') {
        if (!this.looksLikeHeader(rest)) {
          this.open('content', out); // text with no channel markup: answer text
          continue;
        }
        const at = rest.indexOf(MESSAGE);
        if (at < 0) {
          this.held = rest;
          break;
        }
        this.open(targetOfHeader(rest.slice(0, at)), out);
        rest = rest.slice(at + MESSAGE.length);
        continue;
      }
      const end = firstMarker(rest, HARMONY_BODY_END);
      if (end) {
        this.emit(rest.slice(0, end.at), out);
        this.state = 'header';
        // `<|end|>`/`<|return|>`/`<|call|>` close the message; `<|start|>`/`<|channel|>` begin the next header.
        const marker = rest.slice(end.at, end.at + end.length);
        rest = marker === '<|start|>' || marker === CHANNEL ? rest.slice(end.at) : rest.slice(end.at + end.length);
        continue;
      }
      const keep = heldTail(rest, HARMONY_BODY_END);
      this.emit(rest.slice(0, rest.length - keep), out);
      this.held = rest.slice(rest.length - keep);
      break;
    }
    return delta(out.reasoning, out.content);
  }

  flush(): ReasoningDelta {
    const out = { reasoning: '', content: '' };
    if (this.state === 'body') this.emit(this.held, out);
    this.held = '';
    return delta(out.reasoning, out.content);
  }

  /** Whether header text so far can still become a header (`<|start|>assistant<|channel|>…` or `<|channel|>…`). */
  private looksLikeHeader(text: string): boolean {
    const t = text.trimStart();
    return t === '' || t.startsWith('<|') || '<|'.startsWith(t);
  }

  private open(target: HarmonyTarget, out: { reasoning: string; content: string }): void {
    this.state = 'body';
    this.target = target;
    // Two messages of the same part (two commentary preambles and a final) read as paragraphs.
    if (target === 'content' && this.contentSeen) out.content += '\n\n';
    if (target === 'reasoning' && this.reasoningSeen) out.reasoning += '\n\n';
  }

  private emit(text: string, out: { reasoning: string; content: string }): void {
    if (text.length === 0) return;
    if (this.target === 'reasoning') {
      out.reasoning += text;
      this.reasoningSeen = true;
    } else if (this.target === 'content') {
      out.content += text;
      this.contentSeen = true;
    }
  }
}

/** `<|start|>assistant<|channel|>commentary to=functions.x <|constrain|>json` -> where its body goes. */
function targetOfHeader(header: string): HarmonyTarget {
  const at = header.indexOf(CHANNEL);
  const spec = at >= 0 ? header.slice(at + CHANNEL.length) : '';
  const channel = /^\s*(\w+)/.exec(spec)?.[1] ?? '';
  const toolCall = /\bto=/.test(header);
  if (toolCall) return 'drop';
  if (channel === 'analysis') return 'reasoning';
  return 'content';
}

class PlainSplitter implements Splitter {
  push(text: string): ReasoningDelta {
    return delta('', text);
  }

  flush(): ReasoningDelta {
    return EMPTY;
  }
}

export interface ReasoningSplitterOptions {
  /** The prompt ended inside an open `<think>` (see promptOpensThinking): the answer starts as reasoning. */
  readonly startsInReasoning?: boolean;
}

/** Splits one answer's text stream into reasoning and content. One instance per answer. */
export class ReasoningSplitter {
  private readonly impl: Splitter;

  constructor(readonly format: ReasoningFormat, opts: ReasoningSplitterOptions = {}) {
    this.impl = format === 'think' ? new ThinkSplitter(opts.startsInReasoning ?? false) : format === 'harmony' ? new HarmonySplitter() : new PlainSplitter();
  }

  /** The parts that `text` settles; text that may be part of a marker waits for the next piece. */
  push(text: string): ReasoningDelta {
    return this.impl.push(text);
  }

  /** The answer ended: what was held back comes out. */
  flush(): ReasoningDelta {
    return this.impl.flush();
  }
}

/** A whole answer split at once (stored text, tests). */
export function splitReasoning(format: ReasoningFormat, text: string, opts: ReasoningSplitterOptions = {}): ReasoningDelta {
  const s = new ReasoningSplitter(format, opts);
  const a = s.push(text);
  const b = s.flush();
  return { reasoning: a.reasoning + b.reasoning, content: a.content + b.content };
}

/**
 * Sampled tokens to {reasoning, content} deltas for one answer: detokenized as they come (a character split over
 * tokens waits), then split. What every front end (the server, the app's worker) streams an answer through.
 */
export class ReasoningDecoder {
  private readonly decoder: StreamingDecoder;
  private readonly splitter: ReasoningSplitter;

  constructor(tokenizer: Tokenizer, format: ReasoningFormat, opts: ReasoningSplitterOptions & { readonly continuation: boolean }) {
    // Harmony's channel markers are control tokens: the splitter needs their text.
    this.decoder = new StreamingDecoder(tokenizer, { continuation: opts.continuation, ...(format === 'harmony' ? { special: true } : {}) });
    this.splitter = new ReasoningSplitter(format, opts);
  }

  push(id: number): ReasoningDelta {
    return this.splitter.push(this.decoder.push(id));
  }

  /** The answer ended: an unfinished character (as U+FFFD) and held-back text come out. */
  flush(): ReasoningDelta {
    const a = this.splitter.push(this.decoder.flush());
    const b = this.splitter.flush();
    return delta(a.reasoning + b.reasoning, a.content + b.content);
  }
}
