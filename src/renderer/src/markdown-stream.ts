// A streaming answer rendered as it grows, without redoing the whole answer on every delta: the text is cut into
// a settled prefix (blocks that no later text can change, rendered and sanitized once) and a tail (the blocks after
// the last settled boundary, lexed again on each delta). Work per delta is bounded by the tail, not the answer.
//
// A boundary before a block is settled when the block starts at column 0 with a non-blank character and
//  - a blank line precedes it (a blank line ends every block but a list, a fenced code block or a raw-HTML block
//    of the <script>/<pre>/comment kind; the last two run to the text's end while open, so they are never
//    followed by another token), and after a list the block's first line is complete ("1" may still become
//    "10. item", which continues the list);
//  - or the block before is a heading, a rule or a closed fenced code block, which nothing can continue.
// Link definitions are the one thing that reaches backwards: a reference may come before its definition, so the
// settled blocks that could hold a reference are rendered again when the set of definitions changes.
import type { Token } from 'marked';
import { isOpenFence, lexMarkdown, linkDefinitions, renderOpenFence, renderToken, type LinkDefinitions } from './markdown';

/** One rendered piece of the answer: `html` is sanitized; `key` is stable while the piece stays where it is. */
export interface MarkdownBlock {
  readonly key: string;
  readonly html: string;
}

/**
 * The answer as rendered blocks. Settled blocks come in groups of `SETTLED_GROUP`: a group's array stays the same
 * object until one of its blocks changes, so a view compares one reference per group, not one per block.
 */
export interface RenderedMarkdown {
  readonly settled: readonly (readonly MarkdownBlock[])[];
  readonly tail: readonly MarkdownBlock[];
}

/** Blocks per settled group (a view's element per group: a 100 kB answer has about 600 blocks). */
export const SETTLED_GROUP = 32;

/** Every block of `rendered`, in order. */
export const allBlocks = (rendered: RenderedMarkdown): MarkdownBlock[] => [...rendered.settled.flat(), ...rendered.tail];

/** Settled source: tokens from one settled boundary to the next, rendered once. */
interface SettledChunk {
  readonly source: string;
  html: string;
  readonly mayReference: boolean;
  block: MarkdownBlock;
}

const isBlank = (c: string | undefined): boolean => c === undefined || c === ' ' || c === '\t' || c === '\n';

/** Whether only spaces or tabs lie between the newline ending at `at - 1` and the newline before it. */
function blankLineBefore(text: string, at: number): boolean {
  let i = at - 2;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  return i >= 0 && text[i] === '\n';
}

function closesItself(token: Token): boolean {
  return token.type === 'heading' || token.type === 'hr' || (token.type === 'code' && token.codeBlockStyle !== 'indented' && !isOpenFence(token));
}

/** Whether no text after `tokens[i]`'s start can change how the tokens before it lex (see the file's comment). */
function settledBefore(text: string, tokens: readonly Token[], i: number, at: number): boolean {
  if (text[at - 1] !== '\n' || isBlank(text[at])) return false;
  const previous = tokens[i - 1]!.type === 'space' ? tokens[i - 2] : tokens[i - 1];
  if (previous === undefined) return false;
  if (blankLineBefore(text, at)) return previous.type !== 'list' || text.indexOf('\n', at) !== -1;
  return previous === tokens[i - 1] && closesItself(previous);
}

/**
 * Offsets in `text` of the settled boundaries between `tokens` (its top-level tokens), each with the index of the
 * token that starts there. Stops where the tokens' raw text no longer tiles `text` (marked folds a few constructs
 * into an earlier token), so nothing past that point is settled.
 */
export function settledBoundaries(text: string, tokens: readonly Token[]): { index: number; at: number }[] {
  const out: { index: number; at: number }[] = [];
  let at = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (i > 0 && settledBefore(text, tokens, i, at)) out.push({ index: i, at });
    const raw = tokens[i]!.raw;
    if (!text.startsWith(raw, at)) break;
    at += raw.length;
  }
  return out;
}

/** Memo key of a token's HTML: its kind and source (a code block's HTML depends on its language and text only). */
function tokenKey(token: Token, open: boolean): string {
  return token.type === 'code' ? `code\0${open}\0${token.lang ?? ''}\0${token.text}` : `${token.type}\0${token.raw}`;
}

