// Where KVChat keeps its files. Everything the user owns (the database with conversations and swapped KV blocks,
// imported models) lives under Electron's per-user data folder, app.getPath('userData'), never next to the
// executable: installers replace the program folder on update (and it is read-only in an AppImage, a .deb or a
// signed macOS bundle), while userData is named after the product, not the version, so every version finds the
// same files. A new version opens the same database file and the store's migrations bring its schema forward.
//   Linux    ~/.config/KVChat              ($XDG_CONFIG_HOME/KVChat)
//   macOS    ~/Library/Application Support/KVChat
//   Windows  %APPDATA%\KVChat
// Pure functions here; the caller passes app.getPath('userData') (or the app itself), so tests need no Electron.
import type { App } from 'electron';
import { isAbsolute, join } from 'node:path';

/** The SQLite database file. Do not rename: a new name would orphan every earlier version's data. */
export const DATABASE_FILE = 'kvchat.sqlite';
/** Imported models are copied here. */
export const MODELS_DIR = 'models';
/** The small model shipped with the app (electron-builder `extraResources` → <resources>/models/). */
export const DEFAULT_MODEL_FILE = 'stories260K.gguf';

export interface DataPaths {
  /** The per-user data folder itself. */
  readonly userData: string;
  /** Folder of imported GGUF models. */
  readonly models: string;
  /** The SQLite database (conversations, settings, swapped KV blocks). */
  readonly database: string;
}

/** The data layout under a user-data folder. The folder must be absolute (never relative to the working directory). */
export function dataPaths(userDataDir: string): DataPaths {
  if (!userDataDir || !isAbsolute(userDataDir)) throw new Error(`the user data folder must be an absolute path, got "${userDataDir}"`);
  return {
    userData: userDataDir,
    models: join(userDataDir, MODELS_DIR),
    database: join(userDataDir, DATABASE_FILE),
  };
}

/** dataPaths for the running app: Electron's userData folder. */
export function appDataPaths(app: Pick<App, 'getPath'>): DataPaths {
  return dataPaths(app.getPath('userData'));
}

/**
 * The bundled default model, read-only. Packaged: `<resourcesPath>/models/` (copied there by electron-builder's
 * extraResources). Development: `resources/models/` in the checkout (`appPath` is the project root then).
 */
export function bundledModelPath(where: { isPackaged: boolean; resourcesPath: string; appPath: string }): string {
  return where.isPackaged
    ? join(where.resourcesPath, MODELS_DIR, DEFAULT_MODEL_FILE)
    : join(where.appPath, 'resources', MODELS_DIR, DEFAULT_MODEL_FILE);
}
