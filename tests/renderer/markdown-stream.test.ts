// @vitest-environment jsdom
// Streaming Markdown (src/renderer/src/markdown-stream.ts): an answer fed delta by delta renders to the same HTML
// as the whole text at once, every block it shows is sanitized, and the work per delta (characters handed to the
// lexer, parser, highlighter and sanitizer) is bounded by the block being written, not by the answer so far.
// jsdom gives DOMPurify the DOM it needs in Node.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamedAnswer } from '../../bench/answer-text';
import { mulberry32 } from '../helpers/numeric';
import { markdownWork, renderMarkdown } from '../../src/renderer/src/markdown';
import { allBlocks, MarkdownStream, SETTLED_GROUP, type RenderedMarkdown } from '../../src/renderer/src/markdown-stream';

const VARIED = [
  '# Heading one',
  'Setext heading\n===',
  'A paragraph with **bold**, _em_, `code`, a [link](https://example.com) and a line  \nbreak.\nSoft break too.',
  '- item one\n- item two\n  - nested a\n  - nested b\n    1. deeper\n- item three',
  '1. loose\n\n2. list\n\n10. continues',
  '```js\nconst x = 1; // one\nfunction f() { return x; }\n```',
  '```\nplain fence, no language\n  indented line\n```',
  '~~~python\ndef f():\n    return 1\n~~~',
  '    indented code\n\n    after a blank',
  '| a | b |\n| :-- | --: |\n| 1 | 2 |\n| 3 | 4 |',
  '> quoted **text**\n> - a list in a quote\n\n> another quote',
  '---',
  'Inline <b>html</b> and <img src=x onerror=alert(1)> here.',
  '<script>alert(1)</script>',
  '<div onclick="alert(1)">\nblock html\n</div>',
  '<a href="javascript:alert(1)">bad link</a> and <iframe src="https://evil"></iframe>',
  'A [reference][ref] used before its definition.',
  '[ref]: https://example.com/ref "Title"',
  '- [ ] task\n- [x] done',
  'Last paragraph ~~struck~~ with www.example.com autolink.',
];

/** Delta sizes like a model's tokens: 1 to 8 characters. */
function cut(text: string, seed: number): string[] {
  const random = mulberry32(seed);
  const out: string[] = [];
  for (let at = 0; at < text.length; ) {
    const size = 1 + Math.floor(random() * 8);
    out.push(text.slice(at, at + size));
    at += size;
  }
  return out;
}

const joined = (rendered: RenderedMarkdown): string => allBlocks(rendered).map((b) => b.html).join('');

/** Script, event handlers, javascript: URLs or frames left in `html` (parsed as the browser would). */
function unsafe(html: string): string[] {
  const box = document.createElement('div');
  box.innerHTML = html;
  const bad: string[] = [];
  for (const el of box.querySelectorAll('*')) {
    if (['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED'].includes(el.tagName)) bad.push(el.tagName);
    for (const a of el.attributes) {
      if (a.name.startsWith('on') || /^\s*javascript:/i.test(a.value)) bad.push(`${el.tagName} ${a.name}=${a.value}`);
    }
  }
  return bad;
}