const linksKey = (links: LinkDefinitions): string => JSON.stringify(Object.entries(links));

export class MarkdownStream {
  /** Text of the settled prefix: every chunk's source, in order. */
  private settled = '';
  private chunks: SettledChunk[] = [];
  /** `chunks`' blocks in groups of SETTLED_GROUP (see RenderedMarkdown). */
  private groups: MarkdownBlock[][] = [];
  /** Definitions in the settled prefix, first one per label. */
  private settledLinks: LinkDefinitions = {};
  /** The definitions every settled chunk was rendered with (the whole text's, at that time). */
  private renderedLinks = '[]';
  /** HTML of the tail's tokens at the previous delta, by `tokenKey`: an unchanged token is not rendered again. */
  private tailHtml = new Map<string, string>();

  /**
   * The answer `text` as blocks. Call with each longer version of the text; any other text starts over. `done`:
   * the text is final, so a fenced code block left open at its end is highlighted like the one-shot render does.
   */
  render(text: string, done = false): RenderedMarkdown {
    if (!text.startsWith(this.settled)) this.reset();
    const tail = text.slice(this.settled.length);
    const tokens = lexMarkdown(tail, this.settledLinks);
    const links = linksKey(tokens.links);
    if (links !== this.renderedLinks) this.renderAgain(tokens.links, links);
    const html = this.renderTail(tokens, done);
    const boundaries = settledBoundaries(tail, tokens);
    let from = { index: 0, at: 0 };
    for (const to of boundaries) {
      this.settle(tail.slice(from.at, to.at), tokens.slice(from.index, to.index), html.slice(from.index, to.index));
      from = to;
    }
    this.settled += tail.slice(0, from.at);
    const tailBlocks = html.slice(from.index).flatMap((h, i) => (h === '' ? [] : [{ key: `t${this.chunks.length}.${i}`, html: h }]));
    return { settled: this.groups, tail: tailBlocks };
  }

  private reset(): void {
    this.settled = '';
    this.chunks = [];
    this.groups = [];
    this.settledLinks = {};
    this.renderedLinks = '[]';
    this.tailHtml.clear();
  }

  private settle(source: string, tokens: readonly Token[], html: readonly string[]): void {
    for (const def of linkDefinitions(tokens)) this.settledLinks[def.tag] ??= { href: def.href, title: def.title };
    const joined = html.join('');
    if (joined === '') return; // link definitions and blank lines: nothing to show
    const chunk: SettledChunk = { source, html: joined, mayReference: source.includes('['), block: { key: `c${this.chunks.length}`, html: joined } };
    this.chunks.push(chunk);
    const g = Math.floor((this.chunks.length - 1) / SETTLED_GROUP);
    // A new array for the group that changed (and a new list of groups): views compare references.
    this.groups = [...this.groups.slice(0, g), [...(this.groups[g] ?? []), chunk.block]];
  }

  /** A definition appeared or changed: chunks that may use it are rendered with the whole text's definitions. */
  private renderAgain(links: LinkDefinitions, key: string): void {
    let changed = false;
    for (const chunk of this.chunks) {
      if (!chunk.mayReference) continue;
      const html = lexMarkdown(chunk.source, links).map(renderToken).join('');
      if (html === chunk.html) continue;
      chunk.html = html;
      chunk.block = { key: chunk.block.key, html };
      changed = true;
    }
    if (changed) {
      this.groups = this.groups.map((group, g) => {
        const blocks = this.chunks.slice(g * SETTLED_GROUP, (g + 1) * SETTLED_GROUP).map((c) => c.block);
        return blocks.every((b, i) => b === group[i]) ? group : blocks;
      });
    }
    this.tailHtml.clear();
    this.renderedLinks = key;
  }

  private renderTail(tokens: readonly Token[], done: boolean): string[] {
    const next = new Map<string, string>();
    const html = tokens.map((token) => {
      const open = !done && isOpenFence(token);
      const key = tokenKey(token, open);
      const h = this.tailHtml.get(key) ?? next.get(key) ?? (open && token.type === 'code' ? renderOpenFence(token) : renderToken(token));
      next.set(key, h);
      return h;
    });
    this.tailHtml = next;
    return html;
  }
}
