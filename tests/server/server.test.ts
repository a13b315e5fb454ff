// The OpenAI-compatible server end to end: the official `openai` client against a real server and engine
// (stories260K on the test device). Greedy output equals the reference implementation's tokens; streaming
// assembles to the non-streaming text; stop strings; API keys; every kind of bad input gets its status and an
// OpenAI error body, and the server keeps serving; a client that disconnects frees its KV blocks.
import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenAiServer } from '../../src/server';
import { loadReference } from '../helpers/shared';
import { clientFor, eventually, loadTestModel, MODEL_ID, postJson, startOpenAiServer, type TestModel } from './harness';

const BODY_LIMIT = 64 * 1024;
const REFERENCE_TOKENS = 100;

let model: TestModel;
let server: OpenAiServer;
let client: OpenAI;

beforeAll(async () => {
  model = await loadTestModel();
  server = await startOpenAiServer({ ...model.options, maxBodyBytes: BODY_LIMIT });
  client = clientFor(server);
});

afterAll(async () => {
  await server?.close();
  model?.engine.destroy();
});

/** Greedy completion text of `prompt`, n tokens. */
async function greedyText(prompt: string, maxTokens: number): Promise<string> {
  const r = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: maxTokens, temperature: 0 });
  return r.choices[0]!.text;
}

