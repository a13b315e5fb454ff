// Token ids back to text, as llama.cpp's token_to_piece / detokenize produce it.
import { unicodeToBytes } from './byte-unicode';
import { TokenAttr, type Vocab } from './vocab';

export type VocabKind = 'spm' | 'bpe';

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);
const SPACE = 0x20;

/** The bytes of a token with special tokens rendered as their text (llama.cpp's token_to_piece cache). */
export function renderPiece(vocab: Vocab, kind: VocabKind, id: number): Uint8Array {
  const attr = vocab.attrs[id]!;
  const text = vocab.texts[id]!;
  if (attr & (TokenAttr.UNKNOWN | TokenAttr.CONTROL | TokenAttr.USER_DEFINED)) return utf8.encode(text);
  if (attr & TokenAttr.NORMAL) return kind === 'spm' ? utf8.encode(text.replaceAll('\u2581', ' ')) : unicodeToBytes(text);
  if (attr & TokenAttr.BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16));
  return EMPTY;
}

/** Drops one leading space: the one a SentencePiece tokenizer prepended to the text. */
export function stripLeadingSpace(bytes: Uint8Array): Uint8Array {
  return bytes[0] === SPACE ? bytes.subarray(1) : bytes;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function isByte(bytes: Uint8Array, i: number, ch: string): boolean {
  return bytes[i] === ch.charCodeAt(0);
}

/** " ?" " !" " ." " ," lose their space. */
function cleanPunctuation(b: Uint8Array): Uint8Array {
  const out: number[] = b.length ? [b[0]!] : [];
  for (let i = 1; i < b.length; i++) {
    if (isByte(b, i - 1, ' ') && '?!.,'.includes(String.fromCharCode(b[i]!))) out.pop();
    out.push(b[i]!);
  }
  return Uint8Array.from(out);
}

/** " ' " becomes "'"; the eaten space no longer counts as a space before the next character. */
function cleanLoneApostrophe(bytes: Uint8Array): Uint8Array {
  const b = Uint8Array.from(bytes);
  const out: number[] = b.length ? [b[0]!] : [];
  for (let i = 1; i < b.length; i++) {
    const x = b[i]!;
    if (isByte(b, i, "'") && i + 1 < b.length && isByte(b, i - 1, ' ') && isByte(b, i + 1, ' ')) {
      out.pop();
      b[++i] = 0;
    }
    out.push(x);
  }
  return Uint8Array.from(out);
}

/** " 's" " 'm" " 're" " 've" lose their space. */
function cleanContractions(b: Uint8Array): Uint8Array {
  const out: number[] = b.length ? [b[0]!] : [];
  for (let i = 1; i < b.length; i++) {
    if (isByte(b, i - 1, ' ') && isByte(b, i, "'") && i + 1 < b.length) {
      const x1 = String.fromCharCode(b[i + 1]!);
      const x2 = i + 2 < b.length ? String.fromCharCode(b[i + 2]!) : '';
      if (x1 === 's' || x1 === 'm' || (x1 === 'r' && x2 === 'e') || (x1 === 'v' && x2 === 'e')) out.pop();
    }
    out.push(b[i]!);
  }
  return Uint8Array.from(out);
}

/** llama.cpp's clean_up_tokenization_spaces, applied to detokenized bytes of vocabularies that ask for it. */
export function cleanUpSpaces(bytes: Uint8Array): Uint8Array {
  return cleanContractions(cleanLoneApostrophe(cleanPunctuation(bytes)));
}
