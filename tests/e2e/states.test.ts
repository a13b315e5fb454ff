/// <reference lib="dom" />
// The app's empty, loading and error states end to end, each screenshot in light and dark (under out/e2e-screens/)
// with the axe check (no serious or critical violation): Storage with no KV yet, the model loading (held by the host)
// and cancelled, a load that failed and its retry, the GPU lost and recovering, unloading the model (the chat asks for
// one; loading it again resumes a past chat from the stored KV), Discover offline, a failed download and its retry, a
// remote server that cannot be reached. Then the store's pins (the old localStorage pins moved once) and "Link a
// folder" on the first-run view with main's folder dialog stubbed.
import AxeBuilder from '@axe-core/playwright';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../src/shared/api';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { modelPath } from '../helpers/shared';
import { buildRenderer } from './build';
import { ChatPage, launchChromium } from './chat-page';
import { REPO, startHost, type TestHost } from './host';

const SCREENS = join(REPO, 'out/e2e-screens');
const DATA = mkdtempSync(join(tmpdir(), 'kvchat-e2e-states-data-'));
const STATIC = mkdtempSync(join(tmpdir(), 'kvchat-e2e-states-renderer-'));
const HUB_REPO = 'test/stories260K-GGUF';
const HUB_FILE = 'stories260K-Q8_0.gguf';

const ok = <T>(r: ApiResult<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};
const id = (testId: string): string => `[data-testid="${testId}"]`;

let hub: HubServer;
let host: TestHost;
let browser: Browser;
let app: ChatPage;

beforeAll(async () => {
  mkdirSync(SCREENS, { recursive: true });
  hub = await startHubServer({ [HUB_REPO]: [{ path: HUB_FILE, bytes: new Uint8Array(readFileSync(modelPath(HUB_FILE))) }] });
  await buildRenderer(STATIC);
  host = await startHost({ dataDir: DATA, staticDir: STATIC, hubEndpoint: hub.endpoint });
  browser = await launchChromium();
  // A context of its own: axe-core's runner opens a page beside it for its report.
  app = new ChatPage(await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage());
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await hub?.close();
});

