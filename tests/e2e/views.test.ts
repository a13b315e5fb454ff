/// <reference lib="dom" />
// Every view of the app, in light and dark, at the smallest supported window (900×600) and a large one (1440×900):
// a screenshot each (under out/e2e-screens/, ignored by git) and an axe-core check that finds no serious or
// critical accessibility violation. Then the keyboard: the shortcut sheet, search, new chat, switching chats.
// UPDATE_README_SCREENSHOTS=1 also writes the two screenshots the README shows (docs/screenshots/).
import AxeBuilder from '@axe-core/playwright';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../src/shared/api';
import { buildRenderer } from './build';
import { ChatPage, launchChromium, type AppView } from './chat-page';
import { REPO, startHost, type TestHost } from './host';

const SCREENS = join(REPO, 'out/e2e-screens');
const README_SCREENS = join(REPO, 'docs/screenshots');
const DATA = mkdtempSync(join(tmpdir(), 'kvchat-e2e-views-data-'));
const STATIC = mkdtempSync(join(tmpdir(), 'kvchat-e2e-views-renderer-'));
const VIEWS: readonly AppView[] = ['chat', 'discover', 'models', 'storage', 'servers'];
const SIZES = [
  { width: 900, height: 600 },
  { width: 1440, height: 900 },
] as const;
const SCHEMES = ['light', 'dark'] as const;

const ok = <T>(r: ApiResult<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};

let host: TestHost;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SCREENS, { recursive: true });
  await buildRenderer(STATIC);
  host = await startHost({ dataDir: DATA, staticDir: STATIC });
  browser = await launchChromium();
  console.log(`view screenshots: ${SCREENS}`);
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
});

