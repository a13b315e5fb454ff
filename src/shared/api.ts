// The typed contract between the renderer and main: one named method per operation, one channel each.
// The preload implements `KvChatApi` with ipcRenderer.invoke; main registers a validated handler per channel.

export interface AppInfo {
  readonly name: string;
  readonly version: string;
  readonly platform: string;
  readonly electron: string;
  readonly chrome: string;
}

/** An error that crossed the IPC boundary: a stable code and a message a user can read. */
export interface ApiError {
  readonly code: string;
  readonly message: string;
}

export type ApiResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

export interface KvChatApi {
  getAppInfo(): Promise<ApiResult<AppInfo>>;
}

export const CHANNELS = {
  getAppInfo: 'app:get-info',
} as const satisfies Record<keyof KvChatApi, string>;
