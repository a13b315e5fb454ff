// A model's fingerprint: the name its KV blocks are stored under, by the app's library and by the CLI alike. A
// single file is named by its SHA-256; a split model (`<name>-0000k-of-0000N.gguf`, its parts found beside the first
// by name, as the engine's reader finds them) by the SHA-256 of its parts' SHA-256s, so both name every byte the
// engine reads and a split model's parts' LFS oids name a download without reading its files again.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { splitPartPathOf } from '../gpu/gguf/split';
import { fingerprintFile, type ByteProgress } from './fingerprint';

/** `name-00001-of-00003.gguf`: the first of 3 parts. */
const FIRST_PART = /-00001-of-(\d{5})\.gguf$/i;

/** A split model's parts (in order) named after its first part, or null for any other path. */
export function splitModelFiles(path: string): string[] | null {
  const m = FIRST_PART.exec(basename(path));
  const count = m ? Number(m[1]) : 0;
  if (count <= 1) return null;
  return Array.from({ length: count }, (_, i) => join(dirname(path), splitPartPathOf(basename(path), i + 1, count)!));
}

/** The files of the model whose (first) file is `path`: every part of a split model, else the file alone. */
export function modelFilesOf(path: string): string[] {
  return splitModelFiles(path) ?? [path];
}

/** SHA-256 (hex) of the parts' SHA-256s (lowercase hex, each followed by a newline), in part order. */
export function splitFingerprint(partSha256s: readonly string[]): string {
  const hash = createHash('sha256');
  for (const h of partSha256s) hash.update(`${h.toLowerCase()}\n`);
  return hash.digest('hex');
}

/** The fingerprint of a model's files (splitFingerprint for several), with progress over all their bytes. */
export async function fingerprintModel(files: readonly string[], sizes: readonly number[], onProgress?: ByteProgress, signal?: AbortSignal): Promise<string> {
  if (files.length === 0 || files.length !== sizes.length) throw new Error(`fingerprintModel needs one size per file (${files.length} files, ${sizes.length} sizes)`);
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

/**
 * The fingerprint of the model at `path` (a file, or the first part of a split model). A missing part is an error
 * naming it, never a fingerprint of fewer parts.
 */
export async function fingerprintModelAt(path: string, onProgress?: ByteProgress, signal?: AbortSignal): Promise<string> {
  const files = modelFilesOf(path);
  const sizes: number[] = [];
  for (const [i, f] of files.entries()) {
    try {
      sizes.push((await stat(f)).size);
    } catch (e) {
      const which = files.length > 1 ? `part ${i + 1} of ${files.length} of the split model ${basename(path)}, ${basename(f)},` : basename(f);
      throw new Error(`${which} cannot be read: ${(e as Error).message}`, { cause: e });
    }
  }
  return fingerprintModel(files, sizes, onProgress, signal);
}
