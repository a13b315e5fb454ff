// Byte-level BPE pre-tokenizers: the regex splits llama.cpp applies before merging (llama-vocab.cpp, unicode.cpp),
// keyed by `tokenizer.ggml.pre`.
//
// llama.cpp's whitespace is Unicode White_Space (Python `regex` \s): JS \s minus U+FEFF plus U+0085, spelled out here.
// The GPT-2 and Llama-3 splits run in llama.cpp as hand-written matchers that never put an unassigned code point
// (\p{Cn}) into the punctuation run and emit each unmatched code point on its own; `perCodepointGaps` and the
// \p{Cn} exclusion reproduce that. Other splits run through std::regex, which keeps an unmatched stretch whole.

const WS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const SPACE = `[${WS}]`;
const NOT_SPACE = `[^${WS}]`;
const CONTRACTIONS_ANY_CASE = "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]";

const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}\\p{Cn}]+|${SPACE}+(?!${NOT_SPACE})|${SPACE}+`;

function llama3Like(digits: string, punctuation: string): string {
  return (
    `${CONTRACTIONS_ANY_CASE}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}${digits}| ?[^${WS}\\p{L}\\p{N}${punctuation}]+[\\r\\n]*` +
    `|${SPACE}*[\\r\\n]+|${SPACE}+(?!${NOT_SPACE})|${SPACE}+`
  );
}

const LLAMA3 = llama3Like('{1,3}', '\\p{Cn}');
const QWEN2 = llama3Like('', '');

// o200k (GPT-4o, gpt-oss) as Hugging Face's tokenizer.json writes it: a word is an optional non-letter, then either
// upper-case letters followed by lower-case ones or an upper-case run (so "HelloWORLD" is "Hello" + "WORLD"), with
// combining marks inside words and a trailing contraction; digits in threes; punctuation runs take trailing
// newlines and slashes. (?i:'s|...) is spelled out: JS regexes have no inline case-insensitive group.
const UPPER = '[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]';
const LOWER = '[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]';
const O200K =
  `[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+(?:${CONTRACTIONS_ANY_CASE})?` +
  `|[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*(?:${CONTRACTIONS_ANY_CASE})?` +
  `|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n/]*|${SPACE}*[\\r\\n]+|${SPACE}+(?!${NOT_SPACE})|${SPACE}+`;

export interface SplitStep {
  readonly pattern: RegExp;
  readonly perCodepointGaps: boolean;
}

export interface PreTokenizer {
  readonly name: string;
  readonly steps: readonly SplitStep[];
  /** A word that is itself a token is emitted whole, without merges (llama.cpp ignore_merges). */
  readonly ignoreMerges: boolean;
  readonly addBos: boolean;
  /** llama.cpp's clean_up_tokenization_spaces for this family. */
  readonly cleanSpaces: boolean;
}

function custom(source: string): SplitStep {
  return { pattern: new RegExp(source, 'gu'), perCodepointGaps: true };
}

function stl(source: string): SplitStep {
  return { pattern: new RegExp(source, 'gu'), perCodepointGaps: false };
}

type Family = Omit<PreTokenizer, 'name'>;

const FAMILIES = {
  default: {
    steps: [stl('[\\p{P}$+<=>^~|]+'), custom(GPT2), stl('\\p{N}+'), stl('[0-9][0-9][0-9]')],
    ignoreMerges: false,
    addBos: false,
    cleanSpaces: true,
  },
  gpt2: { steps: [custom(GPT2)], ignoreMerges: false, addBos: false, cleanSpaces: true },
  llama3: { steps: [custom(LLAMA3)], ignoreMerges: true, addBos: true, cleanSpaces: true },
  qwen2: { steps: [stl(QWEN2)], ignoreMerges: false, addBos: false, cleanSpaces: false },
  gpt4o: { steps: [stl(O200K)], ignoreMerges: true, addBos: false, cleanSpaces: false },
  starcoder: { steps: [stl('\\p{N}'), custom(GPT2)], ignoreMerges: false, addBos: false, cleanSpaces: true },
  falcon: {
    steps: [stl('[\\p{P}$+<=>^~|`]+'), custom(GPT2), stl('[0-9][0-9][0-9]')],
    ignoreMerges: false,
    addBos: false,
    cleanSpaces: true,
  },
} satisfies Record<string, Family>;

