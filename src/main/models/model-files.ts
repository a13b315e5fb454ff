// Stats of a library model's files (one GGUF file, or every part of a split model; src/node/model-fingerprint.ts
// names them and fingerprints them): a model is checked for change by their total size and newest mtime.
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { ModelLibraryError } from './errors';

export interface ModelFilesStat {
  /** Bytes of every file together. */
  readonly size: number;
  /** The newest file's mtime, whole milliseconds. */
  readonly mtimeMs: number;
  /** Each file's bytes, in order. */
  readonly sizes: readonly number[];
}

/** Stats a model file; a missing one or a folder is a ModelLibraryError naming it. */
export async function statFile(path: string): Promise<Stats> {
  let s: Stats;
  try {
    s = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelLibraryError('file-not-found', `There is no file at ${path}`, { cause: e });
    throw new ModelLibraryError('file-not-found', `Cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!s.isFile()) throw new ModelLibraryError('not-a-file', `${path} is a folder or device, not a model file`);
  return s;
}

/** Stats every file; a missing one or a folder is a ModelLibraryError naming it. */
export async function statModelFiles(files: readonly string[]): Promise<ModelFilesStat> {
  const stats: Stats[] = [];
  for (const path of files) stats.push(await statFile(path));
  return {
    size: stats.reduce((n, s) => n + s.size, 0),
    mtimeMs: Math.max(...stats.map((s) => Math.trunc(s.mtimeMs))),
    sizes: stats.map((s) => s.size),
  };
}
