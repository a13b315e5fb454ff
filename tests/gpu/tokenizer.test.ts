// Tokenizers against llama.cpp's own vectors (test-tokenizer-0: add_special = false, parse_special = false) and the
// prompts of the shared reference runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Metadata } from '../../src/gpu/gguf/metadata';
import { preTokenize, preTokenizerFor } from '../../src/gpu/tokenizer/pretokenize';
import { StreamingDecoder, tokenizerFromGguf, TokenizerError, type Tokenizer } from '../../src/gpu/tokenizer';
import { loadReference, modelPath, openModel, REFERENCE_CASES, type Reference } from '../helpers/shared';

const VOCAB_SEPARATOR = '\n__ggml_vocab_test__\n';

interface VocabCase {
  readonly input: string;
  readonly expected: number[];
}

/** Every test string is followed by the separator line, so the text after the last separator is empty. */
function splitInputs(raw: string): string[] {
  const parts = raw.split(VOCAB_SEPARATOR);
  expect(parts.pop()).toBe('');
  return parts;
}

function parseIds(line: string): number[] {
  const trimmed = line.trim();
  return trimmed === '' ? [] : trimmed.split(' ').map(Number);
}

function readVocabCases(name: string): VocabCase[] {
  const base = modelPath(`vocab/ggml-vocab-${name}.gguf`);
  const inputs = splitInputs(readFileSync(`${base}.inp`, 'utf8'));
  const lines = readFileSync(`${base}.out`, 'utf8').split('\n');
  expect(lines.length).toBeGreaterThanOrEqual(inputs.length);
  return inputs.map((input, i) => ({ input, expected: parseIds(lines[i]!) }));
}

const tokenizers = new Map<string, Tokenizer>();

function tokenizerOf(file: string): Tokenizer {
  let tok = tokenizers.get(file);
  if (!tok) {
    tok = tokenizerFromGguf(openModel(file).metadata);
    tokenizers.set(file, tok);
  }
  return tok;
}

function streamed(tok: Tokenizer, ids: readonly number[]): string[] {
  const decoder = new StreamingDecoder(tok);
  return [...ids.map((id) => decoder.push(id)), decoder.flush()];
}

describe.each([
  { name: 'llama-spm', kind: 'spm' },
  { name: 'gpt-2', kind: 'bpe' },
])('$name vocabulary', ({ name, kind }) => {
  const cases = readVocabCases(name);
  const tok = tokenizerOf(`vocab/ggml-vocab-${name}.gguf`);

  it('reads the 46 test strings and builds the right kind of tokenizer', () => {
    expect(cases).toHaveLength(46);
    expect(tok.kind).toBe(kind);
    expect(tok.warnings).toEqual([]);
  });

  it('encodes every test string exactly as llama.cpp', () => {
    const mismatches = cases
      .map(({ input, expected }) => ({ input, expected, got: tok.encode(input, { addBos: false }) }))
      .filter(({ expected, got }) => JSON.stringify(expected) !== JSON.stringify(got));
    expect(mismatches).toEqual([]);
  });

  it('decodes every encoding back to its text', () => {
    const failures = cases.filter(({ input }) => tok.decode(tok.encode(input, { addBos: false })) !== input);
    expect(failures.map((c) => c.input)).toEqual([]);
  });

  it('keeps a leading byte-order mark through encode and decode', () => {
    expect(tok.decode(tok.encode('\uFEFFhi', { addBos: false }))).toBe('\uFEFFhi');
    const decoder = new StreamingDecoder(tok);
    const ids = tok.encode('\uFEFFhi', { addBos: false });
    expect(ids.map((id) => decoder.push(id)).join('') + decoder.flush()).toBe('\uFEFFhi');
  });

  it('streams every encoding without U+FFFD to the same text as decode', () => {
    for (const { input } of cases) {
      const ids = tok.encode(input, { addBos: false });
      const chunks = streamed(tok, ids);
      expect(chunks.join('')).toBe(tok.decode(ids));
      expect(chunks.some((c) => c.includes('\uFFFD'))).toBe(false);
    }
  });
});

