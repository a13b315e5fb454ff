// npm run -s bench -- --render [--quick] [--json]
// The answer renderer while it streams: a 20,000-delta answer (bench/answer-text.ts) rendered delta by delta in
// headless Chromium through the app's MarkdownView (React, marked, highlight.js, DOMPurify, layout). The figure is
// the mean time per delta over the last 1,000 deltas over the first 1,000: about 1 when each delta's work is
// bounded by the block being written (linear total), growing with the answer when it re-renders all of it.
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, type Rollup } from 'vite';
import { streamedAnswer } from './answer-text';

const CHROMIUM = '/usr/bin/chromium';
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** bench/render-page.ts and what it imports as one script (production React). */
async function pageScript(): Promise<string> {
  const out = await build({
    configFile: false,
    logLevel: 'warn',
    plugins: [react()],
    define: { 'process.env.NODE_ENV': '"production"' },
    build: {
      write: false,
      minify: false,
      reportCompressedSize: false,
      lib: { entry: fileURLToPath(new URL('./render-page.ts', import.meta.url)), formats: ['iife'], name: 'kvchatRenderPage' },
    },
  });
  const output = (Array.isArray(out) ? out[0]! : (out as Rollup.RollupOutput)).output;
  return output.find((o): o is Rollup.OutputChunk => o.type === 'chunk' && o.isEntry)!.code;
}

interface PageBench {
  timeStream(deltas: readonly string[]): number[];
  timeWholeText(deltas: readonly string[], at: readonly number[]): number[];
}

export async function runRenderBench(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const n = quick ? 5_000 : 20_000;
  const window = 1_000;
  const { text, deltas } = streamedAnswer(n);
  const script = await pageScript();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><body></body>');
    await page.addScriptTag({ content: script });
    const bench = <K extends keyof PageBench>(fn: K, ...args: Parameters<PageBench[K]>): Promise<number[]> =>
      page.evaluate(
        ([f, a]) => {
          const api = (globalThis as unknown as { kvchatRenderBench: PageBench }).kvchatRenderBench;
          return (api[f] as (...x: unknown[]) => number[])(...a);
        },
        [fn, args as unknown[]] as const,
      );
    // Warm-up on another answer, so the first window is not timing the JIT.
    await bench('timeStream', streamedAnswer(window, 7).deltas);
    const stream = await bench('timeStream', deltas);
    // The old way on a sample: every 10th delta of each window.
    const sample = (from: number): number[] => Array.from({ length: window / 10 }, (_, i) => from + i * 10);
    const whole = await bench('timeWholeText', deltas, [...sample(0), ...sample(deltas.length - window)]);
    const result = {
      device: 'headless Chromium',
      deltas: deltas.length,
      characters: text.length,
      total_ms: round(stream.reduce((a, b) => a + b, 0), 1),
      first_ms_per_delta: round(mean(stream.slice(0, window))),
      last_ms_per_delta: round(mean(stream.slice(-window))),
      ratio_last_first: round(mean(stream.slice(-window)) / mean(stream.slice(0, window)), 2),
      // Median: the same without the garbage collector's pauses (which grow with the page's heap).
      median_ratio_last_first: round(median(stream.slice(-window)) / median(stream.slice(0, window)), 2),
      whole_text_first_ms_per_delta: round(mean(whole.slice(0, window / 10))),
      whole_text_last_ms_per_delta: round(mean(whole.slice(window / 10))),
      whole_text_ratio_last_first: round(mean(whole.slice(window / 10)) / mean(whole.slice(0, window / 10)), 2),
    };
    process.stderr.write(
      `render: ${result.deltas} deltas (${result.characters} chars) in ${result.total_ms} ms; per delta ${result.first_ms_per_delta} ms (first ${window}) -> ${result.last_ms_per_delta} ms (last ${window}): ratio ${result.ratio_last_first} (medians: ${result.median_ratio_last_first})\n` +
        `render, whole text each delta (before): ${result.whole_text_first_ms_per_delta} ms -> ${result.whole_text_last_ms_per_delta} ms: ratio ${result.whole_text_ratio_last_first}\n`,
    );
    if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await browser.close();
  }
}
