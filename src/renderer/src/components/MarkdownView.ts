// An answer's Markdown as one element per block (markdown-stream.ts), settled blocks in groups: while an answer
// streams, React compares one reference per settled group and writes only the blocks that changed (the growing
// tail) to the DOM, and layout walks a few groups rather than every block. Written without JSX so the render
// benchmark (bench/render-page.ts, under the Node tsconfig) can load it as it is.
import { createElement, Fragment, memo, useMemo, useState } from 'react';
import { MarkdownStream, type MarkdownBlock } from '../markdown-stream';

// `display: contents`: the wrapper adds no box, so a block lays out as a child of its group. A group is a plain
// block box: margins collapse through it (no border or padding), so the blocks space out as in one innerHTML.
const BLOCK_STYLE = { display: 'contents' } as const;

const MarkdownBlockView = memo(function MarkdownBlockView({ html }: { readonly html: string }) {
  return createElement('div', { style: BLOCK_STYLE, dangerouslySetInnerHTML: { __html: html } });
});

const blockViews = (blocks: readonly MarkdownBlock[]) => blocks.map((b) => createElement(MarkdownBlockView, { key: b.key, html: b.html }));

const SettledGroupView = memo(function SettledGroupView({ blocks }: { readonly blocks: readonly MarkdownBlock[] }) {
  return createElement('div', null, blockViews(blocks));
});

export interface MarkdownViewProps {
  /** The answer so far; each render's text extends the previous one while it streams. */
  readonly text: string;
  /** The text is final: an open fenced code block at its end is highlighted too. */
  readonly done: boolean;
}

export function MarkdownView({ text, done }: MarkdownViewProps) {
  // One incremental renderer for the component's life (a lazy state initializer: made once, never in an effect).
  const [renderer] = useState(() => new MarkdownStream());
  const { settled, tail } = useMemo(() => renderer.render(text, done), [renderer, text, done]);
  return createElement(
    Fragment,
    null,
    settled.map((blocks, g) => createElement(SettledGroupView, { key: `g${g}`, blocks })),
    blockViews(tail),
  );
}
