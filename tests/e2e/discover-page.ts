/// <reference lib="dom" />
// A page object for the Discover view: the verbs of finding, checking and downloading a model, by data-testid.
import type { Page } from 'playwright-core';

const id = (testId: string): string => `[data-testid="${testId}"]`;

export class DiscoverPage {
  constructor(readonly page: Page) {}

  async open(): Promise<void> {
    await this.page.click(id('view-discover'));
    await this.page.waitForSelector(id('discover'));
  }

  curatedNames(): Promise<string[]> {
    return this.page.locator(`${id('curated-model')} .name`).allTextContents();
  }

  async search(query: string): Promise<void> {
    await this.page.fill(id('hub-search'), query);
    await this.page.click(id('hub-search-button'));
    await this.page.waitForFunction(() => document.querySelector('[data-testid="hub-search-status"]')?.getAttribute('data-kind') !== 'busy');
  }

  async searchStatus(): Promise<{ kind: string | null; text: string }> {
    const l = this.page.locator(id('hub-search-status'));
    if ((await l.count()) === 0) return { kind: null, text: '' };
    return { kind: await l.getAttribute('data-kind'), text: (await l.textContent()) ?? '' };
  }

  async resultIds(): Promise<string[]> {
    await this.page.waitForSelector(id('hub-result'));
    return this.page.locator(id('hub-result')).evaluateAll((els) => els.map((e) => e.getAttribute('data-repo') ?? ''));
  }

  async openRepository(repo: string): Promise<void> {
    await this.page.click(`${id('hub-result')}[data-repo="${repo}"]`);
    await this.page.waitForSelector(`${id('hub-repo')}[data-repo="${repo}"] ${id('hub-file')}`);
  }

  quantGroups(): Promise<string[]> {
    return this.page.locator(id('quant-group')).evaluateAll((els) => els.map((e) => e.getAttribute('data-quant') ?? ''));
  }

  async fileMeta(file: string): Promise<string> {
    return (await this.page.locator(`${id('hub-file')}[data-file="${file}"] .meta`).textContent()) ?? '';
  }

  /** Waits for the file's estimate (the repository's header read) and returns fits / tight / wont-fit. */
  async fitLabel(file: string): Promise<string> {
    const label = `${id('hub-file')}[data-file="${file}"] ${id('fit-label')}`;
    await this.page.waitForSelector(`${label}:not([data-fit="unknown"])`, { timeout: 30_000 });
    return (await this.page.getAttribute(label, 'data-fit')) ?? '';
  }

  async checkFile(file: string): Promise<void> {
    await this.page.click(`${id('hub-file')}[data-file="${file}"] button`);
    await this.page.waitForSelector(`${id('file-check')}:not([data-supported="pending"]) h3:text-is("${file}")`, { timeout: 30_000 });
  }

  async verdict(): Promise<string> {
    return (await this.page.textContent(id('file-verdict'))) ?? '';
  }

  async download(): Promise<void> {
    await this.page.click(id('download'));
  }

  /** Waits for a running download to show bytes, speed and ETA; returns that text. */
  async waitForProgress(): Promise<string> {
    const handle = await this.page.waitForFunction(
      () => {
        const t = document.querySelector('[data-testid="download-item"][data-state="running"] [data-testid="download-progress"]')?.textContent ?? '';
        return /\/s · /.test(t) && !t.startsWith('0 KB') ? t : false;
      },
      undefined,
      { timeout: 30_000, polling: 50 },
    );
    return (await handle.jsonValue()) as string;
  }

  async waitForDownload(state: string): Promise<void> {
    await this.page.waitForSelector(`${id('download-item')}[data-state="${state}"]`, { timeout: 60_000 });
  }
}
