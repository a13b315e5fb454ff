// Many clients at once, as the issue measured them: hundreds of concurrent completions and a score of concurrent
// streams. Before the fix, a request admitted while the engine waited on a prefix lookup got KV blocks before its
// own lookup, which then threw "sequence N is not empty" and the step failed every queued request (HTTP 500s, SSE
// error events without [DONE]). Every request must complete with the text of its lone greedy run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenAiServer } from '../../src/server';
import type { EngineOptions } from '../../src/gpu/engine/engine';
import { loadTestModel, MODEL_ID, startOpenAiServer, type TestModel } from './harness';

let model: TestModel;
let server: OpenAiServer;

/** A server on a fresh engine for the tests of one describe block. */
function serveModel(engineOptions: EngineOptions): void {
  beforeAll(async () => {
    model = await loadTestModel(8, 'stories260K.gguf', engineOptions);
    // Every request may wait here: this test is about the engine's steps, not the queue's bound (hardening.test.ts).
    server = await startOpenAiServer({ ...model.options, maxWaitingRequests: 1000 });
  });
  afterAll(async () => {
    await server?.close();
    model?.engine.destroy();
  });
}

async function complete(prompt: string, maxTokens: number, stream = false): Promise<{ status: number; text: string; done: boolean }> {
  const res = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt, max_tokens: maxTokens, temperature: 0, stream }),
  });
  const body = await res.text();
  if (!stream) return { status: res.status, text: res.status === 200 ? (JSON.parse(body).choices[0].text as string) : body, done: true };
  let text = '';
  let done = false;
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    if (line === 'data: [DONE]') done = true;
    else {
      const event = JSON.parse(line.slice(6));
      if (event.error) return { status: 500, text: JSON.stringify(event.error), done: false };
      text += event.choices[0]?.text ?? '';
    }
  }
  return { status: res.status, text, done };
}

describe('OpenAI-compatible server: 300 concurrent requests on a small KV pool', () => {
  // 24 blocks for 8 sequences of up to 3: finished requests' cached blocks are evicted to RAM all the time, so
  // prefix lookups really wait (on the RAM tier's in-flight copies) while other requests are admitted.
  serveModel({ kvBlocks: 24 });

  it('300 concurrent greedy completions of six prompts: every one answers 200 with its lone run\'s text', async () => {
    // Prompts of one to three KV blocks, so prefix lookups consult the cache tiers (and wait on them).
    const prompts = [
      'Once upon a time',
      'Once upon a time there was a little girl named Lily. She liked to play outside.',
      'The little dog ran to the park because he wanted to find his friend, the big brown cat who lived near the old tree.',
      'Tom and Sue went to the beach with their mom.',
      'One day, a big bird flew over the house and saw a shiny red ball in the garden below, next to the flowers.',
      'The sun was hot.',
    ];
    const lone = new Map<string, string>();
    for (const p of prompts) lone.set(p, (await complete(p, 8)).text);
    const all = await Promise.all(Array.from({ length: 300 }, (_, i) => complete(prompts[i % prompts.length]!, 8)));
    const statuses = new Map<number, number>();
    for (const r of all) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 200: 300 });
    expect(all.filter((r, i) => r.text !== lone.get(prompts[i % prompts.length]!))).toEqual([]);
    expect(model.engine.freeKvBlocks).toBe(model.engine.pool.blocks);
  });

});

describe('OpenAI-compatible server: concurrent streams', () => {
  serveModel({});

  // About 70 s on a 2-core CPU driver alone; more when the machine is shared.
  it('20 concurrent streaming completions of 150 tokens, different prompts: every stream ends with [DONE] and the lone run\'s text', { timeout: 400_000 }, async () => {
    const prompts = Array.from({ length: 20 }, (_, i) => `${['Once upon a time', 'The little dog', 'Lily and Tom went to the park', 'One day, a big bird'][i % 4]} ${i}`);
    const lone = new Map<string, string>();
    for (const p of prompts.slice(0, 4)) lone.set(p, (await complete(p, 150)).text);
    const all = await Promise.all(prompts.map((p) => complete(p, 150, true)));
    expect(all.filter((r) => r.status !== 200 || !r.done)).toEqual([]);
    all.slice(0, 4).forEach((r, i) => expect(r.text).toBe(lone.get(prompts[i]!)));
    expect(model.engine.freeKvBlocks).toBe(model.engine.pool.blocks);
  });
});
