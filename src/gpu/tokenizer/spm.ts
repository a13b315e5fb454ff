// SentencePiece-style tokenization as llama.cpp's llm_tokenizer_spm does it: start from single characters and keep
// merging the adjacent pair whose merged text is the highest-scoring token (ties: leftmost first); a final symbol
// that is not a token falls back to its UTF-8 bytes as <0xXX> tokens.
import { PriorityQueue } from './priority-queue';
import type { Vocab } from './vocab';

interface Bigram {
  readonly left: number;
  readonly right: number;
  readonly score: number;
  /** Length of the merged text in UTF-16 units; a stale bigram no longer matches its symbols' lengths. */
  readonly size: number;
}

const byScoreThenLeft = (a: Bigram, b: Bigram): boolean => a.score > b.score || (a.score === b.score && a.left < b.left);

/** A linked list of symbols over `text`: symbol i covers text[start[i], start[i] + length[i]). */
class Symbols {
  readonly start: number[] = [];
  readonly length: number[] = [];
  readonly prev: number[] = [];
  readonly next: number[] = [];

  constructor(readonly text: string) {
    let offset = 0;
    for (const ch of text) {
      const i = this.start.length;
      this.start.push(offset);
      this.length.push(ch.length);
      this.prev.push(i - 1);
      offset += ch.length;
      this.next.push(offset === text.length ? -1 : i + 1);
    }
  }

  textOf(i: number, length = this.length[i]!): string {
    return this.text.substr(this.start[i]!, length);
  }

  /** Appends symbol `right` to symbol `left` and unlinks it. */
  merge(left: number, right: number): void {
    this.length[left] = this.length[left]! + this.length[right]!;
    this.length[right] = 0;
    const after = this.next[right]!;
    this.next[left] = after;
    if (after >= 0) this.prev[after] = left;
  }
}

const utf8 = new TextEncoder();
const HEX = '0123456789ABCDEF';

/** llama_vocab::byte_to_token for SentencePiece vocabularies; the unknown token where neither form exists. */
export function spmByteToken(vocab: Vocab, byte: number): number | undefined {
  const hex = `<0x${HEX[byte >> 4]}${HEX[byte & 15]}>`;
  const id = vocab.ids.get(hex) ?? (byte < 0x80 ? vocab.ids.get(String.fromCharCode(byte)) : undefined);
  return id ?? vocab.unk;
}

function tryAddBigram(vocab: Vocab, symbols: Symbols, queue: PriorityQueue<Bigram>, left: number, right: number): void {
  if (left < 0 || right < 0) return;
  const size = symbols.length[left]! + symbols.length[right]!;
  const id = vocab.ids.get(symbols.textOf(left, size));
  if (id === undefined) return;
  queue.push({ left, right, score: vocab.scores[id]!, size });
}

function mergeBigrams(vocab: Vocab, symbols: Symbols): void {
  const queue = new PriorityQueue<Bigram>(byScoreThenLeft);
  for (let i = 1; i < symbols.start.length; i++) tryAddBigram(vocab, symbols, queue, i - 1, i);
  for (let bigram = queue.pop(); bigram; bigram = queue.pop()) {
    const { left, right } = bigram;
    const leftLength = symbols.length[left]!;
    const rightLength = symbols.length[right]!;
    if (leftLength === 0 || rightLength === 0 || leftLength + rightLength !== bigram.size) continue;
    symbols.merge(left, right);
    tryAddBigram(vocab, symbols, queue, symbols.prev[left]!, left);
    tryAddBigram(vocab, symbols, queue, left, symbols.next[left]!);
  }
}

function emitSymbol(vocab: Vocab, piece: string, out: number[]): void {
  const id = vocab.ids.get(piece);
  if (id !== undefined) {
    out.push(id);
    return;
  }
  for (const b of utf8.encode(piece)) {
    const byteId = spmByteToken(vocab, b);
    if (byteId !== undefined) out.push(byteId);
  }
}

/** Tokenizes text whose spaces are already escaped to U+2581, appending ids to `out`. */
export function spmTokenize(vocab: Vocab, text: string, out: number[]): void {
  if (text === '') return;
  const symbols = new Symbols(text);
  mergeBigrams(vocab, symbols);
  for (let i = 0; i !== -1; i = symbols.next[i]!) emitSymbol(vocab, symbols.textOf(i), out);
}
