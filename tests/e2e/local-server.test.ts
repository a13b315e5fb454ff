/// <reference lib="dom" />
// The local OpenAI-compatible server switched on from the app's settings: main (the test host) serves HTTP, the
// page's engine worker generates over the bridge. Called from Node with the official openai client: the greedy
// completion equals the reference continuation token for token, streaming agrees, a wrong key is a 401, and
// switching it off closes the port.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { connectResult } from '../helpers/net';
import { loadReference, openModel } from '../helpers/shared';
import { buildRenderer } from './build';
import { ChatPage, launchChromium } from './chat-page';
import { startHost, type TestHost } from './host';

const DATA = mkdtempSync(join(tmpdir(), 'kvchat-e2e-local-server-'));
const STATIC = mkdtempSync(join(tmpdir(), 'kvchat-e2e-renderer-'));
const REFERENCE = 'llama2c_stories260K_once_upon_a_time.json';
const TOKENS = 16;
const KEY = 'local-secret';

let host: TestHost;
let browser: Browser;
let app: ChatPage;
let port: number;

/** A port free right now (the server binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const client = (apiKey: string): OpenAI => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });

beforeAll(async () => {
  await buildRenderer(STATIC);
  host = await startHost({ dataDir: DATA, staticDir: STATIC });
  browser = await launchChromium();
  app = new ChatPage(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
  port = await freePort();
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
});

describe('Local API server', () => {
  it('is off by default; turned on in the settings it shows its URL', async () => {
    await app.open(host.url);
    await app.waitForModelReady();
    const before = await host.call('getLocalServer');
    expect(before.ok && before.value).toMatchObject({ enabled: false, url: null, hasApiKey: false });
    await app.goTo('servers');
    await app.page.fill('[data-testid="local-server-port"]', String(port));
    await app.page.fill('[data-testid="local-server-key"]', KEY);
    // A controlled checkbox: it changes once main answers, so click rather than check().
    await app.page.click('[data-testid="local-server-toggle"]');
    await app.page.waitForSelector(`[data-testid="local-server-url"]:has-text("http://127.0.0.1:${port}/v1")`, { timeout: 30_000 });
    const after = await host.call('getLocalServer');
    expect(after.ok && after.value).toMatchObject({ enabled: true, url: `http://127.0.0.1:${port}/v1`, port, hasApiKey: true });
  });

  it('answers the openai client: models, a greedy completion equal to the reference, the same text streamed', async () => {
    const ref = loadReference(REFERENCE);
    const tokenizer = tokenizerFromGguf(openModel('stories260K.gguf').metadata);
    const expected = tokenizer.decode(ref.generated_tokens.slice(0, TOKENS), { continuation: true });
    const c = client(KEY);
    const models = await c.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['stories260K']);
    const r = await c.completions.create({ model: 'stories260K', prompt: ref.prompt, max_tokens: TOKENS, temperature: 0 });
    expect(r.choices[0]!.text).toBe(expected);
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.usage).toMatchObject({ prompt_tokens: ref.prompt_tokens.length, completion_tokens: TOKENS });

    const stream = await c.completions.create({ model: 'stories260K', prompt: ref.prompt, max_tokens: TOKENS, temperature: 0, stream: true });
    const pieces: string[] = [];
    for await (const chunk of stream) pieces.push(chunk.choices[0]?.text ?? '');
    expect(pieces.filter((p) => p.length > 0).length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe(expected);
  });

  it('refuses a wrong key with 401', async () => {
    await expect(client('wrong-key').models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('turned off, its port refuses connections', async () => {
    await app.page.click('[data-testid="local-server-toggle"]');
    await app.page.waitForSelector('[data-testid="local-server-url"]', { state: 'detached' });
    const off = await host.call('getLocalServer');
    expect(off.ok && off.value).toMatchObject({ enabled: false, url: null });
    expect(await connectResult(port)).toBe('ECONNREFUSED');
    expect(app.errors).toEqual([]);
  });
});