const FAMILY_OF_PRE: ReadonlyMap<string, Family> = new Map<string, Family>([
  ['default', FAMILIES.default],
  ['gpt2', FAMILIES.gpt2],
  ['gpt-2', FAMILIES.gpt2],
  ['phi-2', FAMILIES.gpt2],
  ['mpt', FAMILIES.gpt2],
  ['olmo', FAMILIES.gpt2],
  ['jais', FAMILIES.gpt2],
  ['exaone4', FAMILIES.gpt2],
  ['llama3', FAMILIES.llama3],
  ['llama-v3', FAMILIES.llama3],
  ['llama-bpe', FAMILIES.llama3],
  ['falcon3', FAMILIES.llama3],
  ['pixtral', FAMILIES.llama3],
  ['dbrx', { ...FAMILIES.llama3, ignoreMerges: false, addBos: false }],
  ['smaug-bpe', { ...FAMILIES.llama3, ignoreMerges: false, addBos: false }],
  ['qwen2', FAMILIES.qwen2],
  ['deepseek-r1-qwen', FAMILIES.qwen2],
  ['megrez', { ...FAMILIES.qwen2, cleanSpaces: true }],
  ['stablelm2', { ...FAMILIES.qwen2, cleanSpaces: true }],
  ['starcoder', FAMILIES.starcoder],
  ['refact', FAMILIES.starcoder],
  ['codeshell', FAMILIES.starcoder],
  ['exaone', FAMILIES.starcoder],
  ['minerva-7b', FAMILIES.starcoder],
  ['smollm', { ...FAMILIES.starcoder, cleanSpaces: false }],
  ['command-r', { ...FAMILIES.starcoder, cleanSpaces: false }],
  ['falcon', FAMILIES.falcon],
  ['gpt-4o', FAMILIES.gpt4o],
  ['llama4', FAMILIES.gpt4o],
]);

export interface PreTokenizerChoice {
  readonly preTokenizer: PreTokenizer;
  /** Set when `tokenizer.ggml.pre` is one we do not know and GPT-2's split is used instead. */
  readonly warning?: string;
}

/** The pre-tokenizer for `tokenizer.ggml.pre`; a missing key means llama.cpp's "default". */
export function preTokenizerFor(pre: string | undefined): PreTokenizerChoice {
  const name = pre ?? 'default';
  const family = FAMILY_OF_PRE.get(name);
  if (family) return { preTokenizer: { name, ...family } };
  return {
    preTokenizer: { name: 'gpt2', ...FAMILIES.gpt2 },
    warning: `unknown pre-tokenizer "${name}": splitting text like GPT-2, so tokens may differ from the model's training`,
  };
}

function pushGap(gap: string, perCodepoint: boolean, out: string[]): void {
  if (perCodepoint) out.push(...gap);
  else out.push(gap);
}

function splitPiece(piece: string, step: SplitStep, out: string[]): void {
  let last = 0;
  for (const m of piece.matchAll(step.pattern)) {
    if (m.index > last) pushGap(piece.slice(last, m.index), step.perCodepointGaps, out);
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < piece.length) pushGap(piece.slice(last), step.perCodepointGaps, out);
}

/** Splits text into the words BPE merges within; each step splits every piece the previous step left. */
export function preTokenize(text: string, preTokenizer: PreTokenizer): string[] {
  let pieces = [text];
  for (const step of preTokenizer.steps) {
    const next: string[] = [];
    for (const piece of pieces) splitPiece(piece, step, next);
    pieces = next;
  }
  return pieces;
}
