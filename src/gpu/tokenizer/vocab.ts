// The vocabulary shared by every tokenizer model: token texts, scores, attributes and special ids, read from GGUF
// metadata the way llama.cpp's llama_vocab::load reads them.
import { GgufError } from '../gguf/errors';
import { optionalNumber, type Metadata } from '../gguf/metadata';

/** Token attribute bits (llama.h llama_token_attr). */
export const TokenAttr = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
} as const;

/** `tokenizer.ggml.token_type` values (llama.h llama_token_type) mapped to attribute bits. */
const ATTR_OF_TYPE: readonly number[] = [
  TokenAttr.UNDEFINED,
  TokenAttr.NORMAL,
  TokenAttr.UNKNOWN,
  TokenAttr.CONTROL,
  TokenAttr.USER_DEFINED,
  TokenAttr.UNUSED,
  TokenAttr.BYTE,
];

const EOT_TEXTS = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>', '_<EOT>',
  '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>',
];

const EOG_TEXTS = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>',
  '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
];

export interface SpecialIds {
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly unk: number | undefined;
}

export interface Vocab {
  /** Token text as stored in the file (SentencePiece `▁` spaces, or GPT-2 byte-to-unicode characters). */
  readonly texts: readonly string[];
  readonly scores: Float32Array; // (n_vocab)
  readonly attrs: Uint8Array; // (n_vocab) TokenAttr bits
  readonly ids: ReadonlyMap<string, number>;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  readonly eom: number | undefined;
  readonly unk: number | undefined;
  readonly endOfGeneration: ReadonlySet<number>;
  /** Control, user-defined and unknown tokens, longest text (in UTF-8 bytes) first: the order they are cut out of text. */
  readonly specialTokens: readonly number[];
}

function requireStringArray(meta: Metadata, key: string): string[] {
  const v = meta.get(key);
  if (v === undefined) throw new GgufError('missing-key', `the model's metadata has no ${key}`);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new GgufError('corrupt', `metadata ${key} should be an array of strings`);
  }
  return v as string[];
}

function optionalNumericArray(meta: Metadata, key: string, length: number): ArrayLike<number> | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint32Array)) {
    throw new GgufError('corrupt', `metadata ${key} should be an array of 32-bit numbers`);
  }
  if (v.length < length) throw new GgufError('corrupt', `metadata ${key} has ${v.length} entries for ${length} tokens`);
  return v;
}

function readTexts(meta: Metadata): string[] {
  return requireStringArray(meta, 'tokenizer.ggml.tokens').map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));
}

function readAttrs(meta: Metadata, n: number): Uint8Array {
  const types = optionalNumericArray(meta, 'tokenizer.ggml.token_type', n);
  const attrs = new Uint8Array(n).fill(TokenAttr.NORMAL);
  if (types) for (let i = 0; i < n; i++) attrs[i] = ATTR_OF_TYPE[types[i]!] ?? TokenAttr.UNDEFINED;
  return attrs;
}

function indexTexts(texts: readonly string[]): Map<string, number> {
  const ids = new Map<string, number>();
  texts.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  return ids;
}

/** A special id from metadata when it names a real token, else the model's default when that does. */
function specialId(meta: Metadata, key: string, fallback: number | undefined, n: number): number | undefined {
  const v = optionalNumber(meta, `tokenizer.ggml.${key}`);
  if (v !== undefined && Number.isInteger(v) && v >= 0 && v < n) return v;
  return fallback !== undefined && fallback >= 0 && fallback < n ? fallback : undefined;
}

function findByText(ids: ReadonlyMap<string, number>, texts: readonly string[]): number | undefined {
  for (const t of texts) {
    const id = ids.get(t);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** Tokens that end generation by their text; llama.cpp treats them as control tokens whatever the file says. */
function markEndOfGenerationTexts(ids: ReadonlyMap<string, number>, attrs: Uint8Array): Set<number> {
  const eog = new Set<number>();
  for (const t of EOG_TEXTS) {
    const id = ids.get(t);
    if (id === undefined) continue;
    eog.add(id);
    attrs[id] = attrs[id]! | TokenAttr.CONTROL;
  }
  return eog;
}

/**
 * gpt-oss (o200k_harmony): `<|end|>` closes one message of a turn (the analysis before the final answer), not the
 * generation; llama.cpp drops it from the end tokens and renders it as text when `<|return|>` and `<|call|>` exist.
 */
function keepHarmonyEndOpen(ids: ReadonlyMap<string, number>, attrs: Uint8Array, eog: Set<number>): void {
  const end = ids.get('<|end|>');
  if (end === undefined || !ids.has('<|return|>') || !ids.has('<|call|>')) return;
  eog.delete(end);
  attrs[end] = TokenAttr.USER_DEFINED;
}

const utf8 = new TextEncoder();

function specialTokensByLength(texts: readonly string[], attrs: Uint8Array): number[] {
  const special = TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN;
  const ids: number[] = [];
  attrs.forEach((a, i) => {
    if (a & special) ids.push(i);
  });
  const bytes = new Map(ids.map((i) => [i, utf8.encode(texts[i]!).length]));
  return ids.sort((a, b) => bytes.get(b)! - bytes.get(a)! || a - b);
}

export function readVocab(meta: Metadata, defaults: SpecialIds): Vocab {
  const texts = readTexts(meta);
  const n = texts.length;
  const scoreValues = optionalNumericArray(meta, 'tokenizer.ggml.scores', n);
  const scores = scoreValues ? Float32Array.from({ length: n }, (_, i) => scoreValues[i]!) : new Float32Array(n);
  const attrs = readAttrs(meta, n);
  const ids = indexTexts(texts);
  const eot = specialId(meta, 'eot_token_id', findByText(ids, EOT_TEXTS), n);
  const eom = specialId(meta, 'eom_token_id', ids.get('<|eom_id|>'), n);
  const eos = specialId(meta, 'eos_token_id', defaults.eos, n);
  const endOfGeneration = markEndOfGenerationTexts(ids, attrs);
  for (const id of [eos, eot, eom]) if (id !== undefined) endOfGeneration.add(id);
  keepHarmonyEndOpen(ids, attrs, endOfGeneration);
  return {
    texts,
    scores,
    attrs,
    ids,
    bos: specialId(meta, 'bos_token_id', defaults.bos, n),
    eos,
    eot,
    eom,
    unk: specialId(meta, 'unknown_token_id', defaults.unk, n),
    endOfGeneration,
    specialTokens: specialTokensByLength(texts, attrs),
  };
}
