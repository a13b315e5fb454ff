// Opening .gguf files from the OS (the installers register KVChat for .gguf; a double-click imports the model):
//   macOS          Finder sends an 'open-file' event, also before 'ready' when it launches the app for it.
//   Windows/Linux  the path arrives in argv: the first launch's process.argv, or, while KVChat already runs,
//                  the second launch's argv relayed through 'second-instance' (we hold the single-instance lock,
//                  so that second process quits at once).
// Thin on purpose: ggufPathsFromArgv is pure; installOpenFileHandlers takes the app as an argument so tests can
// pass a stand-in, and queues paths until main says what to do with them (after the window and store exist).
import type { App } from 'electron';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiError, ApiResult, ModelInfo } from '../shared/api';

/**
 * The .gguf files named in a command line, in order, without duplicates. Switches (`-x`, `--x=y`, macOS's
 * `-psn_…`) and everything not ending in .gguf (the executable, `.` in development) are skipped; `file://` URLs
 * (Linux desktop files pass `%U`) become paths; relative paths are resolved against `cwd` when it is given.
 */
export function ggufPathsFromArgv(argv: readonly string[], cwd?: string): string[] {
  const paths: string[] = [];
  for (const arg of argv) {
    if (typeof arg !== 'string' || arg.length === 0 || arg.startsWith('-')) continue;
    let p = arg;
    if (/^file:/i.test(p)) {
      try {
        p = fileURLToPath(p);
      } catch {
        continue;
      }
    }
    if (!/\.gguf$/i.test(p)) continue;
    if (cwd !== undefined && !isAbsolute(p)) p = resolve(cwd, p);
    if (!paths.includes(p)) paths.push(p);
  }
  return paths;
}

export interface OpenFileHandlers {
  /** False when another KVChat already runs: it has been handed our argv, and this process should quit now. */
  readonly primary: boolean;
  /** Receives every batch of .gguf paths, starting with any that arrived before this call. */
  onOpenFiles(handler: (paths: string[]) => void): void;
  /** Called when the app is launched again while running (with or without files): bring the window forward. */
  onSecondInstance(handler: () => void): void;
}

type OpenFileApp = Pick<App, 'requestSingleInstanceLock' | 'on'>;

/**
 * Call once, synchronously, at the top of main (before app.whenReady(): macOS may deliver 'open-file' first).
 *
 *   const files = installOpenFileHandlers(app);
 *   if (!files.primary) app.quit();
 *   else app.whenReady().then(() => { …; files.onOpenFiles((paths) => importModels(paths)); });
 */
export function installOpenFileHandlers(app: OpenFileApp, argv: readonly string[] = process.argv, cwd: string = process.cwd()): OpenFileHandlers {
  if (!app.requestSingleInstanceLock()) {
    return { primary: false, onOpenFiles: () => {}, onSecondInstance: () => {} };
  }
  let queued: string[] = ggufPathsFromArgv(argv, cwd);
  let openHandler: ((paths: string[]) => void) | undefined;
  let secondInstanceHandler: (() => void) | undefined;

  const deliver = (paths: string[]): void => {
    if (paths.length === 0) return;
    if (openHandler) openHandler(paths);
    else queued.push(...paths.filter((p) => !queued.includes(p)));
  };

  app.on('open-file', (event, path) => {
    event.preventDefault();
    deliver(ggufPathsFromArgv([path]));
  });
  app.on('second-instance', (_event, secondArgv, workingDirectory) => {
    secondInstanceHandler?.();
    deliver(ggufPathsFromArgv(secondArgv, workingDirectory));
  });

  return {
    primary: true,
    onOpenFiles(handler) {
      openHandler = handler;
      const pending = queued;
      queued = [];
      if (pending.length > 0) handler(pending);
    },
    onSecondInstance(handler) {
      secondInstanceHandler = handler;
    },
  };
}

export interface OpenedModelImport {
  /** Imports one file as the import button does (copied into the models folder); answers, never throws. */
  importModel(path: string): Promise<ApiResult<ModelInfo>>;
  /** The model is in the library: tell the renderer. */
  onImported(model: ModelInfo): void;
  /** Not imported (not a GGUF model, already in the library, unreadable): tell the user. */
  onFailed(path: string, error: ApiError): void;
}

/**
 * Imports opened .gguf files one at a time, in the order they arrived, also across batches (each import may copy
 * gigabytes; two double-clicks in a row must not copy in parallel). The returned promise settles when this batch
 * is done.
 */
export function createOpenedModelImporter(target: OpenedModelImport): (paths: readonly string[]) => Promise<void> {
  let tail: Promise<void> = Promise.resolve();
  const importOne = async (path: string): Promise<void> => {
    let result: ApiResult<ModelInfo>;
    try {
      result = await target.importModel(path);
    } catch (e) {
      result = { ok: false, error: { code: 'internal', message: (e as Error).message } };
    }
    if (result.ok) target.onImported(result.value);
    else target.onFailed(path, result.error);
  };
  return (paths) => {
    // A throwing callback must not stop the files queued after it.
    for (const path of paths) tail = tail.then(() => importOne(path)).catch((e: unknown) => console.error(`KVChat: could not finish opening ${path}`, e));
    return tail;
  };
}
