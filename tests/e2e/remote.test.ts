/// <reference lib="dom" />
// A chat on a remote OpenAI-compatible server, end to end: our own server (src/server, stories260K on Dawn) on
// loopback with an API key, added in the UI's Servers panel; a remote chat streams the server's own greedy answer
// through main (remoteSend, remote:delta events), Stop keeps the partial answer with a Continue button, and a wrong
// key is a clear 401 message. Screenshots go to os.tmpdir().
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../src/shared/api';
import { chunk, httpServer, sseHead } from '../main/remote/helpers/http';
import { clientFor, loadTestModel, MODEL_ID, startOpenAiServer } from '../server/harness';
import type { OpenAiServer } from '../../src/server';
import { buildRenderer } from './build';
import { ChatPage, launchChromium } from './chat-page';
import { startHost, type TestHost } from './host';

const SCREENS = mkdtempSync(join(tmpdir(), 'kvchat-e2e-remote-screens-'));
const DATA = mkdtempSync(join(tmpdir(), 'kvchat-e2e-remote-data-'));
const STATIC = mkdtempSync(join(tmpdir(), 'kvchat-e2e-remote-renderer-'));
const KEY = 'sk-kvchat-e2e-0123456789abcdef';
const PROMPT = 'Once upon a time';
const GREEDY_TOKENS = 24;

const ok = <T>(r: ApiResult<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};
const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

let host: TestHost;
let server: OpenAiServer;
let browser: Browser;
let app: ChatPage;

