/// <reference lib="dom" />
// The page side of the render benchmark (bench/render.ts bundles it with Vite and runs it in headless Chromium):
// streams an answer into the app's MarkdownView, as the chat does, and times each delta's render (React commit
// and the layout it causes). The old renderer (the whole text through renderMarkdown, then one innerHTML) is timed
// on a sample of deltas for comparison.
import { createElement } from 'react';
import { flushSync } from 'react-dom';
import { createRoot } from 'react-dom/client';
import { MarkdownView } from '../src/renderer/src/components/MarkdownView';
import { renderMarkdown } from '../src/renderer/src/markdown';

function container(): HTMLElement {
  const el = document.createElement('div');
  el.className = 'content markdown';
  document.body.replaceChildren(el);
  return el;
}

/** Milliseconds to render each delta of the streamed answer. */
function timeStream(deltas: readonly string[]): number[] {
  const el = container();
  const root = createRoot(el);
  let text = '';
  const times = deltas.map((delta) => {
    text += delta;
    const t0 = performance.now();
    flushSync(() => root.render(createElement(MarkdownView, { text, done: false })));
    void el.offsetHeight; // the layout the new DOM causes
    return performance.now() - t0;
  });
  root.unmount();
  return times;
}

/** Milliseconds to render the answer up to each delta in `at` the old way: all of it, every time. */
function timeWholeText(deltas: readonly string[], at: readonly number[]): number[] {
  const el = container();
  const ends: string[] = [];
  let text = '';
  for (const d of deltas) ends.push((text += d));
  return at.map((i) => {
    const t0 = performance.now();
    el.innerHTML = renderMarkdown(ends[i]!);
    void el.offsetHeight;
    return performance.now() - t0;
  });
}

(globalThis as unknown as { kvchatRenderBench: unknown }).kvchatRenderBench = { timeStream, timeWholeText };