/** Serious and critical axe violations on the page as it is, one line each (rule, impact, nodes, first target). */
async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes): ${v.nodes[0]?.target.join(' ')} ${v.nodes[0]?.failureSummary ?? ''}`);
}

async function openApp(size: { width: number; height: number }, scheme: 'light' | 'dark'): Promise<ChatPage> {
  // A context of its own: axe-core's runner opens a page beside it for its report.
  const page = await (await browser.newContext({ viewport: size, colorScheme: scheme })).newPage();
  const app = new ChatPage(page);
  await app.open(host.url);
  await app.waitForModelReady();
  return app;
}

describe('every view, light and dark, 900×600 and 1440×900', () => {
  it('a conversation to show (one short greedy answer)', async () => {
    const app = await openApp({ width: 1440, height: 900 }, 'light');
    await app.setSettings({ temperature: 0, repeatPenalty: 1, maxTokens: 16 });
    await app.send('Once upon a time');
    expect((await app.waitForAnswer()).status).toBe('complete');
    await app.page.context().close();
    expect(ok(await host.call('listConversations'))).toHaveLength(1);
  });

  for (const size of SIZES) {
    for (const scheme of SCHEMES) {
      const tag = `${size.width}x${size.height}-${scheme}`;
      it(`${tag}: each view renders, is screenshot and has no serious or critical axe violation`, async () => {
        const app = await openApp(size, scheme);
        const found: Record<string, string[]> = {};
        try {
          // The first start: the empty chat with its next steps.
          await app.page.waitForSelector('[data-testid="welcome"]');
          await app.screenshot(SCREENS, `${tag}-chat-welcome`);
          found['chat-welcome'] = await seriousViolations(app.page);
          for (const view of VIEWS) {
            await app.goTo(view);
            if (view === 'chat') {
              await app.openConversation('Once upon a time');
              await app.page.waitForSelector('[data-testid="message-assistant"]');
            }
            await app.screenshot(SCREENS, `${tag}-${view}`);
            found[view] = await seriousViolations(app.page);
          }
          // The chat's inspector: settings, then the KV picture.
          await app.goTo('chat');
          await app.showInspector('settings');
          await app.screenshot(SCREENS, `${tag}-inspector-settings`);
          found['inspector-settings'] = await seriousViolations(app.page);
          await app.showKv();
          await app.page.waitForSelector('[data-testid="kv-cell"]');
          await app.screenshot(SCREENS, `${tag}-inspector-kv`);
          found['inspector-kv'] = await seriousViolations(app.page);
          if (process.env.UPDATE_README_SCREENSHOTS === '1' && size.width === 1440) {
            mkdirSync(README_SCREENS, { recursive: true });
            await app.page.screenshot({ path: join(README_SCREENS, `chat-kv-${scheme}.png`) });
          }
          // The shortcut sheet, opened with "?".
          await app.page.locator('body').press('?');
          await app.page.waitForSelector('[data-testid="shortcut-sheet"][open]');
          await app.screenshot(SCREENS, `${tag}-shortcuts`);
          found.shortcuts = await seriousViolations(app.page);
          await app.page.keyboard.press('Escape');
          await app.page.waitForSelector('[data-testid="shortcut-sheet"]:not([open])', { state: 'attached' });
          expect(Object.entries(found).flatMap(([where, list]) => list.map((v) => `${tag} ${where}: ${v}`))).toEqual([]);
          expect(app.errors).toEqual([]);
        } finally {
          await app.page.context().close();
        }
      });
    }
  }
});

describe('layout and keyboard', () => {
  it('the inspector is closed by default below 1200 px and open beside the chat above; the KV gauge opens the KV picture', async () => {
    const narrow = await openApp({ width: 900, height: 600 }, 'light');
    expect(await narrow.page.isVisible('[data-testid="inspector"]')).toBe(false);
    await narrow.page.click('[data-testid="kv-gauge"]');
    await narrow.page.waitForSelector('[data-testid="kv-grid"]');
    expect(await narrow.page.getAttribute('[data-testid="inspector-tab-kv"]', 'aria-selected')).toBe('true');
    await narrow.page.click('[data-testid="inspector-close"]');
    expect(await narrow.page.isVisible('[data-testid="inspector"]')).toBe(false);
    await narrow.page.context().close();
    const wide = await openApp({ width: 1440, height: 900 }, 'light');
    expect(await wide.page.isVisible('[data-testid="inspector"]')).toBe(true);
    await wide.page.context().close();
  });

  it('shortcuts: Ctrl+K searches, Ctrl+Shift+O starts a new chat in the composer, Alt+↓ switches chats, Ctrl+/ lists them', async () => {
    const app = await openApp({ width: 1440, height: 900 }, 'light');
    try {
      await app.page.keyboard.press('Control+k');
      expect(await app.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('search');
      await app.page.keyboard.press('Alt+ArrowDown');
      await app.page.waitForSelector('[data-testid="conversation-item"].active');
      await app.page.waitForSelector('[data-testid="message-user"]');
      await app.page.keyboard.press('Control+Shift+O');
      await app.page.waitForSelector('[data-testid="welcome"]');
      await expect.poll(() => app.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('composer');
      await app.page.keyboard.press('Control+/');
      await app.page.waitForSelector('[data-testid="shortcut-sheet"][open]');
      expect(await app.page.locator('[data-testid="shortcut-sheet"] tr').count()).toBeGreaterThanOrEqual(8);
      await app.page.click('[data-testid="shortcut-close"]');
      await app.page.waitForSelector('[data-testid="shortcut-sheet"]:not([open])', { state: 'attached' });
      expect(app.errors).toEqual([]);
    } finally {
      await app.page.context().close();
    }
  });

  it('a pinned chat moves to the top, under "Pinned", and stays pinned after a reload', async () => {
    const app = await openApp({ width: 1440, height: 900 }, 'light');
    try {
      await app.page.locator('[data-testid="conversation-item"]', { hasText: 'Once upon a time' }).locator('[data-testid="pin"]').click();
      await app.page.waitForSelector('[data-testid="conversation-group"][data-group="Pinned"] [data-testid="conversation-item"]');
      await app.reload();
      await app.page.waitForSelector('[data-testid="conversation-group"][data-group="Pinned"] [data-testid="conversation-item"]');
    } finally {
      await app.page.context().close();
    }
  });
});
