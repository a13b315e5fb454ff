// The files of a library model: one GGUF file, or every part of a split model (`<name>-0000k-of-0000N.gguf`, found
// beside the first part by name, as the engine's reader finds them). A split model is named by one fingerprint
// over all its parts and checked for change by their total size and newest mtime.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { splitPartPathOf } from '../../gpu/gguf/split';
import { fingerprintFile, type ByteProgress } from '../../node/fingerprint';
import { ModelLibraryError } from './errors';

/** The files of a model whose first file is `path` and that has `partCount` parts (1: a single file). */
export function modelFiles(path: string, partCount: number): string[] {
  if (partCount <= 1) return [path];
  return Array.from({ length: partCount }, (_, i) => {
    const name = splitPartPathOf(basename(path), i + 1, partCount);
    if (name === null) throw new ModelLibraryError('invalid-model', `${basename(path)} is not named as the first of ${partCount} parts`);
    return join(dirname(path), name);
  });
}

/** A split model's parts named after its first part, or null for any other path. */
export function splitModelFiles(path: string): string[] | null {
  const m = /-00001-of-(\d{5})\.gguf$/i.exec(basename(path));
  return m && Number(m[1]) > 1 ? modelFiles(path, Number(m[1])) : null;
}

/**
 * A split model's fingerprint: the SHA-256 (hex) of its parts' SHA-256s (lowercase hex, each followed by a newline)
 * in part order. A single file's fingerprint is its own SHA-256, so both name the bytes the engine reads; the parts'
 * hashes are the Hub's LFS oids, so a download is named without reading its files again.
 */
export function splitFingerprint(partSha256s: readonly string[]): string {
  const hash = createHash('sha256');
  for (const h of partSha256s) hash.update(`${h.toLowerCase()}\n`);
  return hash.digest('hex');
}

/** The fingerprint of a model's files (splitFingerprint for several), with progress over all their bytes. */
export async function fingerprintModel(files: readonly string[], sizes: readonly number[], onProgress?: ByteProgress, signal?: AbortSignal): Promise<string> {
  const total = sizes.reduce((n, s) => n + s, 0);
  if (files.length === 1) return fingerprintFile(files[0]!, total, onProgress, signal);
  const hashes: string[] = [];
  let before = 0;
  for (const [i, f] of files.entries()) {
    hashes.push(await fingerprintFile(f, sizes[i]!, (done) => onProgress?.(before + done, total), signal));
    before += sizes[i]!;
  }
  return splitFingerprint(hashes);
}

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
