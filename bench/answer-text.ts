// A long model answer in Markdown, cut into streamed deltas the size of model tokens (1 to 8 characters), for the
// render benchmark and its tests: a repeating mix of what chat answers hold (headings, prose paragraphs written as
// one long line, bullet and nested lists, numbered steps, fenced code with and without a language, tables, quotes).
import { mulberry32 } from '../tests/helpers/numeric';

const WORDS = 'the cache keeps each block of keys and values on the device so a long chat resumes without recomputing its prompt while the scheduler batches new tokens'.split(' ');

function sentence(random: () => number): string {
  const n = 6 + Math.floor(random() * 12);
  const words = Array.from({ length: n }, () => WORDS[Math.floor(random() * WORDS.length)]!);
  if (random() < 0.3) words[1] = `**${words[1]}**`;
  if (random() < 0.3) words[3] = `\`${words[3]}()\``;
  const s = words.join(' ');
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

const paragraph = (random: () => number): string => Array.from({ length: 3 + Math.floor(random() * 4) }, () => sentence(random)).join(' ');

const CODE: readonly (readonly [string, string])[] = [
  ['ts', 'export function blocksFor(tokens: number, blockTokens = 16): number {\n  return Math.ceil(tokens / blockTokens);\n}'],
  ['python', 'def blocks_for(tokens, block_tokens=16):\n    # whole blocks, rounded up\n    return -(-tokens // block_tokens)'],
  ['', 'npm run -s bench -- --render\nnpm run -s typecheck'],
  ['json', '{ "temperature": 0.7, "maxTokens": 512, "overflow": "truncate-middle" }'],
];

/** One section of the answer: 4 to 7 blocks. */
function section(random: () => number, n: number): string {
  const blocks = [`## Part ${n}`, paragraph(random)];
  const [lang, code] = CODE[n % CODE.length]!;
  blocks.push(`\`\`\`${lang}\n${code}\n\`\`\``);
  if (n % 2 === 0) blocks.push(['- First, ' + sentence(random), '- Then ' + sentence(random), '  - nested: ' + sentence(random), '- Last, ' + sentence(random)].join('\n'));
  else blocks.push(['1. ' + sentence(random), '2. ' + sentence(random), '3. ' + sentence(random)].join('\n'));
  if (n % 3 === 0) blocks.push(['| Context | Blocks | Bytes |', '| --- | ---: | ---: |', ...[1024, 4096, 16384].map((c) => `| ${c} | ${c / 16} | ${c * 256} |`)].join('\n'));
  if (n % 4 === 1) blocks.push(`> ${sentence(random)}`);
  blocks.push(paragraph(random));
  return blocks.join('\n\n');
}

/** An answer of `deltas` streamed pieces: the pieces, and the text they add up to. */
export function streamedAnswer(deltas: number, seed = 18): { readonly text: string; readonly deltas: readonly string[] } {
  const random = mulberry32(seed);
  const sections: string[] = [];
  // About 4.5 characters a delta (1 to 8): sections until the text is long enough, then cut it.
  for (let length = 0, n = 1; length < deltas * 5 + 200; n++) {
    sections.push(section(random, n));
    length += sections.at(-1)!.length + 2;
  }
  const whole = sections.join('\n\n');
  const pieces: string[] = [];
  let at = 0;
  while (pieces.length < deltas && at < whole.length) {
    const size = 1 + Math.floor(random() * 8);
    pieces.push(whole.slice(at, at + size));
    at += size;
  }
  return { text: pieces.join(''), deltas: pieces };
}
