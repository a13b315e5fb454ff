// Electron main: app lifecycle, one window, the IPC handlers. Kept thin: the services it wires up are plain
// Node modules tested without Electron.
import { app, BrowserWindow } from 'electron';
import { registerIpcHandlers } from './ipc';
import { createMainWindow, installContentSecurityPolicy } from './window';

const rendererUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;

// WebGPU is on by default on Windows/macOS Chromium; Linux needs the switch.
app.commandLine.appendSwitch('enable-unsafe-webgpu');
if (process.platform === 'linux') app.commandLine.appendSwitch('enable-features', 'Vulkan');

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

void app.whenReady().then(() => {
  installContentSecurityPolicy(rendererUrl !== undefined);
  registerIpcHandlers();
  createMainWindow(rendererUrl);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow(rendererUrl);
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