describe('OpenAI-compatible server: generation', () => {
  it('binds 127.0.0.1 and lists its one model', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual([MODEL_ID]);
    expect((await client.models.retrieve(MODEL_ID)).id).toBe(MODEL_ID);
    await expect(client.models.retrieve('gpt-4')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('greedy completions equal the reference implementation token for token (text, usage, finish_reason)', async () => {
    const cases = ['llama2c_stories260K_once_upon_a_time.json', 'llama2c_stories260K_empty.json'].map(loadReference);
    // The first REFERENCE_TOKENS of each reference (the engine's own tests cover all 200 positions): a shared,
    // 2-core CPU driver makes every step count.
    const expected = cases.map((ref) => ref.generated_tokens.slice(0, REFERENCE_TOKENS));
    // Both at once: concurrent requests are decoded in the same engine steps.
    const results = await Promise.all(cases.map((ref) => client.completions.create({ model: MODEL_ID, prompt: ref.prompt, max_tokens: REFERENCE_TOKENS, temperature: 0 })));
    results.forEach((r, i) => {
      const ref = cases[i]!;
      expect(r.object).toBe('text_completion');
      // After a prompt of BOS alone the text starts there, without the first token's leading space (llama2.c's rule).
      expect(r.choices[0]!.text).toBe(model.tokenizer.decode(expected[i]!, { continuation: ref.prompt !== '' }));
      if (ref.prompt === '') expect(ref.text.startsWith(r.choices[0]!.text)).toBe(true);
      expect(r.choices[0]!.finish_reason).toBe('length');
      expect(r.usage).toMatchObject({
        prompt_tokens: ref.prompt_tokens.length,
        completion_tokens: REFERENCE_TOKENS,
        total_tokens: ref.prompt_tokens.length + REFERENCE_TOKENS,
        prompt_tokens_details: { cached_tokens: 0 },
      });
    });
  });

  it('a prompt of token ids gives what the engine alone gives for those ids', async () => {
    const ref = loadReference('llama2c_stories260K_once_upon_a_time.json');
    const seq = model.engine.createSequence();
    const alone = await model.engine.generate(seq, ref.prompt_tokens, { maxNewTokens: 24, stopTokens: model.tokenizer.endOfGeneration });
    model.engine.releaseSequence(seq);
    const r = await client.completions.create({ model: MODEL_ID, prompt: ref.prompt_tokens, max_tokens: 24, temperature: 0 });
    expect(r.choices[0]!.text).toBe(model.tokenizer.decode(alone.tokens, { continuation: true }));
  });

  it('without max_tokens, generation runs to the end of the context (the CLI positions rule)', async () => {
    const prompt = Array.from({ length: 500 }, (_, i) => 3 + (i % 400));
    const r = await client.completions.create({ model: MODEL_ID, prompt, temperature: 0 });
    // 512 positions: 500 prompt tokens, then 13 sampled (the last is never run), unless an end token came first.
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(512 - 500 + 1);
    if (r.choices[0]!.finish_reason === 'length') expect(r.usage!.completion_tokens).toBe(13);
  });

  it('chat completions render the model template (plain text for this base model) and answer as the assistant', async () => {
    const chat = await client.chat.completions.create({
      model: MODEL_ID,
      messages: [
        { role: 'system', content: 'Once upon' },
        { role: 'user', content: ' a time' },
      ],
      max_tokens: 30,
      temperature: 0,
    });
    expect(chat.object).toBe('chat.completion');
    expect(chat.choices[0]!.message.role).toBe('assistant');
    // The plain template concatenates the turns, so this is the completion of "Once upon a time".
    expect(chat.choices[0]!.message.content).toBe(await greedyText('Once upon a time', 30));
    expect(chat.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 30, total_tokens: 35 });
  });

  it('streaming completions and chat assemble to the non-streaming text, end with finish_reason and usage', async () => {
    const whole = await greedyText('The cat', 40);
    const stream = await client.completions.create({ model: MODEL_ID, prompt: 'The cat', max_tokens: 40, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const finish: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text += c.text;
        finish.push(c.finish_reason);
      }
      usage ??= chunk.usage;
    }
    expect(text).toBe(whole);
    expect(finish.at(-1)).toBe('length');
    expect(finish.slice(0, -1).every((f) => f === null)).toBe(true);
    expect(usage).toMatchObject({ completion_tokens: 40 });

    const chatWhole = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'The dog' }], max_tokens: 25, temperature: 0 });
    const chatStream = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'The dog' }], max_tokens: 25, temperature: 0, stream: true });
    let content = '';
    let role: string | undefined;
    for await (const chunk of chatStream) {
      role ??= chunk.choices[0]?.delta.role;
      content += chunk.choices[0]?.delta.content ?? '';
    }
    expect(role).toBe('assistant');
    expect(content).toBe(chatWhole.choices[0]!.message.content);
  });

  it('a seeded sampled completion is reproducible', async () => {
    const req = { model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 20, temperature: 0.9, top_p: 0.95, seed: 1234 } as const;
    const [a, b] = await Promise.all([client.completions.create(req), client.completions.create(req)]);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
  });

  it('a repeated prompt reuses its cached KV blocks: usage reports them as cached_tokens, the text is the same', async () => {
    const prompt = 'Lily and Tom went to the big park to play with a red ball. They ran and jumped and laughed all day long.';
    const promptTokens = model.tokenizer.encode(prompt, {}).length;
    expect(promptTokens).toBeGreaterThan(32);
    const first = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 12, temperature: 0 });
    const again = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 12, temperature: 0 });
    expect(first.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    // Whole 16-token blocks of the prompt, less its last token (always run for its logits).
    expect(again.usage!.prompt_tokens_details!.cached_tokens).toBe(Math.floor((promptTokens - 1) / 16) * 16);
    expect(again.choices[0]!.text).toBe(first.choices[0]!.text);
  });

  it('stop strings cut the output before the match (also across token boundaries), streaming or not', async () => {
    const whole = await greedyText('Once upon a time', 60);
    // A stop string inside one word, and one that starts mid-token and spans several.
    for (const stop of ['Lily', whole.slice(19, 29)]) {
      const at = whole.indexOf(stop);
      expect(at).toBeGreaterThan(0);
      const r = await client.completions.create({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 60, temperature: 0, stop: [stop, 'zzz'] });
      expect(r.choices[0]!.text).toBe(whole.slice(0, at));
      expect(r.choices[0]!.finish_reason).toBe('stop');
      expect(r.usage!.completion_tokens).toBeLessThan(60);

      const stream = await client.completions.create({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 60, temperature: 0, stop, stream: true });
      let text = '';
      let finish: string | null = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.text ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(text).toBe(whole.slice(0, at));
      expect(finish).toBe('stop');
    }
  });
});

