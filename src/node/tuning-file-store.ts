// The CLI's tuning store: kernel choices as one JSON object in the OS cache directory (the app keeps them in SQLite).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir, platform } from 'node:os';
import { dirname, join } from 'node:path';
import type { TuningStore } from '../gpu/tuning/tuning-store';

/** `$XDG_CACHE_HOME/kvchat` or `~/.cache/kvchat` on Linux, `~/Library/Caches/kvchat` on macOS, `%LOCALAPPDATA%\kvchat` on Windows. */
export function defaultTuningFile(env: NodeJS.ProcessEnv = process.env): string {
  const home = homedir();
  const base = platform() === 'win32' ? (env.LOCALAPPDATA ?? join(home, 'AppData', 'Local')) : platform() === 'darwin' ? join(home, 'Library', 'Caches') : (env.XDG_CACHE_HOME ?? join(home, '.cache'));
  return join(base, 'kvchat', 'kernel-variants.json');
}

async function readAll(path: string): Promise<Record<string, string>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, string>) : {};
  } catch {
    return {}; // missing or damaged: tuning measures again and rewrites it
  }
}

export function fileTuningStore(path = defaultTuningFile()): TuningStore {
  return {
    get: async (key) => {
      const v = (await readAll(path))[key];
      return typeof v === 'string' ? v : undefined;
    },
    set: async (key, value) => {
      const all = { ...(await readAll(path)), [key]: value };
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
      await rename(tmp, path); // another process never reads half a file
    },
  };
}
