// The app's models folder and what a crash can leave in it. A copy is written as `<uuid>.gguf.partial`, renamed to
// `<uuid>.gguf` once verified, then named by a library row; a copy being deleted is first renamed to
// `<uuid>.gguf.deleting`, then its row goes, then the file. At start, before any import can begin, the sweep:
//   `.partial`                      an unfinished copy: deleted (the user's original is where it was);
//   `.deleting` whose row is there  a delete that never committed: renamed back, the model stays usable;
//   `.deleting` without a row       a delete that committed: the file is deleted;
//   `<uuid>.gguf` without a row     a finished copy whose row a crash prevented: left for the library to register.
// Only names of this form are touched; anything else in the folder (a file the user put there) is left alone.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PARTIAL_SUFFIX = '.partial';
export const DELETING_SUFFIX = '.deleting';

const COPY_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.gguf$/;

/** A new copy's final name in the models folder. */
export function newCopyPath(modelsDir: string): string {
  return join(modelsDir, `${randomUUID()}.gguf`);
}

export interface ModelsFolderSweep {
  /** Unfinished copies deleted. */
  readonly partialsRemoved: readonly string[];
  /** Copies whose delete never committed, renamed back to the name their row holds. */
  readonly deletesUndone: readonly string[];
  /** Copies of deleted models, deleted. */
  readonly deletesFinished: readonly string[];
  /** Finished copies no row names. */
  readonly unregisteredCopies: readonly string[];
}

/**
 * Cleans what interrupted imports and deletes left in `modelsDir` (see above); `isRegistered` says whether a
 * library row names a path. Synchronous, so it ends before any import can create a file of its own.
 */
export function sweepModelsFolder(modelsDir: string, isRegistered: (path: string) => boolean): ModelsFolderSweep {
  const sweep = { partialsRemoved: [] as string[], deletesUndone: [] as string[], deletesFinished: [] as string[], unregisteredCopies: [] as string[] };
  if (!existsSync(modelsDir)) return sweep;
  const dir = resolve(modelsDir);
  const entries = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .sort((a, b) => (a.name < b.name ? -1 : 1)); // the same order on every file system
  for (const { name } of entries) {
    const path = join(dir, name);
    if (name.endsWith(PARTIAL_SUFFIX) && COPY_NAME.test(name.slice(0, -PARTIAL_SUFFIX.length))) {
      rmSync(path, { force: true });
      sweep.partialsRemoved.push(path);
    } else if (name.endsWith(DELETING_SUFFIX) && COPY_NAME.test(name.slice(0, -DELETING_SUFFIX.length))) {
      const copy = path.slice(0, -DELETING_SUFFIX.length);
      if (isRegistered(copy) && !existsSync(copy)) {
        renameSync(path, copy);
        sweep.deletesUndone.push(copy);
      } else {
        rmSync(path, { force: true });
        sweep.deletesFinished.push(path);
      }
    }
  }
  for (const { name } of entries) {
    const path = join(dir, name);
    if (COPY_NAME.test(name) && !isRegistered(path)) sweep.unregisteredCopies.push(path);
  }
  return sweep;
}
