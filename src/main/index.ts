// Electron main: app lifecycle, one window, the model protocol and the IPC handlers. Kept thin: the services
// it wires up (store, model library, API handlers, Range handler) are plain Node modules tested without Electron.
import { app, BrowserWindow, dialog, protocol, safeStorage } from 'electron';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { MODEL_URL_SCHEME } from '../shared/api';
import { createApiHandlers, openApiServices } from './api-handlers';
import { bridgeSinkOf, registerIpcHandlers } from './ipc';
import { ensureDefaultModel } from './models/default-model';
import { handleModelRequest } from './models/model-protocol';
import { appDataPaths } from './paths';
import { electronSafeStorageCipher } from './remote';
import { createMainWindow, installContentSecurityPolicy } from './window';

const rendererUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;

// A separate data folder (tests, a second profile): KVCHAT_USER_DATA, an absolute path, replaces userData.
const userDataOverride = process.env.KVCHAT_USER_DATA;
if (userDataOverride && isAbsolute(userDataOverride)) app.setPath('userData', userDataOverride);

// WebGPU is on by default on Windows/macOS Chromium; Linux needs the switch.
app.commandLine.appendSwitch('enable-unsafe-webgpu');
if (process.platform === 'linux') app.commandLine.appendSwitch('enable-features', 'Vulkan');

// Models are fetched by the engine's worker with Range requests and streamed: the scheme must be registered
// before the app is ready.
protocol.registerSchemesAsPrivileged([
  { scheme: MODEL_URL_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

/** In development, the Electron build of better-sqlite3 from scripts/native-deps.mjs; packaged apps ship their own. */
function electronSqliteBinding(): string | undefined {
  if (app.isPackaged) return undefined;
  const path = join(app.getAppPath(), '.native', `electron-${process.versions.electron}`, 'better_sqlite3.node');
  return existsSync(path) ? path : undefined;
}

async function pickModelFile(): Promise<string | null> {
  const parent = BrowserWindow.getFocusedWindow();
  const options: Electron.OpenDialogOptions = {
    title: 'Import a model',
    properties: ['openFile'],
    filters: [
      { name: 'GGUF models', extensions: ['gguf'] },
      { name: 'All files', extensions: ['*'] },
    ],
  };
  const result = parent ? await dialog.showOpenDialog(parent, options) : await dialog.showOpenDialog(options);
  return result.canceled ? null : (result.filePaths[0] ?? null);
}

function openServices(): ReturnType<typeof openApiServices> | null {
  const paths = appDataPaths(app);
  try {
    return openApiServices({
      databaseFile: paths.database,
      modelsDir: paths.models,
      nativeBinding: electronSqliteBinding(),
      pickModelFile,
      // Remote API keys: encrypted by the OS keychain; refused where there is none.
      cipher: electronSafeStorageCipher(safeStorage),
      appInfo: () => ({
        name: app.getName(),
        version: app.getVersion(),
        platform: process.platform,
        electron: process.versions.electron ?? '',
        chrome: process.versions.chrome ?? '',
      }),
    });
  } catch (e) {
    // A database from a newer KVChat, or an unreadable file: say so, change nothing, quit.
    dialog.showErrorBox('KVChat cannot open its conversations', (e as Error).message);
    return null;
  }
}

void app.whenReady().then(() => {
  const services = openServices();
  if (!services) {
    app.quit();
    return;
  }
  app.on('will-quit', () => {
    void services.localServer?.close();
    services.db.close();
  });
  // A closed or reloaded window's engine is gone: the local server stops serving until a renderer loads a model.
  app.on('browser-window-created', (_e, win) => {
    const sink = bridgeSinkOf(win.webContents);
    win.webContents.on('did-start-navigation', (_ev, _url, _inPlace, isMainFrame) => {
      if (isMainFrame) services.bridgeChannel?.detach(sink);
    });
    win.webContents.once('destroyed', () => services.bridgeChannel?.detach(sink));
  });

  protocol.handle(MODEL_URL_SCHEME, async (request) => {
    const r = await handleModelRequest(services.library, { url: request.url, method: request.method, headers: request.headers });
    return new Response(r.body, { status: r.status, headers: r.headers });
  });
  const resourcesDir = app.isPackaged ? process.resourcesPath : join(app.getAppPath(), 'resources');
  ensureDefaultModel(services.library, resourcesDir).catch((e: unknown) => console.error('KVChat: could not register the bundled model', e));

  installContentSecurityPolicy(rendererUrl !== undefined);
  registerIpcHandlers(createApiHandlers(services));
  createMainWindow(rendererUrl);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow(rendererUrl);
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
