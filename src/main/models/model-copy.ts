// Copying a model into the app's models folder: every file of it (each part of a split model) through a temporary
// `.partial` name, hashed as it is copied and read back to check the copy, then renamed into place last part first
// (models-folder.ts: a first part under its final name means every part is there). All parts or none: a failure
// removes every file this copy wrote. Returns the model's fingerprint (model-fingerprint.ts), from the original's bytes.
import { rename, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { copyWithFingerprint, fingerprintFile, type ByteProgress } from '../../node/fingerprint';
import { splitFingerprint } from '../../node/model-fingerprint';
import { ModelLibraryError } from './errors';
import { PARTIAL_SUFFIX } from './models-folder';

export interface ModelCopy {
  /** The model's files, in order (one, or every part). */
  readonly sources: readonly string[];
  /** Their final names in the models folder (newCopyPaths), in the same order. */
  readonly dests: readonly string[];
  /** Bytes of each source. */
  readonly sizes: readonly number[];
  /** Progress of the copy, then of the read-back check, each over every part's bytes. */
  readonly onCopy?: ByteProgress;
  readonly onVerify?: ByteProgress;
  readonly signal?: AbortSignal;
}

/** Runs `step` over each file with progress summed across files. */
async function eachFile(sizes: readonly number[], onProgress: ByteProgress | undefined, step: (i: number, progress: ByteProgress) => Promise<string>): Promise<string[]> {
  const total = sizes.reduce((n, s) => n + s, 0);
  const out: string[] = [];
  let before = 0;
  for (const [i, size] of sizes.entries()) {
    out.push(await step(i, (done) => onProgress?.(before + done, total)));
    before += size;
  }
  return out;
}

/** Copies and verifies as described above; `modelsDir` names the folder in an error. */
export async function copyModelVerified(c: ModelCopy, modelsDir: string): Promise<string> {
  const partials = c.dests.map((d) => d + PARTIAL_SUFFIX);
  const name = basename(c.sources[0]!);
  try {
    const originals = await eachFile(c.sizes, c.onCopy, (i, p) => copyWithFingerprint(c.sources[i]!, partials[i]!, c.sizes[i]!, p, c.signal));
    const copies = await eachFile(c.sizes, c.onVerify, (i, p) => fingerprintFile(partials[i]!, c.sizes[i]!, p, c.signal));
    const bad = copies.findIndex((h, i) => h !== originals[i]);
    if (bad >= 0) {
      throw new ModelLibraryError('copy-failed', `The copy of ${basename(c.sources[bad]!)} differs from the original (disk error?); nothing was imported`);
    }
    for (let i = c.dests.length - 1; i >= 0; i--) await rename(partials[i]!, c.dests[i]!);
    return originals.length === 1 ? originals[0]! : splitFingerprint(originals);
  } catch (e) {
    for (const f of [...partials, ...c.dests]) await rm(f, { force: true });
    if (e instanceof ModelLibraryError || (e as Error).name === 'AbortError') throw e;
    throw new ModelLibraryError('copy-failed', `Could not copy ${name} into ${modelsDir}: ${(e as Error).message}`, { cause: e });
  }
}
