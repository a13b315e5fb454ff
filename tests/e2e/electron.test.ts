/// <reference lib="dom" />
// The same first-start and greedy-answer checks against the real Electron app (main process, preload, IPC, the
// kvchat-model protocol), where Electron's binary is installed. It cannot be downloaded on the CI machine
// (ELECTRON_SKIP_BINARY_DOWNLOAD=1), so there these tests are skipped; on a machine with the binary they build the
// app and its Electron build of better-sqlite3 and run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { _electron, type ElectronApplication } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { loadReference, openModel } from '../helpers/shared';
import { ChatPage } from './chat-page';

const root = resolve(__dirname, '../..');
const REFERENCE = 'llama2c_stories260K_once_upon_a_time.json';
const GREEDY_TOKENS = 24;

/** The Electron binary's path, or undefined where it was never downloaded. */
function electronBinary(): string | undefined {
  try {
    return createRequire(join(root, 'package.json'))('electron') as string;
  } catch {
    return undefined; // "Electron failed to install correctly": the binary is absent
  }
}

const binary = electronBinary();
const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

describe.skipIf(!binary)('KVChat in Electron', () => {
  let electron: ElectronApplication;
  let app: ChatPage;

  beforeAll(async () => {
    const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
    execFileSync(npx, ['electron-vite', 'build'], { cwd: root, stdio: 'inherit' });
    execFileSync(process.execPath, [join(root, 'scripts', 'native-deps.mjs'), 'electron'], { cwd: root, stdio: 'inherit' });
    const data = mkdtempSync(join(tmpdir(), 'kvchat-e2e-electron-'));
    electron = await _electron.launch({ executablePath: binary!, args: [root], env: { ...process.env, KVCHAT_USER_DATA: data } as Record<string, string> });
    app = new ChatPage(await electron.firstWindow());
  }, 600_000);

  afterAll(async () => {
    await electron?.close();
  });

  it('first start: the bundled default model is selected and loads', async () => {
    await app.waitForModelReady();
    expect(await app.modelStatus()).toBe('stories260K (built in) ready');
  });

  it('streams the greedy answer, equal to the reference continuation', async () => {
    const ref = loadReference(REFERENCE);
    const tokenizer = tokenizerFromGguf(openModel('stories260K.gguf').metadata);
    const expected = tokenizer.decode(ref.generated_tokens.slice(0, GREEDY_TOKENS), { continuation: true });
    await app.setSettings({ temperature: 0, repeatPenalty: 1, maxTokens: GREEDY_TOKENS });
    await app.send(ref.prompt);
    const answer = await app.waitForAnswer();
    expect(answer.status).toBe('complete');
    expect(squash(answer.text)).toBe(squash(expected));
    expect(app.errors).toEqual([]);
  });
});
