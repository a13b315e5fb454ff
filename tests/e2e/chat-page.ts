/// <reference lib="dom" />
// A page object for the chat app (as Jan's Playwright tests do): the verbs a user performs, by data-testid.
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

const id = (testId: string): string => `[data-testid="${testId}"]`;

/** The app's views (its left navigation). */
export type AppView = 'chat' | 'discover' | 'models' | 'storage' | 'servers';
/** The chat inspector's tabs. */
export type InspectorTab = 'settings' | 'kv';

export class ChatPage {
  readonly errors: string[] = [];
  /** Answers the app had saved when we last waited for one (its data-answers counter). */
  private answers = 0;

  constructor(readonly page: Page) {
    page.on('pageerror', (e) => this.errors.push(e.message));
    // Dialogs are confirmations (delete): accept them.
    page.on('dialog', (d) => void d.accept());
  }

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    this.answers = 0;
  }

  async reload(): Promise<void> {
    await this.page.reload();
    this.answers = 0;
  }

  async waitForModelReady(timeout = 120_000): Promise<void> {
    await this.page.waitForSelector(`${id('model-status')}[data-phase="ready"]`, { timeout });
  }

  modelStatus(): Promise<string> {
    return this.text('model-status');
  }

  /** Opens one of the app's views from the left navigation. */
  async goTo(view: AppView): Promise<void> {
    await this.page.click(id(`view-${view}`));
    await this.page.waitForSelector(`${id(`view-${view}`)}[aria-current="page"]`);
  }

  /** Opens the chat's inspector (closed by default in narrow windows) on `tab`. */
  async showInspector(tab: InspectorTab): Promise<void> {
    if (!(await this.page.isVisible(id('inspector')))) await this.page.click(id('inspector-toggle'));
    await this.page.click(id(`inspector-tab-${tab}`));
  }

  /** The full KV cache picture (the inspector's KV tab). */
  showKv(): Promise<void> {
    return this.showInspector('kv');
  }

  async setSettings(s: Partial<Record<'temperature' | 'topP' | 'topK' | 'minP' | 'repeatPenalty' | 'maxTokens' | 'seed', number>>): Promise<void> {
    await this.showInspector('settings');
    for (const [k, v] of Object.entries(s)) await this.page.fill(id(`setting-${k}`), String(v));
  }

  async setSystemPrompt(text: string): Promise<void> {
    await this.showInspector('settings');
    await this.page.fill(id('system-prompt'), text);
  }

  /** A new chat (the Chat view opens with it). */
  async newChat(): Promise<void> {
    await this.page.click(id('new-chat'));
  }

  /** Types the message and presses Enter (the keyboard path). */
  async send(text: string): Promise<void> {
    await this.page.fill(id('composer'), text);
    await this.page.press(id('composer'), 'Enter');
  }

  /** Waits until the streaming answer shows at least `chars` characters; returns what it showed. */
  async waitForStreamedText(chars = 1, timeout = 120_000): Promise<string> {
    const handle = await this.page.waitForFunction(
      (n) => {
        const el = document.querySelector('[data-testid="message-assistant"][data-status="streaming"] [data-testid="message-content"]');
        const t = el?.textContent ?? '';
        return t.length >= n ? t : false;
      },
      chars,
      { timeout, polling: 'raf' },
    );
    return (await handle.jsonValue()) as string;
  }

  /** Waits until the next answer is saved and shown; returns the last answer's status and text. */
  async waitForAnswer(timeout = 150_000): Promise<{ status: string; text: string }> {
    await this.page.waitForFunction((n) => Number(document.querySelector('[data-testid="chat"]')?.getAttribute('data-answers')) > n, this.answers, { timeout });
    this.answers = Number(await this.page.getAttribute(id('chat'), 'data-answers'));
    const last = this.page.locator(id('message-assistant')).last();
    await last.waitFor();
    return { status: (await last.getAttribute('data-status')) ?? '', text: (await last.locator(id('message-content')).textContent()) ?? '' };
  }

  async text(testId: string): Promise<string> {
    return (await this.page.textContent(id(testId))) ?? '';
  }

  async openConversation(title: string): Promise<void> {
    await this.page.locator(id('conversation-item'), { hasText: title }).first().locator('.title').click();
  }

  async openConversationById(conversationId: number): Promise<void> {
    await this.page.click(`[data-testid="conversation-item"][data-id="${conversationId}"] .title`);
  }

  async screenshot(dir: string, name: string): Promise<void> {
    await this.page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
  }

  click(testId: string, nth: 'first' | 'last' = 'last'): Promise<void> {
    const l = this.page.locator(id(testId));
    return (nth === 'first' ? l.first() : l.last()).click();
  }
}
