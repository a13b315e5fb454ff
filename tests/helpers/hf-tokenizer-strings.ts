// The strings tokenizers are compared on: hand-picked edge cases plus seeded random mixes of code, CJK, emoji,
// whitespace runs, numbers, mixed scripts and special-token text. Deterministic, so fixtures made from them stay valid.

const EDGE_CASES: readonly string[] = [
  '',
  ' ',
  '  ',
  '\t',
  '\n',
  '\n\n\n',
  ' \n \n',
  '\r\n\r\n',
  '\t\t  \n\t',
  'Hello world',
  ' Hello world',
  'Hello  world   ',
  'HelloWorld helloWORLD HELLOWorld',
  "I'm sure it's fine, they've said we'll go. DON'T STOP. You'RE",
  "don't 'quoted' '''triple''' ' lone",
  '1234567890',
  '3.14159 2,718 1e-9 -42 +7 0x1F 1_000_000',
  '12345678901234567890123456789',
  '٣٤٥ ١٢ ⅣⅫ ²³ ½',
  '你好，世界！这是一个测试。',
  '日本語のテキストとカタカナ、ひらがな。',
  '한국어 문장입니다.',
  'Привет, мир! Ёжик',
  'Γειά σου Κόσμε',
  'مرحبا بالعالم',
  'שלום עולם',
  'नमस्ते दुनिया',
  'สวัสดีชาวโลก',
  'e\u0301 n\u0303 a\u0308',
  '😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️',
  '🦙🦙🦙 llama',
  '𓀀𓀁 𠀋 ꙮ \u{10FFFD}',
  'function add(a, b) {\n  return a + b;\n}\n',
  'def f(x):\n\treturn x ** 2  # square\n',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); }',
  '<div class="x">&nbsp;</div>',
  'https://example.com/path?q=1&r=two#frag',
  'a/b/c\n/d\n//e',
  '!!!???...,,,;;;::',
  '$$$ %%% ^^^ ~~~ ||| <<< >>> === +++',
  '\u00a0non-breaking\u00a0space\u3000ideographic',
  'zero\u200bwidth\u200djoiner',
  '\uFEFFbom',
  '\u0085next line',
  'ÀÉÎÕÜ àéîõü ß ẞ',
  'ǅungla ǈ ǋ',
  '   leading spaces and trailing   ',
  'line1\nline2\r\nline3\rline4',
  'tab\tseparated\tvalues\t1\t2',
];

const WORDS = [
  'the', 'The', 'quick', 'BROWN', 'fox', 'jumps', 'über', 'naïve', 'café', 'coöperate', 'camelCase', 'snake_case',
  'kebab-case', 'XMLHttpRequest', 'iPhone', "it's", "WE'LL", 'antidisestablishmentarianism', 'Ωmega', 'Straße',
];
const CODE = [
  'const x = 1;', 'if (a && b) { c(); }', 'for i in range(10):', '=> {}', '::std::vector<int>', 'a->b', '// comment',
  '/* block */', '"string\\n"', "'c'", '`tpl ${v}`', '[1, 2, 3]', '{"k": null}', 'x != y', 'i += 1', '#!/bin/sh',
];
const CJK = ['中文', '漢字', '東京', 'こんにちは', 'カタカナ', '한글', '汉语拼音', '机器学习', '（括号）', '「引用」', '。，、'];
const EMOJI = ['😀', '🎉', '👍🏿', '🧑‍💻', '🏳️‍🌈', '🇩🇪', '✨', '🔥🔥', '⭐️', '🤖', '🫠'];
const SCRIPTS = ['Москва', 'αβγ', 'عربي', 'עברית', 'हिन्दी', 'ไทย', 'ქართული', 'Հայերեն', 'ትግርኛ', 'Tiếng Việt', 'ᚠᚢᚦ'];
const NUMBERS = ['0', '7', '42', '123', '1234', '98765', '3.5', '1,000', '2024-06-01', '12:30', '1e10', '007', '١٢٣'];
const WHITESPACE = [' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', ' \n', '\n ', '\n\t', '    ', '\u3000', '\u00a0'];
const PUNCT = ['.', ',', '!', '?', '...', '—', '–', '-', '(', ')', '"', "'", ':', ';', '/', '\\', '@', '#', '&', '*'];
const SPECIAL_TEXT = [
  '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|eot_id|>', '<|begin_of_text|>', '<|start_header_id|>',
  '<start_of_turn>', '<end_of_turn>', '<bos>', '<eos>', '<|start|>', '<|message|>', '<|channel|>', '<|end|>',
  '<think>', '</think>', '<s>', '</s>', '<unk>', '<mask>',
];

const CATEGORIES: readonly (readonly string[])[] = [WORDS, CODE, CJK, EMOJI, SCRIPTS, NUMBERS, PUNCT, SPECIAL_TEXT];

/** mulberry32: a small seeded generator, so the corpus is the same on every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function randomString(random: () => number): string {
  const parts: string[] = [];
  const n = 2 + Math.floor(random() * 7);
  for (let i = 0; i < n; i++) {
    parts.push(pick(random, pick(random, CATEGORIES)));
    if (random() < 0.7) parts.push(pick(random, random() < 0.6 ? [' '] : WHITESPACE));
  }
  return parts.join('');
}

/** `count` test strings: the edge cases first, then seeded random mixes. */
export function tokenizerTestStrings(count = 300, seed = 16): string[] {
  const random = seededRandom(seed);
  const out = [...EDGE_CASES];
  while (out.length < count) out.push(randomString(random));
  return out.slice(0, count);
}
