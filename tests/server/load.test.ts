// Bounded load on one engine: several streaming clients at once, each sending a few requests in a row. Every
// response completes, greedy ones equal the same request run alone, and every KV block is back at the end.
// Admission by KV blocks: when the cache holds only one request's worst case, concurrent requests take turns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { OpenAiServer } from '../../src/server';
import { clientFor, loadTestModel, MODEL_ID, startOpenAiServer, type TestModel } from './harness';

const PROMPTS = ['Once upon a time', 'The little dog', 'Lily and Tom went to the park', 'One day, a big bird'];
const CLIENTS = 6;
const REQUESTS_PER_CLIENT = 3;
const MAX_TOKENS = 16;

let model: TestModel;
let server: OpenAiServer;
let client: OpenAI;

beforeAll(async () => {
  model = await loadTestModel(8);
  server = await startOpenAiServer(model.options);
  client = clientFor(server);
});

afterAll(async () => {
  await server?.close();
  model?.engine.destroy();
});

interface Streamed {
  readonly text: string;
  readonly finish: string | null;
  readonly completionTokens: number | undefined;
}

async function streamCompletion(c: OpenAI, prompt: string, extra: { temperature: number; seed?: number }): Promise<Streamed> {
  const stream = await c.completions.create({ model: MODEL_ID, prompt, max_tokens: MAX_TOKENS, stream: true, stream_options: { include_usage: true }, ...extra });
  let text = '';
  let finish: string | null = null;
  let completionTokens: number | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    completionTokens ??= chunk.usage?.completion_tokens;
  }
  return { text, finish, completionTokens };
}

async function lone(prompt: string): Promise<string> {
  const r = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: MAX_TOKENS, temperature: 0 });
  return r.choices[0]!.text;
}

describe('OpenAI-compatible server under load', () => {
  it(`${CLIENTS} streaming clients x ${REQUESTS_PER_CLIENT} requests: all complete, greedy ones equal a lone run, all KV blocks come back`, async () => {
    const alone = new Map<string, string>();
    for (const p of PROMPTS) alone.set(p, await lone(p));

    const started = performance.now();
    const perClient = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const results: { prompt: string; greedy: boolean; r: Streamed }[] = [];
        for (let i = 0; i < REQUESTS_PER_CLIENT; i++) {
          const prompt = PROMPTS[(c + i) % PROMPTS.length]!;
          // Every third request samples (seeded): it shares the batch with the greedy ones and must not disturb them.
          const greedy = (c + i) % 3 !== 2;
          results.push({ prompt, greedy, r: await streamCompletion(client, prompt, greedy ? { temperature: 0 } : { temperature: 0.8, seed: c * 100 + i }) });
        }
        return results;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const all = perClient.flat();
    const tokens = all.reduce((n, x) => n + (x.r.completionTokens ?? 0), 0);
    console.log(`load: ${all.length} streamed requests, ${tokens} tokens in ${seconds.toFixed(1)} s (${(tokens / seconds).toFixed(1)} tokens/s aggregate)`);

    expect(all).toHaveLength(CLIENTS * REQUESTS_PER_CLIENT);
    for (const { prompt, greedy, r } of all) {
      expect(['stop', 'length']).toContain(r.finish);
      expect(r.completionTokens).toBeGreaterThan(0);
      if (greedy) expect(r.text).toBe(alone.get(prompt));
    }
    expect(seconds).toBeLessThan(60);
    expect(model.engine.freeKvBlocks).toBe(model.engine.pool.blocks);
  });

  it('when the KV cache holds one request at a time, concurrent requests wait their turn and all complete', async () => {
    // 'Once upon a time' is 5 tokens: 5 + 16 - 1 = 20 positions = 2 blocks of 16; a cache of 3 admits one at a time.
    const narrow = await startOpenAiServer({ ...model.options, kvBlocks: 3 });
    try {
      const c = clientFor(narrow);
      const expected = await lone(PROMPTS[0]!);
      let minFree = model.engine.freeKvBlocks;
      const watch = setInterval(() => (minFree = Math.min(minFree, model.engine.freeKvBlocks)), 5);
      const results = await Promise.all([0, 1, 2].map(() => streamCompletion(c, PROMPTS[0]!, { temperature: 0 })));
      clearInterval(watch);
      for (const r of results) expect(r.text).toBe(expected);
      // Never more than one request's 2 blocks held at once.
      expect(model.engine.pool.blocks - minFree).toBeLessThanOrEqual(2);
      expect(model.engine.pool.blocks - minFree).toBeGreaterThan(0);
      // A request whose worst case exceeds the whole cache is refused up front rather than queued forever.
      const tooBig = await fetch(`${narrow.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: PROMPTS[0], max_tokens: 100 }) });
      expect(tooBig.status).toBe(400);
      expect((await tooBig.json()).error.code).toBe('context_length_exceeded');
    } finally {
      await narrow.close();
    }
    expect(model.engine.freeKvBlocks).toBe(model.engine.pool.blocks);
  });
});