beforeAll(async () => {
  const model = await loadTestModel(4);
  server = await startOpenAiServer({ ...model.options, apiKey: KEY });
  await buildRenderer(STATIC);
  host = await startHost({ dataDir: DATA, staticDir: STATIC });
  browser = await launchChromium();
  app = new ChatPage(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
  console.log(`e2e remote screenshots: ${SCREENS}`);
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await server?.close();
});

/** The server's own greedy answer to PROMPT, with the parameters a chat sends (its settings). */
async function serverGreedyAnswer(): Promise<string> {
  const r = await clientFor(server, KEY).chat.completions.create({
    model: MODEL_ID,
    messages: [{ role: 'user', content: PROMPT }],
    temperature: 0,
    top_p: 0.95,
    max_tokens: GREEDY_TOKENS,
  });
  return r.choices[0]!.message.content ?? '';
}

/** Records, in the page, each text the streaming answer shows (a MutationObserver sees every React commit). */
async function recordStreaming(): Promise<void> {
  await app.page.evaluate(() => {
    const w = window as unknown as { streamedTexts: string[] };
    w.streamedTexts = [];
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid="message-assistant"][data-status="streaming"] [data-testid="message-content"]');
      const t = el?.textContent;
      if (t !== undefined && t !== null && t !== w.streamedTexts.at(-1)) w.streamedTexts.push(t);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

describe('a chat on a remote server', () => {
  it('adds our loopback server in the Servers panel (key in a password field, never shown back) and lists its model', async () => {
    await app.open(host.url);
    await app.goTo('servers');
    await app.page.fill('[data-testid="server-name"]', 'Loopback');
    await app.page.fill('[data-testid="server-url"]', `${server.url}/v1`);
    expect(await app.page.getAttribute('[data-testid="server-key"]', 'type')).toBe('password');
    await app.page.fill('[data-testid="server-key"]', KEY);
    await app.click('add-server');
    await app.page.waitForSelector('[data-testid="remote-model"]', { timeout: 30_000 });
    expect(await app.page.locator('[data-testid="remote-model"]').allTextContents()).toEqual([MODEL_ID]);
    expect(await app.page.inputValue('[data-testid="server-key"]')).toBe('');
    expect(await app.page.content()).not.toContain(KEY);
    const [provider] = ok(await host.call('listRemoteProviders'));
    expect(provider).toMatchObject({ name: 'Loopback', hasApiKey: true });
    expect(JSON.stringify(provider)).not.toContain(KEY);
    await app.screenshot(SCREENS, '01-server-added');
  });

  it("streams the server's greedy answer into a new remote chat and saves both messages", async () => {
    const expected = await serverGreedyAnswer();
    expect(expected.length).toBeGreaterThan(0);
    await app.goTo('chat');
    await app.page.check('[data-testid="target-remote"]');
    await app.page.waitForFunction(() => (document.querySelector('[data-testid="target-model"]') as HTMLSelectElement | null)?.value === 'stories260K');
    expect(await app.text('status-model')).toBe(`remote: Loopback/${MODEL_ID}`);
    await app.setSettings({ temperature: 0, maxTokens: GREEDY_TOKENS });
    await recordStreaming();
    await app.send(PROMPT);
    const answer = await app.waitForAnswer(60_000);
    // 24 tokens arrive faster than a poll: every text the streaming message showed was recorded as it changed.
    const shown = (await app.page.evaluate(() => (window as unknown as { streamedTexts: string[] }).streamedTexts)).filter((t) => t !== '');
    expect(shown.length).toBeGreaterThan(0);
    for (const t of shown) expect(squash(expected).startsWith(squash(t)), `streamed ${JSON.stringify(t)} is not a prefix of ${JSON.stringify(expected)}`).toBe(true);
    // (React may commit the last pieces together with the end of the stream: the whole text is checked below.)
    expect(answer.status).toBe('complete');
    expect(squash(answer.text)).toBe(squash(expected));

    const [conversation] = ok(await host.call('listConversations'));
    expect(ok(await host.call('getConversationRemote', { conversationId: conversation!.id }))).toMatchObject({ model: MODEL_ID });
    expect(conversation!.settings).toMatchObject({ temperature: 0, maxTokens: GREEDY_TOKENS });
    const thread = ok(await host.call('getMessages', { conversationId: conversation!.id }));
    expect(thread.messages.map((m) => [m.role, m.status, m.content])).toEqual([
      ['user', 'complete', PROMPT],
      ['assistant', 'complete', expected],
    ]);
    expect(await app.text('status-model')).toBe(`remote: Loopback/${MODEL_ID}`);
    expect(await app.page.locator('[data-testid="edit"]').count()).toBe(0);
    await app.screenshot(SCREENS, '02-remote-answer');
  });

  it('Stop keeps the partial answer, marked incomplete with a Continue button that appends to it', async () => {
    await app.setSettings({ maxTokens: 400 });
    await app.send('The little dog');
    const partial = await app.waitForStreamedText(1, 60_000);
    await app.click('stop');
    const stopped = await app.waitForAnswer(60_000);
    expect(stopped.status).toBe('incomplete');
    expect(squash(stopped.text).startsWith(squash(partial))).toBe(true);
    expect(await app.page.locator('[data-testid="continue"]').count()).toBe(1);
    await app.screenshot(SCREENS, '03-stopped');

    await app.setSettings({ maxTokens: 4 });
    await app.click('continue');
    const continued = await app.waitForAnswer(60_000);
    expect(continued.status).toBe('complete');
    expect(squash(continued.text).startsWith(squash(stopped.text))).toBe(true);
    expect(continued.text.length).toBeGreaterThan(stopped.text.length);
    expect(await app.page.locator('[data-testid="message-assistant"]').count()).toBe(2);

    // Regenerate: a new answer from the server, as a second branch of the same question.
    await app.click('regenerate');
    const regenerated = await app.waitForAnswer(60_000);
    expect(regenerated.status).toBe('complete');
    expect(await app.page.locator('[data-testid="message-assistant"]').last().locator('[data-testid="branch-pos"]').textContent()).toBe('2/2');
  });

  it('a wrong API key is a clear 401 message: in the Servers panel, and on send with the question kept', async () => {
    await app.goTo('servers');
    await app.page.fill('[data-testid="server-name"]', 'Wrong key');
    await app.page.fill('[data-testid="server-url"]', `${server.url}/v1`);
    await app.page.fill('[data-testid="server-key"]', 'sk-wrong-key-42');
    await app.click('add-server');
    const modelsError = app.page.locator('[data-testid="server-item"]', { hasText: 'Wrong key' }).locator('[data-testid="remote-models-error"]');
    await modelsError.waitFor({ timeout: 30_000 });
    expect(await modelsError.textContent()).toMatch(/127\.0\.0\.1.*\(401\)\. Check the key/);

    // The open chat's server gets a wrong key: the next answer fails with the same clear message.
    const provider = ok(await host.call('listRemoteProviders')).find((p) => p.name === 'Loopback')!;
    ok(await host.call('updateRemoteProvider', { id: provider.id, apiKey: 'sk-wrong-key-42' }));
    await app.goTo('chat');
    await app.send('Hello?');
    await app.waitForAnswer(60_000);
    expect(await app.text('error')).toMatch(/\(401\)\. Check the key/);
    expect(await app.text('error')).not.toContain('sk-wrong-key-42');
    const users = await app.page.locator('[data-testid="message-user"] [data-testid="message-content"]').allTextContents();
    expect(users.at(-1)).toBe('Hello?');
    expect(await app.page.locator('[data-testid="message-assistant"]').last().getAttribute('data-status')).toBe('error');
    await app.screenshot(SCREENS, '04-wrong-key');

    // Removing a server takes it off the panel (its chats stay).
    await app.goTo('servers');
    await app.page.locator('[data-testid="server-item"]', { hasText: 'Wrong key' }).locator('[data-testid="remove-server"]').click();
    await app.page.waitForFunction(() => document.querySelectorAll('[data-testid="server-item"]').length === 1);
    expect(ok(await host.call('listRemoteProviders')).map((p) => p.name)).toEqual(['Loopback']);
    expect(ok(await host.call('listConversations'))).toHaveLength(1);
    expect(app.errors).toEqual([]);
  });

  it('a stream cut mid-answer shows the error and keeps the part received, incomplete, with Continue', async () => {
    const cutting = await httpServer((req, res) => {
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'cut', object: 'model' }] }));
        return;
      }
      sseHead(res);
      res.write(chunk('Half an '));
      res.write(chunk('answer'));
      setTimeout(() => res.destroy(), 50);
    });
    const provider = ok(await host.call('addRemoteProvider', { name: 'Cutter', baseUrl: cutting.url }));
    const conversation = ok(await host.call('createRemoteConversation', { providerId: provider.id, model: 'cut', title: 'Cut short' }));
    await app.reload();
    await app.openConversationById(conversation.id);
    await app.page.waitForFunction(() => document.querySelector('[data-testid="status-model"]')?.textContent === 'remote: Cutter/cut');
    await app.send('Tell me');
    const cut = await app.waitForAnswer(60_000);
    expect(cut.status).toBe('incomplete');
    expect(squash(cut.text)).toBe('Half an answer');
    expect(await app.text('error')).toMatch(/127\.0\.0\.1/);
    expect(await app.text('incomplete-note')).toMatch(/^Incomplete: /);
    expect(await app.page.locator('[data-testid="continue"]').count()).toBe(1);
    await app.screenshot(SCREENS, '05-cut-short');
    expect(app.errors).toEqual([]);
  });
});
