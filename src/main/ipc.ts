// Registers one validated handler per API channel. Handlers return ApiResult values, never throw across IPC.
import { app, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { CHANNELS, type ApiResult, type AppInfo } from '../shared/api';

export function toApiError(e: unknown): { ok: false; error: { code: string; message: string } } {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : 'internal';
  const message = typeof err?.message === 'string' ? err.message : String(e);
  return { ok: false, error: { code, message } };
}

async function handled<T>(body: () => T | Promise<T>): Promise<ApiResult<T>> {
  try {
    return { ok: true, value: await body() };
  } catch (e) {
    return toApiError(e);
  }
}

/** Only our own window's main frame may call the API. */
function fromOurWindow(event: IpcMainInvokeEvent): boolean {
  return event.senderFrame !== null && event.senderFrame === event.sender.mainFrame;
}

export function registerIpcHandlers(): void {
  ipcMain.handle(CHANNELS.getAppInfo, (event) =>
    handled<AppInfo>(() => {
      if (!fromOurWindow(event)) throw Object.assign(new Error('request from an unknown frame'), { code: 'forbidden' });
      return {
        name: app.getName(),
        version: app.getVersion(),
        platform: process.platform,
        electron: process.versions.electron ?? '',
        chrome: process.versions.chrome ?? '',
      };
    }),
  );
}