describe('MarkdownStream', () => {
  it('renders varied Markdown fed delta by delta to the one-shot HTML, at every prefix and at the end', () => {
    const text = VARIED.join('\n\n');
    const stream = new MarkdownStream();
    let prefix = '';
    for (const delta of cut(text, 1)) {
      prefix += delta;
      for (const b of allBlocks(stream.render(prefix))) expect(unsafe(b.html), `after ${JSON.stringify(prefix.slice(-40))}`).toEqual([]);
      // `done` only changes how an open fence at the end looks: compare with the one-shot render at every prefix.
      expect(joined(stream.render(prefix, true)), `after ${JSON.stringify(prefix.slice(-40))}`).toBe(renderMarkdown(prefix));
    }
    expect(joined(stream.render(text, true))).toBe(renderMarkdown(text));
    expect(prefix).toBe(text);
  });

  it('keeps sanitization in every block: no script, handler or javascript: URL survives', () => {
    const text = VARIED.join('\n\n');
    const html = joined(new MarkdownStream().render(text, true));
    expect(unsafe(html)).toEqual([]);
    expect(html).toContain('<img src="x">');
    expect(html).not.toContain('alert');
    expect(unsafe(renderMarkdown(text))).toEqual([]);
  });

  it('shows an open fence as plain escaped text and highlights it once it closes', () => {
    const stream = new MarkdownStream();
    const open = joined(stream.render('Code:\n\n```js\nconst a = "<b>";\n'));
    expect(open).toContain('<pre><code class="hljs">const a = "&lt;b&gt;";');
    expect(open).not.toContain('hljs-keyword');
    const closed = joined(stream.render('Code:\n\n```js\nconst a = "<b>";\n```'));
    expect(closed).toContain('<span class="hljs-keyword">const</span>');
  });

  it('renders a reference before its definition once the definition arrives', () => {
    const text = 'See [the docs][d].\n\n# Heading\n\nMore text here.\n\n[d]: https://example.com/docs\n';
    const stream = new MarkdownStream();
    let prefix = '';
    for (const delta of cut(text, 3)) stream.render((prefix += delta));
    expect(joined(stream.render(text, true))).toBe(renderMarkdown(text));
    expect(renderMarkdown(text)).toContain('href="https://example.com/docs"');
  });

  it('keeps a full settled group the same object while the answer grows (a view compares references)', () => {
    const stream = new MarkdownStream();
    let prefix = '';
    let first: RenderedMarkdown['settled'][number] | undefined;
    for (let i = 0; i < 3 * SETTLED_GROUP; i++) {
      const { settled } = stream.render((prefix += `Paragraph ${i} with [a link](https://example.com/${i}).\n\n`));
      if (first === undefined && settled.length > 1) first = settled[0];
      if (first !== undefined) expect(settled[0]).toBe(first);
    }
    expect(first).toHaveLength(SETTLED_GROUP);
  });

  it('starts over when the text is replaced rather than extended', () => {
    const stream = new MarkdownStream();
    stream.render('# One\n\nfirst answer\n\nmore');
    expect(joined(stream.render('# Two\n\nsecond', true))).toBe(renderMarkdown('# Two\n\nsecond'));
  });

  it('matches the one-shot render for random documents and random deltas', () => {
    const block = fc.constantFrom(...VARIED, 'plain words', '- a\n- b', '1. one', '10. ten', '```\nx\n```', '> q', '| x |\n| - |\n| y |', '', '  ', '#', '-', '```');
    const separator = fc.constantFrom('\n', '\n\n', '\n\n\n', ' \n \n');
    fc.assert(
      fc.property(fc.array(fc.tuple(block, separator), { maxLength: 6 }), fc.integer({ min: 1, max: 1000 }), (parts, seed) => {
        const text = parts.map(([b, s]) => b + s).join('');
        const stream = new MarkdownStream();
        let prefix = '';
        for (const delta of cut(text, seed)) {
          prefix += delta;
          expect(joined(stream.render(prefix, true))).toBe(renderMarkdown(prefix));
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe('MarkdownStream work per delta', () => {
  // 3,000 deltas (about 13,700 characters, 70 blocks): each delta's work must not grow with the answer.
  const { text, deltas } = streamedAnswer(3000);
  const work: number[] = [];
  let highlighted = 0;
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

  beforeAll(() => {
    const stream = new MarkdownStream();
    const highlightedBefore = markdownWork.highlighted;
    let prefix = '';
    for (const delta of deltas) {
      prefix += delta;
      const before = markdownWork.lexed + markdownWork.parsed + markdownWork.sanitized;
      stream.render(prefix);
      work.push(markdownWork.lexed + markdownWork.parsed + markdownWork.sanitized - before);
    }
    highlighted = markdownWork.highlighted - highlightedBefore;
  });

  it('is bounded by the largest block, whatever the answer length', () => {
    const largestBlock = Math.max(...text.split(/\n\n+/).map((s) => s.length));
    expect(text.length).toBeGreaterThan(25 * largestBlock);
    // The tail (the block being written and at most the one before it) lexed, its last block parsed, and that
    // block's HTML (a few times its source, once highlighted) sanitized.
    expect(Math.max(...work)).toBeLessThan(10 * largestBlock);
  });

  it('does as much at the end of the answer as at its start (last 1,000 deltas / first 1,000 <= 2)', () => {
    expect(sum(work.slice(-1000)) / sum(work.slice(0, 1000))).toBeLessThanOrEqual(2);
  });

  it('highlights each closed code block once', () => {
    const closedCode = [...text.matchAll(/```\w*\n([\s\S]*?)\n```/g)].reduce((n, m) => n + m[1]!.length, 0);
    expect(highlighted).toBe(closedCode);
  });
});