describe('SentencePiece specials and decoding', () => {
  const tok = tokenizerOf('vocab/ggml-vocab-llama-spm.gguf');

  it('adds BOS by default, as add_bos_token says', () => {
    expect(tok.addBosDefault).toBe(true);
    expect(tok.bos).toBe(1);
    expect(tok.eos).toBe(2);
    expect(tok.encode('Hello')).toEqual([1, ...tok.encode('Hello', { addBos: false })]);
    expect(tok.encode('')).toEqual([1]);
    expect(tok.encode('', { addBos: false })).toEqual([]);
  });

  it('matches control tokens in text only when asked to parse specials', () => {
    const plain = tok.encode('</s>Hello', { addBos: false });
    expect(plain).not.toContain(2);
    const parsed = tok.encode('</s>Hello', { addBos: false, parseSpecial: true });
    expect(parsed).toEqual([2, ...tok.encode('Hello', { addBos: false })]);
  });

  it('gives nothing for BOS/EOS unless special pieces are asked for', () => {
    expect(tok.decode([1, 15043, 2])).toBe(' Hello');
    expect(tok.decode([15043])).toBe('Hello');
    expect(tok.decode([15043], { continuation: true })).toBe(' Hello');
    expect(tok.decode([1, 15043, 2], { special: true })).toBe('<s> Hello</s>');
    expect(tok.tokenToPiece(1)).toEqual(new Uint8Array(0));
    expect(tok.isEndOfGeneration(2)).toBe(true);
    expect(tok.isEndOfGeneration(1)).toBe(false);
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => tok.tokenToPiece(32000)).toThrow(TokenizerError);
    expect(() => tok.tokenToPiece(32000, { special: true })).toThrow(TokenizerError);
    expect(() => tok.decode([-1])).toThrow(TokenizerError);
  });

  it('spells an emoji with byte-fallback tokens and streams it whole', () => {
    const ids = tok.encode('🦙!', { addBos: false });
    const bytes = ['<0xF0>', '<0x9F>', '<0xA6>', '<0x99>'];
    expect(ids.slice(1, 5).map((id) => tok.tokenText(id))).toEqual(bytes);
    const chunks = streamed(tok, ids);
    expect(chunks.slice(0, 4)).toEqual(['', '', '', '']);
    expect(chunks[4]).toBe('🦙');
    expect(chunks.join('')).toBe('🦙!');
  });

  it('keeps a cut character pending and ends it as U+FFFD on flush', () => {
    const decoder = new StreamingDecoder(tok, { continuation: true });
    const start = tok.encode('🦙', { addBos: false }).filter((id) => tok.tokenText(id).startsWith('<0x'));
    expect(start.slice(0, 2).map((id) => decoder.push(id))).toEqual(['', '']);
    expect(decoder.flush()).toBe('\uFFFD');
  });
});

