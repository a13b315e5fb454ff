/// <reference lib="dom" />
// The app end to end in headless Chromium (WebGPU on SwiftShader): the renderer built with Vite, served by the
// test host over the real main-process services (SQLite store, model library with the bundled stories260K).
// Greedy output must equal the independent reference token for token; a restarted host resumes from disk.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import type { ApiResult } from '../../src/shared/api';
import { loadReference, modelPath, openModel } from '../helpers/shared';
import { buildRenderer } from './build';
import { ChatPage, launchChromium } from './chat-page';
import { startHost, type TestHost } from './host';

const SCREENS = mkdtempSync(join(tmpdir(), 'kvchat-e2e-screens-'));
const DATA = mkdtempSync(join(tmpdir(), 'kvchat-e2e-data-'));
const STATIC = mkdtempSync(join(tmpdir(), 'kvchat-e2e-renderer-'));
/** 5 prompt tokens + 24 generated: one full 16-token KV block to persist and resume. */
const GREEDY_TOKENS = 24;
const REFERENCE = 'llama2c_stories260K_once_upon_a_time.json';

const ok = <T>(r: ApiResult<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};
const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

let host: TestHost;
let browser: Browser;
let app: ChatPage;

beforeAll(async () => {
  await buildRenderer(STATIC);
  host = await startHost({ dataDir: DATA, staticDir: STATIC });
  browser = await launchChromium();
  app = new ChatPage(await browser.newPage({ viewport: { width: 1280, height: 800 } }));
  console.log(`e2e screenshots: ${SCREENS}`);
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
});

