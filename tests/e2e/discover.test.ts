/// <reference lib="dom" />
// Discover end to end in headless Chromium: the test host's Hub endpoint is a loopback Hub serving ../shared/models
// files. No request until the user searches; offline says so; search → repository → a file with its fit label →
// the header check → download with progress (bytes, speed, ETA) → the model in the library → a chat whose greedy
// answer equals the shared reference. A model the engine cannot run is refused before any download.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import type { ApiResult } from '../../src/shared/api';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { splitGgufBytes } from '../helpers/split-gguf';
import { loadReference, modelPath, openModel } from '../helpers/shared';
import { buildRenderer } from './build';
import { ChatPage, launchChromium } from './chat-page';
import { DiscoverPage } from './discover-page';
import { startHost, type TestHost } from './host';

const SCREENS = mkdtempSync(join(tmpdir(), 'kvchat-e2e-discover-screens-'));
const DATA = mkdtempSync(join(tmpdir(), 'kvchat-e2e-discover-data-'));
const STATIC = mkdtempSync(join(tmpdir(), 'kvchat-e2e-discover-renderer-'));
const REPO = 'test/stories260K-GGUF';
/** A repository whose only model is split in 3 parts: its fit label comes from the split model's headers. */
const SPLIT_REPO = 'test/stories260K-split-GGUF';
const FILE = 'stories260K-Q8_0.gguf';
const REFERENCE = 'llama2c_stories260K-Q8_0-dequant_once_upon_a_time.json';
const GREEDY_TOKENS = 24;

const ok = <T>(r: ApiResult<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};
const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();
const bytesOf = (name: string): Uint8Array => new Uint8Array(readFileSync(modelPath(name)));

function gemmaBytes(): Uint8Array {
  const b = Buffer.from(bytesOf('stories260K.gguf'));
  b.write('gemma', b.indexOf('general.architecture') + 'general.architecture'.length + 12, 'utf8');
  return b;
}

let hub: HubServer;
let host: TestHost;
let browser: Browser;
let app: ChatPage;
let discover: DiscoverPage;

beforeAll(async () => {
  hub = await startHubServer(
    {
      [REPO]: [
        { path: FILE, bytes: bytesOf(FILE) },
        { path: 'stories260K.gguf', bytes: bytesOf('stories260K.gguf') },
        { path: 'stories260K-Q4_K_M-00001-of-00002.gguf', bytes: new Uint8Array(2048) },
        { path: 'stories260K-Q4_K_M-00002-of-00002.gguf', bytes: new Uint8Array(1024) },
      ],
      'test/gemma-GGUF': [{ path: 'gemma-Q8_0.gguf', bytes: gemmaBytes() }],
      [SPLIT_REPO]: splitGgufBytes(bytesOf(FILE), 3).map((bytes, i) => ({ path: `stories260K-Q8_0-0000${i + 1}-of-00003.gguf`, bytes })),
    },
    { [REPO]: 1200, 'test/gemma-GGUF': 30, [SPLIT_REPO]: 10 },
  );
  await buildRenderer(STATIC);
  host = await startHost({ dataDir: DATA, staticDir: STATIC, hubEndpoint: hub.endpoint });
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  app = new ChatPage(page);
  discover = new DiscoverPage(page);
  console.log(`e2e screenshots: ${SCREENS}`);
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await hub?.close();
});