describe('byte-level BPE specials and pre-tokenizers', () => {
  const tok = tokenizerOf('vocab/ggml-vocab-gpt-2.gguf');

  it('treats <|endoftext|> as end of generation and as text unless parsed', () => {
    expect(tok.addBosDefault).toBe(false);
    expect(tok.isEndOfGeneration(50256)).toBe(true);
    expect(tok.encode('a<|endoftext|>', { parseSpecial: true })).toEqual([64, 50256]);
    expect(tok.encode('a<|endoftext|>')).not.toContain(50256);
    expect(tok.decode([64, 50256])).toBe('a');
  });

  it('cleans tokenization spaces only when asked', () => {
    const ids = tok.encode('Hello , world !');
    expect(tok.decode(ids)).toBe('Hello , world !');
    expect(tok.decode(ids, { cleanSpaces: true })).toBe('Hello, world!');
  });

  it('falls back to the GPT-2 split, with a warning, for an unknown pre-tokenizer', () => {
    const meta: Metadata = new Map([...openModel('vocab/ggml-vocab-gpt-2.gguf').metadata, ['tokenizer.ggml.pre', 'mystery']]);
    const fallback = tokenizerFromGguf(meta);
    expect(fallback.warnings).toHaveLength(1);
    expect(fallback.warnings[0]).toContain('mystery');
    expect(fallback.encode(' Hello, world!')).toEqual(tok.encode(' Hello, world!'));
  });

  it('splits like llama.cpp for Llama 3 (digits in threes, newline runs, case-free contractions)', () => {
    const { preTokenizer } = preTokenizerFor('llama-bpe');
    expect(preTokenize('3333333', preTokenizer)).toEqual(['333', '333', '3']);
    expect(preTokenize('  Hello', preTokenizer)).toEqual([' ', ' Hello']);
    expect(preTokenize("I'M here\n\n  x", preTokenizer)).toEqual(['I', "'M", ' here', '\n\n', ' ', ' x']);
    expect(preTokenize('(hi)', preTokenizer)).toEqual(['(hi', ')']);
    expect(preTokenizer.ignoreMerges && preTokenizer.addBos).toBe(true);
  });

  it('splits digits one by one for Qwen2; GPT-2 whitespace is Unicode White_Space as in llama.cpp', () => {
    expect(preTokenize('a 123', preTokenizerFor('qwen2').preTokenizer)).toEqual(['a', ' ', '1', '2', '3']);
    const gpt2 = preTokenizerFor('gpt-2').preTokenizer;
    expect(preTokenize('a   b  ', gpt2)).toEqual(['a', '  ', ' b', '  ']);
    expect(preTokenize('x\u0085\u0085y', gpt2)).toEqual(['x', '\u0085', '\u0085', 'y']);
    expect(preTokenize('a \uFEFFb', gpt2)).toEqual(['a', ' \uFEFF', 'b']);
  });

  it('splits like o200k for gpt-oss (case runs, trailing contractions, marks inside words, slashes after punctuation)', () => {
    const { preTokenizer, warning } = preTokenizerFor('gpt-4o');
    expect(warning).toBeUndefined();
    const words = preTokenize("HelloWORLD don't I'M 1234567 नमस्ते a/\n/b", preTokenizer);
    expect(words).toEqual(['Hello', 'WORLD', " don't", " I'M", ' ', '123', '456', '7', ' नमस्ते', ' a', '/\n/', 'b']);
    expect(preTokenizerFor('llama4').preTokenizer.steps).toEqual(preTokenizer.steps);
  });
});

type ReferenceWithPieces = Reference & { readonly text_with_special_pieces?: string };

describe.each(REFERENCE_CASES)('reference prompt of $reference', ({ model, reference }) => {
  const ref = loadReference(reference) as ReferenceWithPieces;
  const tok = tokenizerOf(model);
  const all = [...ref.prompt_tokens, ...ref.generated_tokens];

  it('tokenizes the prompt (with BOS) to the reference prompt_tokens', () => {
    expect(tok.encode(ref.prompt)).toEqual(ref.prompt_tokens);
  });

  it('decodes the run to the reference text', () => {
    if (reference.startsWith('llama2c')) {
      // llama2.c drops the space after BOS: the text of the run without its BOS, as llama.cpp detokenizes it.
      expect(tok.decode(all.slice(1))).toBe(ref.text);
    } else {
      expect(tok.decode(all)).toBe(ref.text);
      expect(tok.decode(all, { special: true })).toBe(ref.text_with_special_pieces);
    }
  });

  it('streams the generated tokens after the prompt to the same text', () => {
    const decoder = new StreamingDecoder(tok, { continuation: true });
    const text = ref.generated_tokens.map((id) => decoder.push(id)).join('') + decoder.flush();
    expect(text).toBe(tok.decode(ref.generated_tokens, { continuation: true }));
    expect(tok.decode(ref.prompt_tokens) + text).toBe(tok.decode(all));
  });
});