describe('KVChat in Chromium', () => {
  it('first start: the bundled default model is selected and loads on WebGPU', async () => {
    await app.open(host.url);
    await app.waitForModelReady();
    expect(await app.modelStatus()).toBe('stories260K (built in) ready');
    const models = ok(await host.call('listModels'));
    expect(models.map((m) => m.name)).toEqual(['stories260K (built in)']);
    expect(await app.page.locator('[data-testid="model-item"] input[type="radio"]').isChecked()).toBe(true);
    // Shift+Enter is a new line, not a send.
    await app.page.fill('[data-testid="composer"]', 'a');
    await app.page.press('[data-testid="composer"]', 'Shift+Enter');
    await app.page.type('[data-testid="composer"]', 'b');
    expect(await app.page.inputValue('[data-testid="composer"]')).toBe('a\nb');
    expect(ok(await host.call('listConversations'))).toEqual([]);
    await app.page.fill('[data-testid="composer"]', '');
    await app.screenshot(SCREENS, '01-first-start');
  });

  it('streams the greedy answer, equal to the reference continuation token for token, and saves both messages', async () => {
    const ref = loadReference(REFERENCE);
    const expected = greedyExpected();
    await app.setSettings({ temperature: 0, repeatPenalty: 1, maxTokens: GREEDY_TOKENS });
    await app.send(ref.prompt);
    const partial = await app.waitForStreamedText(1);
    const answer = await app.waitForAnswer();
    // Markdown turns newlines into <br>: compare the words, with their spacing squashed.
    expect(squash(expected).startsWith(squash(partial)), `streamed ${JSON.stringify(partial)} is not a prefix of ${JSON.stringify(expected)}`).toBe(true);
    expect(squash(partial).length).toBeLessThan(squash(expected).length);
    expect(answer.status).toBe('complete');
    expect(squash(answer.text)).toBe(squash(expected));

    const [conversation] = ok(await host.call('listConversations'));
    const thread = ok(await host.call('getMessages', { conversationId: conversation!.id }));
    expect(thread.messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(thread.messages[0]!.content).toBe(ref.prompt);
    expect(thread.messages[0]!.tokenCount).toBe(ref.prompt_tokens.length);
    expect(thread.messages[1]!.content).toBe(expected);
    expect(thread.messages[1]!.tokenCount).toBe(GREEDY_TOKENS);
    // The KV blocks went to the store: one full block of 16 tokens, named in the conversation's table, and the
    // conversation's own partial tail block (the computed positions after it), so a resume recomputes nothing.
    const kv = ok(await host.call('getConversationKv', { conversationId: conversation!.id }))!;
    expect(kv.tokens.byteLength / 4).toBe(ref.prompt_tokens.length + GREEDY_TOKENS);
    expect(ok(await host.call('getKvUsage')).blocks).toBe(2);
    expect(await app.text('status-tps')).toMatch(/^\d+\.\d tok\/s$/);
    expect(await app.text('status-context')).toBe(`context ${ref.prompt_tokens.length + GREEDY_TOKENS}/512`);
    await app.showKv();
    await app.page.waitForSelector('[data-testid="kv-cell"][data-state="used"]');
    await app.screenshot(SCREENS, '02-greedy-answer');
  });

  it('regenerate makes a new branch; both answers stay browsable with < 1/2 >', async () => {
    await app.click('regenerate');
    const again = await app.waitForAnswer();
    expect(again.status).toBe('complete');
    // Greedy: the new branch says the same thing again.
    expect(squash(again.text)).toBe(squash(greedyExpected()));
    expect(await app.text('branch-pos')).toBe('2/2');
    await app.click('branch-prev');
    await app.page.waitForSelector('[data-testid="branch-pos"]:text("1/2")');
    await app.screenshot(SCREENS, '03-branches');
  });

  it('Esc stops a long answer mid-stream; the stopped answer is saved as incomplete', async () => {
    await app.newChat();
    await app.setSettings({ temperature: 0, repeatPenalty: 1, maxTokens: 400 });
    await app.send('The little dog');
    await app.waitForStreamedText(8);
    // The KV picture is live mid-answer: its blocks fill and the context counts the tokens written so far.
    await app.showKv();
    await app.page.waitForSelector('[data-testid="kv-live"]', { timeout: 20_000 });
    expect(await app.page.locator('[data-testid="kv-cell"][data-state="used"]').count()).toBeGreaterThan(0);
    await expect.poll(async () => Number(/^context (\d+)\//.exec(await app.text('status-context'))?.[1] ?? 0), { timeout: 20_000 }).toBeGreaterThan(8);
    await expect.poll(async () => /^ctx [1-9]\d*\/512$/.test(await app.text('kv-gauge-context')), { timeout: 20_000 }).toBe(true);
    // While it streams, the answer is already on disk as incomplete, with the text so far.
    await expect
      .poll(
        async () => {
          const c = ok(await host.call('listConversations')).find((x) => x.title === 'The little dog');
          const m = c ? ok(await host.call('getMessages', { conversationId: c.id })).messages[1] : undefined;
          return m && m.status === 'incomplete' ? m.content.length : 0;
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBeGreaterThan(0);
    await app.page.keyboard.press('Escape');
    const answer = await app.waitForAnswer();
    expect(answer.status).toBe('incomplete');
    const conversations = ok(await host.call('listConversations'));
    const stopped = conversations.find((c) => c.title === 'The little dog')!;
    const thread = ok(await host.call('getMessages', { conversationId: stopped.id }));
    expect(thread.messages[1]!.status).toBe('incomplete');
    expect(thread.messages[1]!.stats.stopReason).toBe('cancelled');
    expect(thread.messages[1]!.tokenCount!).toBeLessThan(400);
    await app.screenshot(SCREENS, '04-stopped');
  });

  it('search finds words of an answer through the full-text index and opens the conversation', async () => {
    await app.page.fill('[data-testid="search"]', 'Lily');
    const hit = app.page.locator('[data-testid="search-hit"]', { hasText: 'Once upon a time' }).first();
    await hit.waitFor();
    expect(await hit.locator('mark').first().textContent()).toMatch(/lily/i);
    await app.screenshot(SCREENS, '05-search');
    await hit.locator('button').click();
    await app.page.fill('[data-testid="search"]', '');
    await app.page.waitForSelector('[data-testid="message-user"]:has-text("Once upon a time")');
  });

  it('after a restart of the host, an old conversation resumes its KV cache from disk', async () => {
    const port = host.port;
    await host.close();
    host = await startHost({ dataDir: DATA, staticDir: STATIC, port });
    await app.reload();
    await app.waitForModelReady();
    await app.openConversation('Once upon a time');
    await app.page.waitForSelector('[data-testid="status-resume"][data-source="disk"]', { timeout: 60_000 });
    // Every computed position comes back: the full block and the tail block (the last token is still pending).
    const computed = loadReference(REFERENCE).prompt_tokens.length + GREEDY_TOKENS - 1;
    expect(await app.text('status-resume')).toMatch(new RegExp(`^KV from disk in \\d+ ms \\(${computed} tokens reused\\)$`));
    await app.screenshot(SCREENS, '06-resumed-from-disk');
    // The next answer starts from the restored blocks, and says so in its stats.
    await app.setSettings({ maxTokens: 4 });
    await app.send(' One day');
    const answer = await app.waitForAnswer();
    expect(answer.status).toBe('complete');
    const conversation = ok(await host.call('listConversations')).find((c) => c.title === 'Once upon a time')!;
    const last = ok(await host.call('getMessages', { conversationId: conversation.id })).messages.at(-1)!;
    expect(last.stats.resumeSource).toBe('disk');
    // Only what the disk did not hold runs: the history's last, still pending token and the new message's 3.
    expect(last.stats.recomputedTokens).toBe(ref29() - computed + 3);
  });

  it('a lost GPU device: the model reloads and the conversation resumes from the stored KV', async () => {
    await app.page.evaluate(() => (window as unknown as { kvchatDebug: { loseDevice(): void } }).kvchatDebug.loseDevice());
    await app.page.waitForSelector('[data-testid="model-status"]:has-text("device was lost")', { timeout: 30_000 });
    await app.waitForModelReady();
    await app.send(' The sun');
    const answer = await app.waitForAnswer();
    expect(answer.status).toBe('complete');
    expect(await app.page.getAttribute('[data-testid="status-resume"]', 'data-source')).toBe('disk');
    await app.screenshot(SCREENS, '07-after-device-loss');
  });

  it('without a WebGPU adapter the app says what it needs instead of failing silently', async () => {
    const plain = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--no-first-run'] });
    try {
      const page = new ChatPage(await plain.newPage());
      await page.open(host.url);
      await page.page.waitForSelector('[data-testid="model-status"][data-phase="error"]', { timeout: 30_000 });
      expect(await page.modelStatus()).toMatch(/WebGPU.*(adapter|GPU)/);
      expect(await page.page.isDisabled('[data-testid="composer"]')).toBe(false);
      expect(await page.page.isDisabled('[data-testid="send"]')).toBe(true);
      await page.screenshot(SCREENS, '08-no-webgpu');
    } finally {
      await plain.close();
    }
  });

  it('importing a corrupt file shows a clear error and adds no model', async () => {
    const bad = join(DATA, 'broken.gguf');
    writeFileSync(bad, Buffer.from('this is not a GGUF model file at all, just text'));
    host.pickQueue.push(bad);
    await app.goTo('models');
    await app.click('import-model');
    const error = app.page.locator('[data-testid="model-error"]');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/GGUF|magic|not a model/i);
    // The same through drag and drop.
    await app.page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['GGUF but truncated'], 'dropped.gguf'));
      document.querySelector('[data-testid="model-manager"]')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await app.page.waitForFunction(() => /dropped|truncated|GGUF|short|end of/i.test(document.querySelector('[data-testid="model-error"]')?.textContent ?? ''));
    expect(ok(await host.call('listModels'))).toHaveLength(1);
    await app.screenshot(SCREENS, '09-corrupt-import');
  });

  it('editing a question makes a new branch with its own answer; the old one stays', async () => {
    await app.openConversation('The little dog');
    await app.setSettings({ maxTokens: 6 });
    await app.page.locator('[data-testid="message-user"] [data-testid="edit"]').first().click();
    await app.page.fill('[data-testid="edit-input"]', 'The big cat');
    await app.page.click('[data-testid="edit-save"]');
    const answer = await app.waitForAnswer();
    expect(answer.status).toBe('complete');
    const question = app.page.locator('[data-testid="message-user"]').first();
    expect(await question.locator('[data-testid="message-content"]').textContent()).toBe('The big cat');
    expect(await question.locator('[data-testid="branch-pos"]').textContent()).toBe('2/2');
    await question.locator('[data-testid="branch-prev"]').click();
    await app.page.waitForSelector('[data-testid="message-user"] [data-testid="message-content"]:text-is("The little dog")');
    await app.screenshot(SCREENS, '10-edit-branch');
  });

  it('rename and delete a conversation', async () => {
    const item = app.page.locator('[data-testid="conversation-item"]', { hasText: 'The little dog' });
    await item.locator('[data-testid="rename"]').click();
    await app.page.fill('[data-testid="rename-input"]', 'Pets');
    await app.page.press('[data-testid="rename-input"]', 'Enter');
    await app.page.waitForSelector('[data-testid="conversation-item"]:has-text("Pets")');
    expect(ok(await host.call('listConversations')).map((c) => c.title)).toContain('Pets');
    const usedCells = () => app.page.locator('[data-testid="kv-cell"][data-state="used"]').count();
    const usedBefore = await usedCells();
    await app.page.locator('[data-testid="conversation-item"]', { hasText: 'Pets' }).locator('[data-testid="delete"]').click();
    await app.page.waitForSelector('[data-testid="conversation-item"]:has-text("Pets")', { state: 'detached' });
    // Its sequence's GPU blocks are freed at once.
    await expect.poll(usedCells, { timeout: 10_000 }).toBeLessThan(usedBefore);
    expect(ok(await host.call('listConversations')).map((c) => c.title)).toEqual(['Once upon a time']);
  });

  it('imports another model through the dialog, chats with it (greedy = its reference), and deletes it', async () => {
    host.pickQueue.push(modelPath('TinyStories-656K-Q4_0.gguf'));
    await app.goTo('models');
    await app.click('import-model');
    const item = app.page.locator('[data-testid="model-item"]', { hasText: 'TinyStories' });
    await item.waitFor();
    expect(await item.locator('.meta').textContent()).toMatch(/Q4_0 · 512 ctx/);
    await app.goTo('chat');
    await app.page.waitForSelector('[data-testid="model-status"][data-phase="ready"]:has-text("TinyStories")', { timeout: 60_000 });
    const ref = loadReference('llamacpp_TinyStories-656K-Q4_0-dequant_once_upon_a_time.json');
    const tokenizer = tokenizerFromGguf(openModel('TinyStories-656K-Q4_0.gguf').metadata);
    await app.newChat();
    await app.setSettings({ temperature: 0, repeatPenalty: 1, maxTokens: 12 });
    await app.send(ref.prompt);
    const answer = await app.waitForAnswer();
    expect(squash(answer.text)).toBe(squash(tokenizer.decode(ref.generated_tokens.slice(0, 12), { continuation: true })));
    await app.screenshot(SCREENS, '11-second-model');
    // An older chat continues with its own model: opening it switches back and resumes its KV from disk.
    const storiesChat = ok(await host.call('listConversations')).filter((c) => c.title === 'Once upon a time').at(-1)!;
    await app.openConversationById(storiesChat.id);
    await app.page.waitForSelector('[data-testid="model-status"][data-phase="ready"]:has-text("stories260K")', { timeout: 60_000 });
    await app.page.waitForSelector('[data-testid="status-resume"][data-source="disk"]', { timeout: 60_000 });
    await app.goTo('models');
    await item.locator('[data-testid="delete-model"]').click();
    await item.waitFor({ state: 'detached' });
    expect(ok(await host.call('listModels')).map((m) => m.name)).toEqual(['stories260K (built in)']);
    await app.goTo('chat');
    await app.page.waitForSelector('[data-testid="model-status"][data-phase="ready"]:has-text("stories260K")', { timeout: 60_000 });
    await app.page.emulateMedia({ colorScheme: 'dark' });
    await app.screenshot(SCREENS, '12-dark');
    await app.page.emulateMedia({ colorScheme: 'light' });
  });

  it('answers render as sanitized Markdown with highlighted code', async () => {
    const c = ok(await host.call('createConversation', { title: 'Markdown' }));
    const q = ok(await host.call('appendMessage', { conversationId: c.id, parentId: null, role: 'user', content: 'show me' }));
    const markdown = ['**bold** and `code`', '', '```js', 'const x = 1; // one', '```', '', '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'].join('\n');
    ok(await host.call('appendMessage', { conversationId: c.id, parentId: q, role: 'assistant', content: markdown }));
    await app.reload();
    await app.openConversation('Markdown');
    const body = app.page.locator('[data-testid="message-assistant"] [data-testid="message-content"]');
    await body.locator('strong').waitFor();
    expect(await body.locator('pre code.hljs .hljs-keyword').first().textContent()).toBe('const');
    expect(await body.locator('script').count()).toBe(0);
    expect(await body.locator('img').getAttribute('onerror')).toBeNull();
    expect(await app.page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await app.screenshot(SCREENS, '12b-markdown');
    await app.waitForModelReady();
  });

  it('two chats with the same system prompt share its KV blocks on the GPU', async () => {
    const system = 'Once upon a time there was a little girl named Lily. She loved to play outside in the park with her friends and her big red ball every day.';
    const tokens = tokenizerFromGguf(openModel('stories260K.gguf').metadata).encode(system).length;
    expect(tokens).toBeGreaterThanOrEqual(32);
    for (const question of [' Tim', ' Sue']) {
      await app.newChat();
      await app.setSystemPrompt(system);
      await app.setSettings({ temperature: 0, repeatPenalty: 1, maxTokens: 3 });
      await app.send(question);
      expect((await app.waitForAnswer()).status).toBe('complete');
    }
    // The second chat's prompt found the first one's full blocks in the GPU pool, and both now hold them.
    expect(await app.page.getAttribute('[data-testid="status-resume"]', 'data-source')).toBe('gpu');
    expect(await app.text('status-resume')).toMatch(new RegExp(`\\(${Math.floor(tokens / 16) * 16} tokens reused\\)`));
    await app.showKv();
    await app.page.waitForSelector('[data-testid="kv-cell"][data-state="shared"]');
    expect(await app.page.locator('[data-testid="kv-cell"][data-state="shared"]').count()).toBe(Math.floor(tokens / 16));
    await app.screenshot(SCREENS, '13-shared-prefix');
    expect(app.errors).toEqual([]);
  });
});

/** The reference's first GREEDY_TOKENS tokens as text, decoded as the app decodes a continuation. */
function greedyExpected(): string {
  const tokenizer = tokenizerFromGguf(openModel('stories260K.gguf').metadata);
  return tokenizer.decode(loadReference(REFERENCE).generated_tokens.slice(0, GREEDY_TOKENS), { continuation: true });
}

/** Tokens of the first exchange (5 prompt + 24 answer). */
function ref29(): number {
  return 5 + GREEDY_TOKENS;
}
