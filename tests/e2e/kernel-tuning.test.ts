/// <reference lib="dom" />
// Kernel tuning in the app: the first load of a model on this GPU times the kernel variants (the worker, ~2 s) and
// main keeps the choices in SQLite, keyed by this device; "Re-tune kernels" in the chat settings forgets them and
// the next load measures again.
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRenderer } from './build';
import { ChatPage, launchChromium } from './chat-page';
import { startHost, type TestHost } from './host';

const DATA = mkdtempSync(join(tmpdir(), 'kvchat-e2e-tuning-'));
const STATIC = mkdtempSync(join(tmpdir(), 'kvchat-e2e-renderer-'));

let host: TestHost;
let browser: Browser;
let app: ChatPage;

/** The kernel choices main has stored (key -> variant). */
function storedChoices(): Map<string, string> {
  const db = new Database(join(DATA, 'kvchat.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return new Map(db.prepare("SELECT key, value FROM app_state WHERE key LIKE 'kernel-variant/%'").raw().all() as [string, string][]);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  await buildRenderer(STATIC);
  host = await startHost({ dataDir: DATA, staticDir: STATIC });
  browser = await launchChromium();
  app = new ChatPage(await browser.newPage({ viewport: { width: 1280, height: 800 } }));
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
});

describe('kernel tuning in the app', () => {
  it('the first load stores a choice per tuned kernel for this GPU; Re-tune kernels clears them', async () => {
    expect(storedChoices().size).toBe(0);
    await app.open(host.url);
    await app.waitForModelReady();
    const choices = storedChoices();
    const kernels = [...choices.keys()].map((k) => k.split('/')[2]);
    expect(kernels).toEqual(expect.arrayContaining(['matvec', 'gemm', 'flash-decode-split']));
    expect([...choices.values()].every((v) => /^[\w.-]+$/.test(v))).toBe(true);

    await app.showInspector('settings');
    await app.page.click('[data-testid="retune-kernels"]');
    await app.page.waitForSelector('[data-testid="retune-status"]');
    expect(await app.text('retune-status')).toMatch(new RegExp(`^Cleared ${choices.size} kernel choices for this GPU`));
    expect(storedChoices().size).toBe(0);
  });
});
