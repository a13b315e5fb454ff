// Electron main: app lifecycle (one instance), one window, the app:// and model protocols, permissions and the IPC
// handlers. Kept thin: the services it wires up (store, model library, API handlers, Range handler, the renderer's
// file server, the permission rule, opened-file imports) are plain Node modules tested without Electron.
import { app, BrowserWindow, dialog, protocol, safeStorage, session } from 'electron';
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { CHANNELS, MODEL_URL_SCHEME } from '../shared/api';
import { createApiHandlers, invokeApi, openApiServices } from './api-handlers';
import { CONTENT_SECURITY_POLICY } from './content-security-policy';
import { bridgeSinkOf, registerIpcHandlers } from './ipc';
import { ensureDefaultModel } from './models/default-model';
import { throttleDownloadEvents } from './models/hub-service';
import { handleModelRequest } from './models/model-protocol';
import { createOpenedModelImporter, installOpenFileHandlers } from './open-file';
import { appDataPaths } from './paths';
import { installPermissionHandlers, originOf } from './permissions';
import { electronSafeStorageCipher } from './remote';
import { handleRendererRequest, RENDERER_ORIGIN, RENDERER_URL_SCHEME } from './renderer-protocol';
import { createMainWindow, focusWindow, installContentSecurityPolicy, RENDERER_DIR } from './window';

const rendererUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;

// A separate data folder (tests, a second profile): KVCHAT_USER_DATA, an absolute path, replaces userData.
const userDataOverride = process.env.KVCHAT_USER_DATA;
if (userDataOverride && isAbsolute(userDataOverride)) app.setPath('userData', userDataOverride);

// One KVChat per data folder (one writer of its database): a second launch hands its argv (a double-clicked .gguf
// on Windows/Linux) to the first and quits at once. After the userData override: the lock lives in that folder.
const openedFiles = installOpenFileHandlers(app);
if (!openedFiles.primary) app.quit();

// WebGPU is on by default on Windows/macOS Chromium; Linux needs the switch.
app.commandLine.appendSwitch('enable-unsafe-webgpu');
if (process.platform === 'linux') app.commandLine.appendSwitch('enable-features', 'Vulkan');

// Registered before the app is ready. The renderer is served on app://kvchat (a real, secure origin instead of
// file://; Vite's module scripts are fetched in CORS mode). Models are fetched by the engine's worker with Range
// requests and streamed, cross-origin from app://kvchat, hence corsEnabled.
protocol.registerSchemesAsPrivileged([
  { scheme: RENDERER_URL_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true } },
  { scheme: MODEL_URL_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, stream: true } },
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

/** "Link a folder": a folder of GGUF models to register in place. */
async function pickModelFolder(): Promise<string | null> {
  const parent = BrowserWindow.getFocusedWindow();
  const options: Electron.OpenDialogOptions = { title: 'Link a folder of models', properties: ['openDirectory'] };
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
      pickModelFolder,
      // Remote API keys: encrypted by the OS keychain; refused where there is none.
      cipher: electronSafeStorageCipher(safeStorage),
      appInfo: () => ({
        name: app.getName(),
        version: app.getVersion(),
        platform: process.platform,
        electron: process.versions.electron ?? '',
        chrome: process.versions.chrome ?? '',
        memoryBytes: totalmem(),
      }),
      // A damaged database: the user chooses between a fresh one (the damaged file kept aside) and quitting.
      startFreshOnDamage: (d) =>
        dialog.showMessageBoxSync({
          type: 'warning',
          title: 'KVChat',
          message: 'Your conversation database was damaged',
          detail:
            `KVChat could not read ${d.file} (${d.problem}).\n\n` +
            `It can keep the damaged file at ${d.asideFile} and start with a fresh, empty database; nothing is deleted. ` +
            'Or quit, and everything stays exactly as it is.',
          buttons: ['Start with a fresh database', 'Quit'],
          defaultId: 0,
          cancelId: 1,
          noLink: true,
        }) === 0,
    });
  } catch (e) {
    // The user chose to quit over a damaged database: they were told already.
    if ((e as { code?: unknown }).code === 'database-damaged') return null;
    // A database from a newer KVChat, or an unreadable file: say so, change nothing, quit.
    dialog.showErrorBox('KVChat cannot open its conversations', (e as Error).message);
    return null;
  }
}

void app.whenReady().then(() => {
  if (!openedFiles.primary) return;
  const services = openServices();
  if (!services) {
    app.quit();
    return;
  }
  // Transfers stop at quit and stay queued (their part files kept); the next start resumes them.
  let quitting = false;
  app.on('will-quit', (event) => {
    if (quitting) return;
    quitting = true;
    void services.localServer?.close();
    event.preventDefault();
    void (services.downloads?.close() ?? Promise.resolve()).finally(() => {
      services.db.close();
      app.quit();
    });
  });
  // Download progress goes to every window (a download outlives the page that started it).
  services.downloads?.subscribe(
    throttleDownloadEvents((e) => {
      for (const win of BrowserWindow.getAllWindows()) if (!win.webContents.isDestroyed()) win.webContents.send(CHANNELS.onDownloadProgress, e);
    }),
  );
  services.downloads?.start();
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
  installPermissionHandlers(session.defaultSession, [RENDERER_ORIGIN, originOf(rendererUrl)].filter((o): o is string => o !== null));
  protocol.handle(RENDERER_URL_SCHEME, async (request) => {
    const r = await handleRendererRequest(RENDERER_DIR, { url: request.url, method: request.method }, { 'Content-Security-Policy': CONTENT_SECURITY_POLICY });
    return new Response(r.body, { status: r.status, headers: r.headers });
  });
  const handlers = createApiHandlers(services);
  registerIpcHandlers(handlers);
  const mainWindow = createMainWindow(rendererUrl);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow(rendererUrl);
  });

  // .gguf files opened from the OS are imported as the import button does (a copy in the models folder), one at a
  // time, once the page can hear about them.
  const appWindow = (): BrowserWindow => BrowserWindow.getAllWindows()[0] ?? createMainWindow(rendererUrl);
  const importOpened = createOpenedModelImporter({
    importModel: (path) => invokeApi(handlers, 'importDroppedModel', { path, copy: true }),
    onImported: (model) => {
      for (const win of BrowserWindow.getAllWindows()) win.webContents.send(CHANNELS.onModelOpened, model);
    },
    onFailed: (path, error) => {
      void dialog.showMessageBox(appWindow(), { type: 'warning', title: 'KVChat', message: `${basename(path)} was not imported`, detail: error.message });
    },
  });
  openedFiles.onSecondInstance(() => focusWindow(appWindow()));
  mainWindow.webContents.once('did-finish-load', () => openedFiles.onOpenFiles((paths) => void importOpened(paths)));
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