describe('OpenAI-compatible server: end of generation', () => {
  // (This model writes "<|end_story|>" as plain text tokens before its end token, id 2: that text is the story's.)
  it("the model's end token finishes with 'stop', counts as generated, and adds no text (TinyStories-656K, resumed near its end)", async () => {
    const ref = loadReference('llamacpp_TinyStories-656K-F32_once_upon_a_time.json');
    expect(ref.stopped_on_eog).toBe(true);
    const tiny = await loadTestModel(2, 'TinyStories-656K.gguf');
    const tinyServer = await startOpenAiServer({ ...tiny.options, modelId: 'TinyStories-656K' });
    try {
      // The reference's prompt and all but its last few tokens as the prompt (one prefill chunk), so the model
      // has only the story's last words and its end token (not in generated_tokens) left to write.
      const tail = 10;
      const prompt = [...ref.prompt_tokens, ...ref.generated_tokens.slice(0, -tail)];
      const r = await clientFor(tinyServer).completions.create({ model: 'TinyStories-656K', prompt, max_tokens: 50, temperature: 0 });
      expect(r.choices[0]!.finish_reason).toBe('stop');
      expect(r.usage!.completion_tokens).toBe(tail + 1);
      expect(r.choices[0]!.text).toBe(tiny.tokenizer.decode(ref.generated_tokens.slice(-tail), { continuation: true }));
    } finally {
      await tinyServer.close();
      tiny.engine.destroy();
    }
  });
});

describe('OpenAI-compatible server: API key', () => {
  it('with a key set, requests without the right Bearer token get 401; with it they are served', async () => {
    const guarded = await startOpenAiServer({ ...model.options, apiKey: 'sekret' });
    try {
      await expect(clientFor(guarded, 'wrong').models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const bare = await postJson(guarded, '/v1/completions', { prompt: 'x', max_tokens: 1 });
      expect(bare.status).toBe(401);
      expect(bare.json.error).toMatchObject({ code: 'invalid_api_key', param: null });
      expect(typeof bare.json.error.message).toBe('string');
      const ok = await clientFor(guarded, 'sekret').completions.create({ model: MODEL_ID, prompt: 'Once', max_tokens: 3, temperature: 0 });
      expect(ok.usage!.completion_tokens).toBe(3);
    } finally {
      await guarded.close();
    }
  });
});

describe('OpenAI-compatible server: bad input never takes it down', () => {
  const longPrompt = 'Once upon a time there was a cat. '.repeat(80);

  const cases: { name: string; send: () => Promise<{ status: number; json: any; headers?: Headers }>; status: number; code: string | null; param?: string | null }[] = [
    { name: 'malformed JSON', send: () => postJson(server, '/v1/completions', '{"prompt": "x",'), status: 400, code: 'invalid_json' },
    { name: 'a JSON array body', send: () => postJson(server, '/v1/chat/completions', [1, 2]), status: 400, code: 'invalid_type' },
    { name: 'max_tokens of the wrong type', send: () => postJson(server, '/v1/completions', { prompt: 'x', max_tokens: 'ten' }), status: 400, code: 'invalid_type', param: 'max_tokens' },
    { name: 'messages of the wrong type', send: () => postJson(server, '/v1/chat/completions', { messages: 'hi' }), status: 400, code: 'invalid_type', param: 'messages' },
    { name: 'temperature out of range', send: () => postJson(server, '/v1/completions', { prompt: 'x', temperature: -1 }), status: 400, code: 'invalid_value', param: 'temperature' },
    { name: 'n = 2', send: () => postJson(server, '/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], n: 2 }), status: 400, code: 'unsupported_parameter', param: 'n' },
    { name: 'a token id outside the vocabulary', send: () => postJson(server, '/v1/completions', { prompt: [1, 99999] }), status: 400, code: 'invalid_value', param: 'prompt' },
    { name: 'an unknown model', send: () => postJson(server, '/v1/completions', { model: 'gpt-4o', prompt: 'x' }), status: 404, code: 'model_not_found', param: 'model' },
    { name: 'an oversized body', send: () => postJson(server, '/v1/completions', { prompt: 'x'.repeat(BODY_LIMIT + 1) }), status: 413, code: 'request_too_large' },
    { name: 'a prompt longer than the context', send: () => postJson(server, '/v1/completions', { prompt: longPrompt }), status: 400, code: 'context_length_exceeded', param: 'prompt' },
    { name: 'a prompt far past the context (refused untokenized)', send: () => postJson(server, '/v1/completions', { prompt: 'a'.repeat(60_000) }), status: 400, code: 'context_length_exceeded', param: 'prompt' },
    {
      name: 'chat messages longer than the context',
      send: () => postJson(server, '/v1/chat/completions', { messages: [{ role: 'user', content: longPrompt }] }),
      status: 400,
      code: 'context_length_exceeded',
      param: 'messages',
    },
    { name: 'an unknown route', send: () => postJson(server, '/v1/embeddings', { input: 'x' }), status: 404, code: 'unknown_url' },
    { name: 'the wrong method', send: async () => { const r = await fetch(`${server.url}/v1/chat/completions`); return { status: r.status, json: await r.json(), headers: r.headers }; }, status: 405, code: 'method_not_allowed' },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}, then the next request is served`, async () => {
      const r = await c.send();
      expect(r.status).toBe(c.status);
      expect(Object.keys(r.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(r.json.error.code).toBe(c.code);
      expect(r.json.error.type).toBe('invalid_request_error');
      if (c.param !== undefined) expect(r.json.error.param).toBe(c.param);
      if (c.status === 405) expect(r.headers?.get('allow')).toBe('POST');
      const next = await client.completions.create({ model: MODEL_ID, prompt: 'Once', max_tokens: 1, temperature: 0 });
      expect(next.usage!.completion_tokens).toBe(1);
    });
  }

  it('the openai client surfaces these as its typed errors', async () => {
    await expect(client.completions.create({ model: 'nope', prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const e = await client.completions.create({ model: MODEL_ID, prompt: longPrompt }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect((e as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('context_length_exceeded');
  });
});

describe('OpenAI-compatible server: web pages', () => {
  /** A GET with chosen Host and Origin headers (fetch will not send a foreign Host). */
  function getWith(headers: Record<string, string>): Promise<{ status: number; json: any }> {
    const { port } = new URL(server.url);
    return new Promise((ok, fail) => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/models', headers }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => ok({ status: res.statusCode!, json: JSON.parse(body) }));
      });
      req.on('error', fail);
      req.end();
    });
  }

  it('answers loopback host names and same-origin pages; refuses DNS-rebound host names and foreign origins (403)', async () => {
    const { port } = new URL(server.url);
    expect((await getWith({ host: `localhost:${port}` })).status).toBe(200);
    expect((await getWith({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    const rebound = await getWith({ host: `attacker.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.json.error.code).toBe('forbidden_host');
    const page = await getWith({ host: `127.0.0.1:${port}`, origin: 'https://attacker.example' });
    expect(page.status).toBe(403);
    expect(page.json.error.code).toBe('forbidden_origin');
  });
});

