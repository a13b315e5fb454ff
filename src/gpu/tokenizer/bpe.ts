// Byte-level BPE as llama.cpp's llm_tokenizer_bpe does it: within each pre-tokenized word (in GPT-2's byte-to-unicode
// form), keep merging the adjacent pair with the lowest merge rank (ties: leftmost first).
import { bytesToUnicode } from './byte-unicode';
import { PriorityQueue } from './priority-queue';
import type { Vocab } from './vocab';

/** Merge ranks from `tokenizer.ggml.merges`: rank = index; a repeated pair keeps its first rank. */
export class MergeRanks {
  private readonly ranks = new Map<string, number>();

  constructor(merges: readonly string[]) {
    merges.forEach((merge, rank) => {
      const split = merge.indexOf(' ', 1);
      if (split < 0) return;
      const key = MergeRanks.key(merge.slice(0, split), merge.slice(split + 1));
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
  }

  private static key(left: string, right: string): string {
    return `${left}\u0000${right}`;
  }

  rank(left: string, right: string): number | undefined {
    return this.ranks.get(MergeRanks.key(left, right));
  }
}

interface Bigram {
  readonly left: number;
  readonly right: number;
  readonly text: string;
  readonly rank: number;
}

const byRankThenLeft = (a: Bigram, b: Bigram): boolean => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

class WordSymbols {
  readonly texts: string[];
  readonly prev: number[];
  readonly next: number[];

  constructor(word: string) {
    this.texts = Array.from(word);
    const n = this.texts.length;
    this.prev = this.texts.map((_, i) => i - 1);
    this.next = this.texts.map((_, i) => (i + 1 === n ? -1 : i + 1));
  }

  merge(left: number, right: number): void {
    this.texts[left] = this.texts[left]! + this.texts[right]!;
    this.texts[right] = '';
    const after = this.next[right]!;
    this.next[left] = after;
    if (after >= 0) this.prev[after] = left;
  }
}

function addBigram(ranks: MergeRanks, symbols: WordSymbols, queue: PriorityQueue<Bigram>, left: number, right: number): void {
  if (left < 0 || right < 0) return;
  const leftText = symbols.texts[left]!;
  const rightText = symbols.texts[right]!;
  const rank = ranks.rank(leftText, rightText);
  if (rank !== undefined) queue.push({ left, right, text: leftText + rightText, rank });
}

function mergeWord(ranks: MergeRanks, symbols: WordSymbols): void {
  const queue = new PriorityQueue<Bigram>(byRankThenLeft);
  for (let i = 1; i < symbols.texts.length; i++) addBigram(ranks, symbols, queue, i - 1, i);
  for (let bigram = queue.pop(); bigram; bigram = queue.pop()) {
    const { left, right } = bigram;
    const leftText = symbols.texts[left]!;
    const rightText = symbols.texts[right]!;
    if (leftText === '' || rightText === '' || leftText + rightText !== bigram.text) continue;
    symbols.merge(left, right);
    addBigram(ranks, symbols, queue, symbols.prev[left]!, left);
    addBigram(ranks, symbols, queue, left, symbols.next[left]!);
  }
}

const utf8 = new TextEncoder();

/** A merged symbol that is not a token: llama.cpp looks each of its UTF-8 bytes up as a one-byte token. */
function emitBytes(vocab: Vocab, piece: string, out: number[]): void {
  for (const b of utf8.encode(piece)) {
    const id = b < 0x80 ? vocab.ids.get(String.fromCharCode(b)) : undefined;
    if (id !== undefined) out.push(id);
  }
}

/** Tokenizes one pre-tokenized word (plain text), appending ids to `out`. */
export function bpeTokenizeWord(vocab: Vocab, ranks: MergeRanks, word: string, ignoreMerges: boolean, out: number[]): void {
  const mapped = bytesToUnicode(word);
  if (mapped === '') return;
  const whole = ignoreMerges ? vocab.ids.get(mapped) : undefined;
  if (whole !== undefined) {
    out.push(whole);
    return;
  }
  const symbols = new WordSymbols(mapped);
  mergeWord(ranks, symbols);
  for (let i = 0; i !== -1; i = symbols.next[i]!) {
    const piece = symbols.texts[i]!;
    const id = vocab.ids.get(piece);
    if (id !== undefined) out.push(id);
    else emitBytes(vocab, piece, out);
  }
}