/** Serious and critical axe violations, one line each (as views.test.ts reports them). */
async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes): ${v.nodes[0]?.target.join(' ')} ${v.nodes[0]?.failureSummary ?? ''}`);
}

/** The page as it is now, in light and in dark: a screenshot each and no serious axe violation. */
async function captureState(name: string): Promise<void> {
  const found: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await app.page.emulateMedia({ colorScheme: scheme });
    await app.screenshot(SCREENS, `state-${name}-${scheme}`);
    found.push(...(await seriousViolations(app.page)).map((v) => `${name} ${scheme}: ${v}`));
  }
  await app.page.emulateMedia({ colorScheme: 'light' });
  expect(found).toEqual([]);
}

/** Holds the model's bytes in the host until the returned function is called. */
function holdModels(): () => void {
  let release!: () => void;
  host.holdModels = new Promise<void>((resolve) => (release = resolve));
  return () => {
    host.holdModels = null;
    release();
  };
}

/** Whether the composer refuses a message (its Send stays disabled with text in the box). */
async function sendRefused(): Promise<boolean> {
  await app.page.fill(id('composer'), 'Hello?');
  const refused = await app.page.isDisabled(id('send'));
  await app.page.fill(id('composer'), '');
  return refused;
}

const phase = (): Promise<string | null> => app.page.getAttribute(id('model-status'), 'data-phase');

describe('empty and loading states', () => {
  it('Storage with no KV on disk yet says so', async () => {
    await app.open(host.url);
    await app.waitForModelReady();
    await app.goTo('storage');
    await app.page.waitForSelector(id('kv-storage-empty'));
    await captureState('storage-empty');
    await app.goTo('chat');
  });

  it('a model loading shows its progress and a cancel; cancelling leaves no model loaded', async () => {
    const release = holdModels();
    try {
      await app.reload();
      await app.page.waitForSelector(`${id('model-status')}[data-phase="loading"]`);
      expect(await app.modelStatus()).toMatch(/^Loading stories260K \(built in\)… 0% \(0 KB of 1 MB\)$/);
      await app.page.waitForSelector(id('cancel-load'));
      await captureState('model-loading');
      await app.click('cancel-load');
    } finally {
      release();
    }
    await app.page.waitForSelector(`${id('model-status')}[data-phase="none"]`);
    expect(await app.modelStatus()).toBe('No model loaded');
    await app.page.waitForSelector(id('no-model'));
    expect(await sendRefused()).toBe(true);
  });

  it('a load that fails says why and loads again with "Try again"', async () => {
    const failing = Promise.reject(new Error('the disk went away'));
    failing.catch(() => {}); // answered as a 500 by the host
    host.holdModels = failing;
    try {
      const [model] = ok(await host.call('listModels'));
      await app.page.selectOption(id('model-picker'), model!.id);
      await app.page.waitForSelector(id('load-failed'));
      expect(await phase()).toBe('error');
      await captureState('load-failed');
    } finally {
      host.holdModels = null;
    }
    await app.click('load-retry');
    await app.waitForModelReady();
    expect(await app.page.isVisible(id('load-failed'))).toBe(false);
  });

  it('the GPU lost: a banner while the model loads again, gone once it is back', async () => {
    const release = holdModels();
    try {
      await app.page.evaluate(() => (window as unknown as { kvchatDebug: { loseDevice(): void } }).kvchatDebug.loseDevice());
      await app.page.waitForSelector(id('gpu-recovering'));
      await captureState('gpu-recovering');
    } finally {
      release();
    }
    await app.waitForModelReady();
    await app.page.waitForSelector(id('gpu-recovering'), { state: 'detached' });
  });
});

describe('unloading the model', () => {
  let conversationId = 0;

  it('unload frees the model: no model loaded, also after a restart; the chat asks for one, opening a past chat does not load it', async () => {
    await app.setSettings({ temperature: 0, repeatPenalty: 1, maxTokens: 20 });
    await app.send('Once upon a time');
    expect((await app.waitForAnswer()).status).toBe('complete');
    conversationId = ok(await host.call('listConversations'))[0]!.id;

    await app.click('unload-model');
    await app.page.waitForSelector(`${id('model-status')}[data-phase="none"]`);
    expect(await app.modelStatus()).toBe('No model loaded');
    expect(await app.page.inputValue(id('model-picker'))).toBe('');
    await app.page.waitForSelector(id('no-model'));
    expect(await sendRefused()).toBe(true);
    expect(await app.text('status-model')).toBe('no model');
    await captureState('no-model');

    // The unload outlasts a restart (a reload here): the model list is read again, and still no model loads.
    await app.reload();
    const [model] = ok(await host.call('listModels'));
    await app.page.waitForSelector(`${id('model-picker')} option[value="${model!.id}"]`, { state: 'attached' });
    expect(await phase()).toBe('none');
    expect(await app.modelStatus()).toBe('No model loaded');
    expect(await app.page.inputValue(id('model-picker'))).toBe('');

    await app.newChat();
    await app.openConversationById(conversationId);
    await app.page.waitForSelector(id('message-assistant'));
    expect(await phase()).toBe('none');
    expect(await app.page.isVisible(id('no-model'))).toBe(true);
  });

  it('loading it again resumes the past chat from the stored KV, and it answers', async () => {
    const [model] = ok(await host.call('listModels'));
    await app.page.selectOption(id('model-picker'), model!.id);
    await app.waitForModelReady();
    // The GPU pool was freed with the model: the chat's KV comes back from the store (disk).
    await app.page.waitForSelector(`${id('status-resume')}[data-source="disk"]`);
    expect(await app.page.isVisible(id('no-model'))).toBe(false);
    await app.send('The end');
    const answer = await app.waitForAnswer();
    expect(answer.status).toBe('complete');
    expect(app.errors).toEqual([]);
  });
});

describe('error states of the other views', () => {
  it('Discover offline: the curated list stays, and the search says the Hub cannot be reached', async () => {
    ok(await host.call('setHubSettings', { endpoint: 'http://127.0.0.1:9' }));
    await app.goTo('discover');
    await app.page.waitForSelector(id('curated-model'));
    await app.page.fill(id('hub-search'), 'stories');
    await app.page.click(id('hub-search-button'));
    await app.page.waitForSelector(`${id('hub-search-status')}[data-kind="offline"]`);
    await captureState('discover-offline');
    ok(await host.call('setHubSettings', { endpoint: null }));
  });

  it('a failed download shows why, and Resume retries it to the end', async () => {
    hub.faults.wrongBytes = true;
    ok(await host.call('startDownload', { repo: HUB_REPO, file: HUB_FILE }));
    await app.page.waitForSelector(`${id('download-item')}[data-state="failed"]`, { timeout: 60_000 });
    expect(await app.page.textContent(`${id('download-item')}[data-state="failed"] .error`)).not.toBe('');
    await captureState('download-failed');
    hub.faults.wrongBytes = false;
    await app.click('download-resume');
    await app.page.waitForSelector(`${id('download-item')}[data-state="done"]`, { timeout: 60_000 });
  });

  it('a remote server that cannot be reached says so in Servers / API', async () => {
    ok(await host.call('addRemoteProvider', { name: 'Unplugged', baseUrl: 'http://127.0.0.1:9/v1' }));
    await app.reload();
    await app.waitForModelReady();
    await app.goTo('servers');
    const failure = app.page.locator(id('server-item'), { hasText: 'Unplugged' }).locator(id('remote-models-error'));
    await failure.waitFor({ timeout: 30_000 });
    expect(await failure.textContent()).toMatch(/127\.0\.0\.1/);
    await captureState('server-unreachable');
    await app.goTo('chat');
  });
});

describe('pins in the store', () => {
  it('pins written by an older version to localStorage move to the store once, then the key is gone', async () => {
    const [c] = ok(await host.call('listConversations'));
    await app.page.evaluate((cid) => localStorage.setItem('kvchat.pinnedConversations', JSON.stringify([cid, 999_999])), c!.id);
    await app.reload();
    await app.page.waitForSelector(`${id('conversation-group')}[data-group="Pinned"] ${id('conversation-item')}[data-id="${c!.id}"]`);
    expect(ok(await host.call('listConversations')).find((x) => x.id === c!.id)?.pinned).toBe(true);
    await expect.poll(() => app.page.evaluate(() => localStorage.getItem('kvchat.pinnedConversations'))).toBeNull();
  });

  it('unpinning and pinning go to the store and survive a reload (and a new browser profile)', async () => {
    const [c] = ok(await host.call('listConversations'));
    const item = `${id('conversation-item')}[data-id="${c!.id}"]`;
    await app.page.click(`${item} ${id('pin')}`);
    await app.page.waitForSelector(`${item}[data-pinned="false"]`);
    expect(ok(await host.call('listConversations')).find((x) => x.id === c!.id)?.pinned).toBe(false);
    await app.page.click(`${item} ${id('pin')}`);
    await app.page.waitForSelector(`${item}[data-pinned="true"]`);
    const fresh = new ChatPage(await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage());
    try {
      await fresh.open(host.url);
      await fresh.page.waitForSelector(`${id('conversation-group')}[data-group="Pinned"] ${item}`);
    } finally {
      await fresh.page.context().close();
    }
  });
});

describe('Link a folder', () => {
  it('on the first-run view: the folder dialog (stubbed) → its models registered in place → the first one loads', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'kvchat-e2e-linked-'));
    const file = join(folder, 'nested', 'stories-linked.gguf');
    mkdirSync(join(folder, 'nested'));
    copyFileSync(modelPath(HUB_FILE), file); // the bytes of the download deleted below: not a duplicate
    // The downloaded model of the test above is removed, so the first-run steps show again.
    for (const m of ok(await host.call('listModels')).filter((x) => !x.name.endsWith('(built in)'))) ok(await host.call('deleteModel', { id: m.id, confirm: true }));
    await app.reload();
    await app.waitForModelReady();
    await app.newChat();
    host.folderQueue.push(folder);
    await app.click('welcome-link-folder');
    await app.page.waitForSelector(`${id('link-folder-result')}[data-added="1"]`);
    const linked = ok(await host.call('listModels')).find((m) => m.path === file);
    expect(linked).toMatchObject({ name: 'stories-linked', storedInPlace: true, deletesFile: false });
    await app.page.waitForFunction((mid) => (document.querySelector('[data-testid="model-picker"]') as HTMLSelectElement | null)?.value === mid, linked!.id);
    await app.waitForModelReady();
    expect(ok(await host.call('listLinkedFolders'))).toEqual([{ path: folder, models: 1 }]);
    await app.goTo('models');
    await app.page.waitForSelector(id('linked-folder'));
    await captureState('linked-folder');
    expect(app.errors).toEqual([]);
  });
});