describe('Discover in Chromium', () => {
  it('opens with the curated models and sends nothing to the Hub until a search; offline says so', async () => {
    await app.open(host.url);
    await app.waitForModelReady();
    await discover.open();
    expect(await discover.curatedNames()).toContain('Llama 3.2 1B Instruct');
    expect(hub.hubRequests).toEqual([]);
    expect(hub.requests).toEqual([]);

    ok(await host.call('setHubSettings', { endpoint: 'http://127.0.0.1:9' }));
    await discover.search('stories');
    expect(await discover.searchStatus()).toMatchObject({ kind: 'offline' });
    expect((await discover.searchStatus()).text).toContain('Offline');
    ok(await host.call('setHubSettings', { endpoint: null }));
    expect(hub.hubRequests).toEqual([]);
    await app.screenshot(SCREENS, '01-offline');
  });

  it('search → repository with files by quantization and fit labels → the header check refuses an unsupported model', async () => {
    await discover.search('GGUF');
    expect(await discover.resultIds()).toEqual([REPO, 'test/gemma-GGUF', SPLIT_REPO]);
    await discover.openRepository(SPLIT_REPO);
    const split = 'stories260K-Q8_0-00001-of-00003.gguf';
    expect(await discover.fileMeta(split)).toContain('in 3 parts');
    expect(await discover.fitLabel(split)).toBe('fits');
    await discover.openRepository('test/gemma-GGUF');
    await discover.checkFile('gemma-Q8_0.gguf');
    expect(await discover.verdict()).toMatch(/^Not supported: architecture gemma is not supported yet/);
    expect(await discover.page.isDisabled('[data-testid="download"]')).toBe(true);

    await discover.openRepository(REPO);
    expect(await discover.quantGroups()).toEqual(['Q4_K_M', 'Q8_0', 'other']);
    // The split model is one entry; the others get a fit label from the repository's header.
    expect(await discover.fileMeta('stories260K-Q4_K_M-00001-of-00002.gguf')).toContain('in 2 parts');
    expect(await discover.fitLabel(FILE)).toBe('fits');
    await discover.checkFile(FILE);
    expect(await discover.verdict()).toBe('The engine can run this model.');
    expect(await discover.page.textContent('[data-testid="file-check"]')).toContain('Q8_0');
    // Nothing but Range reads of headers so far.
    expect(hub.requests.every((r) => r.method === 'HEAD' || r.range !== null)).toBe(true);
    await app.screenshot(SCREENS, '02-repository');
  });

  it('downloads with progress (bytes, speed, ETA), registers the model, and its greedy chat answer equals the reference', async () => {
    hub.faults.bytesPerSecond = 128 * 1024; // about 3 s for the 380 KB file: progress is visible
    await discover.download();
    const running = await discover.waitForProgress();
    expect(running).toMatch(/^\d+ KB of \d+ KB · \d+ KB\/s · (\d+ s|–) left$/);
    await discover.waitForDownload('done');
    hub.faults.bytesPerSecond = undefined;
    const models = ok(await host.call('listModels'));
    const model = models.find((m) => m.name === 'stories260K-Q8_0');
    expect(model).toMatchObject({ quantization: 'Q8_0', available: true });
    expect(await discover.page.locator('[data-testid="library-model"][data-name="stories260K-Q8_0"] [data-testid="fit-label"]').getAttribute('data-fit')).toBe('fits');
    await app.screenshot(SCREENS, '03-downloaded');

    await discover.page.click('[data-testid="download-use"]');
    await app.page.waitForSelector('[data-testid="model-status"][data-phase="ready"]:text("stories260K-Q8_0 ready")', { timeout: 120_000 });
    const ref = loadReference(REFERENCE);
    await app.setSettings({ temperature: 0, repeatPenalty: 1, maxTokens: GREEDY_TOKENS });
    await app.send(ref.prompt);
    const answer = await app.waitForAnswer();
    expect(answer.status).toBe('complete');
    const tokenizer = tokenizerFromGguf(openModel(FILE).metadata);
    const expected = tokenizer.decode(ref.generated_tokens.slice(0, GREEDY_TOKENS), { continuation: true });
    expect(squash(answer.text)).toBe(squash(expected));
    const [conversation] = ok(await host.call('listConversations'));
    expect(conversation!.modelId).toBe(model!.id);
    expect(app.errors).toEqual([]);
    await app.screenshot(SCREENS, '04-chat');
  });

  it('pauses, resumes and cancels a download from its buttons', async () => {
    await discover.open();
    hub.faults.bytesPerSecond = 96 * 1024; // about 12 s for the 1.1 MB file
    await discover.checkFile('stories260K.gguf');
    await discover.download();
    const item = '[data-testid="download-item"][data-file="stories260K.gguf"]';
    await discover.waitForProgress();
    await discover.page.click(`${item} [data-testid="download-pause"]`);
    await discover.page.waitForSelector(`${item}[data-state="paused"]`);
    const paused = ok(await host.call('listDownloads')).find((d) => d.file === 'stories260K.gguf')!;
    expect(paused.state).toBe('paused');
    expect(paused.bytesDone).toBeGreaterThan(0);
    await discover.page.click(`${item} [data-testid="download-resume"]`);
    await discover.page.waitForSelector(`${item}[data-state="running"]`);
    await discover.page.click(`${item} [data-testid="download-cancel"]`);
    await discover.page.waitForSelector(item, { state: 'detached' });
    expect(ok(await host.call('listDownloads')).map((d) => d.file)).toEqual([FILE]);
    hub.faults.bytesPerSecond = undefined;
  });
});
