// A conversation's prompt tokens, and fitting them into the context. A model with a chat template gets the
// template's rendering of the whole thread (encodeChat). A raw model (no template: stories260K) continues the
// text, as `npm run generate` does: the system prompt and each message are tokenized piece by piece, and where
// the conversation's stored token history still matches a message (same token count; a user message re-encodes
// to the same ids; an answer decodes to its text) the exact stored tokens are kept, so the history's KV block
// hashes match and stored blocks resume it.
import type { Metadata } from '../gguf/metadata';
import { encodeChat, type ChatRole, type Tokenizer } from '../tokenizer';
import type { ContextPolicy } from './engine';

export interface ConversationTurn {
  readonly role: ChatRole;
  readonly content: string;
  /** Tokens of this message in the conversation's history, when known (lets the exact history be reused). */
  readonly tokenCount: number | null;
  /** An answer's reasoning: a model's template gets it (and decides what it keeps); a raw model never sees it. */
  readonly reasoning?: string;
}

/** Variables for the model's template besides the messages (`enable_thinking: false`). */
export type TemplateKwargs = Readonly<Record<string, unknown>>;

export interface BuiltPrompt {
  readonly tokens: number[];
  /** Tokens of the last (new) message, when the prompt is built per message (raw models). */
  readonly lastTurnTokens: number | null;
}

const sameTokens = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((t, i) => t === b[i]);

/** Raw continuation: BOS on the first piece only. */
function encodePiece(tokenizer: Tokenizer, text: string, first: boolean): number[] {
  return tokenizer.encode(text, first ? {} : { addBos: false });
}

function buildRaw(tokenizer: Tokenizer, systemPrompt: string, turns: readonly ConversationTurn[], history: readonly number[]): BuiltPrompt {
  const tokens: number[] = [];
  if (systemPrompt.length > 0) tokens.push(...encodePiece(tokenizer, systemPrompt, true));
  let aligned = sameTokens(tokens, history.slice(0, tokens.length));
  let last = 0;
  turns.forEach((turn, i) => {
    const first = tokens.length === 0;
    const n = turn.tokenCount;
    let piece: number[] | undefined;
    if (aligned && n !== null && n > 0 && tokens.length + n <= history.length) {
      const stored = history.slice(tokens.length, tokens.length + n);
      const matches = turn.role === 'assistant' ? tokenizer.decode(stored, { continuation: true }) === turn.content : sameTokens(stored, encodePiece(tokenizer, turn.content, first));
      if (matches) piece = stored;
    }
    if (!piece) {
      aligned = false;
      piece = encodePiece(tokenizer, turn.content, first);
    }
    tokens.push(...piece);
    if (i === turns.length - 1) last = piece.length;
  });
  return { tokens, lastTurnTokens: last };
}

function buildTemplated(tokenizer: Tokenizer, metadata: Metadata, systemPrompt: string, turns: readonly ConversationTurn[], templateKwargs: TemplateKwargs): BuiltPrompt {
  const messages = [
    ...(systemPrompt ? [{ role: 'system' as const, content: systemPrompt }] : []),
    ...turns.map((t) => ({ role: t.role, content: t.content, ...(t.reasoning ? { reasoning: t.reasoning } : {}) })),
  ];
  return { tokens: encodeChat(tokenizer, metadata, messages, { addGenerationPrompt: true, templateKwargs }), lastTurnTokens: null };
}

export function buildPrompt(
  tokenizer: Tokenizer,
  metadata: Metadata,
  hasChatTemplate: boolean,
  systemPrompt: string,
  turns: readonly ConversationTurn[],
  history: readonly number[],
  templateKwargs: TemplateKwargs = {},
): BuiltPrompt {
  return hasChatTemplate ? buildTemplated(tokenizer, metadata, systemPrompt, turns, templateKwargs) : buildRaw(tokenizer, systemPrompt, turns, history);
}

export interface FittedPrompt extends BuiltPrompt {
  /** Tokens of the whole thread's prompt left out to fit the context (0: nothing dropped). */
  readonly droppedTokens: number;
  /** Leading tokens a context shift during the answer must keep (the system prompt, or just BOS). */
  readonly keepTokens: number;
}

/**
 * The thread's prompt, leaving `room` positions for the answer within `contextLength`. Under truncate-middle the
 * oldest turns after the system prompt are left out until it fits; under rolling-window the system prompt goes too.
 * The new message always stays. Under 'stop', or when even the last message alone does not fit, the prompt is
 * returned whole (the caller reports the limit).
 */
export function fitPrompt(
  tokenizer: Tokenizer,
  metadata: Metadata,
  hasChatTemplate: boolean,
  systemPrompt: string,
  turns: readonly ConversationTurn[],
  history: readonly number[],
  contextLength: number,
  room: number,
  policy: ContextPolicy['kind'],
  templateKwargs: TemplateKwargs = {},
): FittedPrompt {
  const whole = buildPrompt(tokenizer, metadata, hasChatTemplate, systemPrompt, turns, history, templateKwargs);
  const bos = tokenizer.bos !== undefined && whole.tokens[0] === tokenizer.bos ? 1 : 0;
  const keepSystem = policy === 'truncate-middle' && systemPrompt.length > 0;
  const keepTokens = keepSystem ? Math.min(whole.tokens.length, systemTokens(tokenizer, metadata, hasChatTemplate, systemPrompt)) : bos;
  if (policy === 'stop' || whole.tokens.length + room <= contextLength) return { ...whole, droppedTokens: 0, keepTokens };
  let fitted = whole;
  for (let first = 1; first < turns.length && fitted.tokens.length + room > contextLength; first++) {
    fitted = buildPrompt(tokenizer, metadata, hasChatTemplate, keepSystem ? systemPrompt : '', turns.slice(first), keepSystem ? history : [], templateKwargs);
  }
  return { ...fitted, droppedTokens: whole.tokens.length - fitted.tokens.length, keepTokens };
}

/** Tokens the system prompt takes at the start of the prompt. */
function systemTokens(tokenizer: Tokenizer, metadata: Metadata, hasChatTemplate: boolean, systemPrompt: string): number {
  if (!hasChatTemplate) return encodePiece(tokenizer, systemPrompt, true).length;
  return encodeChat(tokenizer, metadata, [{ role: 'system', content: systemPrompt }], { addGenerationPrompt: false }).length;
}