describe('OpenAI-compatible server: disconnects', () => {
  it('a client that disconnects mid-stream has its sequence aborted and its KV blocks freed; the next request works', async () => {
    const { engine } = model;
    expect(engine.freeKvBlocks).toBe(engine.pool.blocks);
    const abort = new AbortController();
    const res = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 400, temperature: 0, stream: true }),
      signal: abort.signal,
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let received = '';
    while ((received.match(/^data: /gm) ?? []).length < 3) received += new TextDecoder().decode((await reader.read()).value);
    expect(engine.freeKvBlocks).toBeLessThan(engine.pool.blocks); // it holds blocks while it runs
    abort.abort();
    await eventually(() => engine.freeKvBlocks === engine.pool.blocks);
    const ref = loadReference('llama2c_stories260K_once_upon_a_time.json');
    expect(await greedyText(ref.prompt, 8)).toBe(model.tokenizer.decode(ref.generated_tokens.slice(0, 8), { continuation: true }));
  });

  it('a non-streaming request whose client leaves is aborted too', async () => {
    const { engine } = model;
    const abort = new AbortController();
    const pending = fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 450, temperature: 0 }),
      signal: abort.signal,
    }).catch((e: unknown) => e);
    await eventually(() => engine.freeKvBlocks < engine.pool.blocks);
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    await eventually(() => engine.freeKvBlocks === engine.pool.blocks);
    expect((await greedyText('Once', 3)).length).toBeGreaterThan(0);
  });
});
