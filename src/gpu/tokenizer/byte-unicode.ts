// GPT-2's reversible byte <-> unicode mapping: printable bytes stand for themselves, the other 68 bytes are moved
// to U+0100.. so that every byte-level BPE token is a string of visible characters.

function isPrintableByte(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

function buildByteToUnicode(): string[] {
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCodePoint(isPrintableByte(b) ? b : next++));
  return table;
}

const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();
const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));
const utf8 = new TextEncoder();

/** The byte-level form of `text`: one mapped character per UTF-8 byte. */
export function bytesToUnicode(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_UNICODE[b]!;
  return out;
}

/** The bytes a byte-level token stands for; a character outside the mapping passes through as its own UTF-8. */
export function unicodeToBytes(token: string): Uint8Array {
  const out: number[] = [];
  for (const c of token) {
    const b = UNICODE_TO_BYTE.get(c);
    if (b !== undefined) out.push(b);
    else out.push(...utf8.encode(c));
  }
  return Uint8Array.from(out);
}
