// A real server on 127.0.0.1 (port 0) over a real engine with stories260K, and helpers to talk to it.
import OpenAI from 'openai';
import { Engine, type EngineOptions } from '../../src/gpu/engine/engine';
import { tokenizerFromGguf, type Tokenizer } from '../../src/gpu/tokenizer';
import { startOpenAiServer, type OpenAiServer, type OpenAiServerOptions } from '../../src/server';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';

export const MODEL_ID = 'stories260K';

export interface TestModel {
  readonly engine: Engine;
  readonly tokenizer: Tokenizer;
  readonly options: Pick<OpenAiServerOptions, 'engine' | 'tokenizer' | 'metadata' | 'modelId'>;
}

export async function loadTestModel(maxSeqs = 8, name = 'stories260K.gguf', options: EngineOptions = {}): Promise<TestModel> {
  const file = openModel(name);
  const engine = await Engine.load(await testDevice(), file, { ...options, maxSeqs });
  const tokenizer = tokenizerFromGguf(file.metadata);
  return { engine, tokenizer, options: { engine, tokenizer, metadata: file.metadata, modelId: name.replace(/\.gguf$/, '') } };
}

export function clientFor(server: OpenAiServer, apiKey = 'not-checked'): OpenAI {
  // No retries: every request in a test is meant to be seen exactly once.
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: 110_000 });
}

export { startOpenAiServer };

/** POSTs a JSON (or raw string) body and returns the status and parsed JSON answer. */
export async function postJson(server: OpenAiServer, path: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

/** Resolves when `check` holds, polling; fails after `ms`. */
export async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
