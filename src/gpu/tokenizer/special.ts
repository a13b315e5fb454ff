// Cutting special tokens out of text before tokenizing (llama.cpp tokenizer_st_partition). User-defined tokens are
// always matched by their text; control and unknown tokens only when the caller asks to parse special tokens, so
// text typed by a user cannot forge `<|im_end|>`.
import { TokenAttr, type Vocab } from './vocab';

export type Fragment = { readonly text: string } | { readonly token: number };

function splitOnToken(text: string, needle: string, token: number, out: Fragment[]): void {
  let from = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, from)) {
    if (at > from) out.push({ text: text.slice(from, at) });
    out.push({ token });
    from = at + needle.length;
  }
  if (from < text.length) out.push({ text: text.slice(from) });
}

export function partitionSpecial(text: string, vocab: Vocab, parseSpecial: boolean): Fragment[] {
  if (text === '') return [];
  const skipped = parseSpecial ? 0 : TokenAttr.CONTROL | TokenAttr.UNKNOWN;
  let fragments: Fragment[] = [{ text }];
  for (const id of vocab.specialTokens) {
    if (vocab.attrs[id]! & skipped) continue;
    const needle = vocab.texts[id]!;
    const next: Fragment[] = [];
    for (const f of fragments) {
      if ('text' in f) splitOnToken(f.text, needle, id, next);
      else next.push(f);
    }
    fragments = next;
  }
  return fragments;
}
