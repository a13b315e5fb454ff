// The one app window: sandboxed, isolated, no Node in the renderer, no navigation away, no new windows.
import { BrowserWindow, session, shell } from 'electron';
import { join } from 'node:path';
import { contentSecurityPolicy } from './content-security-policy';
import { RENDERER_ENTRY_URL } from './renderer-protocol';

/** The built renderer (index.html and assets), served on app://kvchat by src/main/renderer-protocol.ts. */
export const RENDERER_DIR = join(__dirname, '../renderer');

export function installContentSecurityPolicy(isDev: boolean): void {
  const policy = contentSecurityPolicy(isDev);
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [policy] } });
  });
}

/** `rendererUrl`: Vite's dev server in development; otherwise the built renderer on app://kvchat. */
export function createMainWindow(rendererUrl: string | undefined): BrowserWindow {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    show: false,
    title: 'KVChat',
    webPreferences: {
      preload: join(__dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.on('will-redirect', (event) => event.preventDefault());
  void win.loadURL(rendererUrl ?? RENDERER_ENTRY_URL);
  return win;
}

/** Brings the window forward (a second launch, a double-clicked model): restored if minimized, then focused. */
export function focusWindow(win: BrowserWindow): void {
  if (win.isMinimized()) win.restore();
  if (!win.isVisible()) win.show();
  win.focus();
}
