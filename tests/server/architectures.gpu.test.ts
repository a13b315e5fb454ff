// Every architecture we claim serves through the OpenAI API, not only through the engine: the synthetic models that
// llama.cpp checked us against (Gemma 2/3, Phi-3, Llama with YaRN, gpt-oss, Qwen3-MoE) behind a real server on
// 127.0.0.1, a greedy /v1/completions request on a fixture's prompt (token ids, as llama.cpp was fed), streamed and
// not: the text is llama.cpp's greedy tokens decoded, up to the first end-of-generation token.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { startOpenAiServer, type OpenAiServer } from '../../src/server';
import { SYNTHETIC_GEMMA, syntheticGemmaGguf } from '../helpers/gemma-synthetic';
import { SYNTHETIC_GPT_OSS, syntheticGptOssGguf } from '../helpers/gpt-oss-synthetic';
import { testDevice } from '../helpers/gpu';
import { buildMoeModel } from '../helpers/moe-model';
import { FIXTURE_CONTEXTS, SYNTHETIC_ROPE, syntheticRopeGguf } from '../helpers/phi3-synthetic';
import { clientFor, postJson } from './harness';

interface Fixture {
  readonly cases: readonly { readonly prompt_tokens: number[]; readonly generated_tokens: number[] }[];
}

const fixture = (name: string): Fixture => JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')) as Fixture;

/** Name, file bytes, the llama.cpp fixture and the context it was made at (undefined: the model's own). */
const MODELS: readonly [string, () => Uint8Array, string, number | undefined][] = [
  ['gemma3', () => syntheticGemmaGguf(SYNTHETIC_GEMMA.gemma3), 'arch-gemma3', undefined],
  ['gemma2', () => syntheticGemmaGguf(SYNTHETIC_GEMMA.gemma2), 'arch-gemma2', undefined],
  ['phi3', () => syntheticRopeGguf(SYNTHETIC_ROPE.phi3), 'arch-phi3-short', FIXTURE_CONTEXTS.phi3Short],
  ['llama-yarn', () => syntheticRopeGguf(SYNTHETIC_ROPE.llamaYarn), 'arch-llama-yarn', FIXTURE_CONTEXTS.llamaYarn],
  ['gpt-oss', () => syntheticGptOssGguf(SYNTHETIC_GPT_OSS), 'arch-gpt-oss', undefined],
  ['qwen3moe', () => buildMoeModel(), 'qwen3moe-llamacpp', undefined],
];

/** Tokens the server may send for this request. */
const MAX_TOKENS = 12;

const servers: OpenAiServer[] = [];
const engines: Engine[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  for (const e of engines) e.destroy();
});

describe.each(MODELS)('%s through the OpenAI server', (name, bytes, fixtureName, contextLength) => {
  it("answers a greedy completion with llama.cpp's tokens, streamed and not", async () => {
    const file = GgufFile.fromBytes(bytes());
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 2, ...(contextLength ? { contextLength } : {}) });
    engines.push(engine);
    const tokenizer = tokenizerFromGguf(file.metadata);
    const server = await startOpenAiServer({ engine, tokenizer, metadata: file.metadata, modelId: name });
    servers.push(server);

    const c = fixture(fixtureName).cases[0]!;
    const end = c.generated_tokens.findIndex((t) => tokenizer.endOfGeneration.has(t));
    const expected = c.generated_tokens.slice(0, Math.min(MAX_TOKENS, end < 0 ? MAX_TOKENS : end));
    const want = tokenizer.decode(expected, { continuation: true });

    const request = { model: name, prompt: c.prompt_tokens, max_tokens: MAX_TOKENS, temperature: 0 };
    const { status, json } = await postJson(server, '/v1/completions', request);
    expect(status).toBe(200);
    expect(json.choices[0].text).toBe(want);
    expect(json.usage).toMatchObject({ prompt_tokens: c.prompt_tokens.length, completion_tokens: expected.length + (end >= 0 && end < MAX_TOKENS ? 1 : 0) });

    let streamed = '';
    for await (const chunk of await clientFor(server).completions.create({ ...request, stream: true })) streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(want);
  });
});
