// The app's models folder and what a crash can leave in it. A copy is written as `<uuid>.gguf.partial`, renamed to
// `<uuid>.gguf` once verified, then named by a library row; a copy being deleted is first renamed to
// `<uuid>.gguf.deleting`, then its row goes, then the file. A split model's copy is one file per part,
// `<uuid>-0000k-of-0000N.gguf`, each through the same names; its parts are renamed into place last part first and
// renamed away first part first, so a first part under its final name means every part is there, and the row names
// the first part. At start, before any import can begin, the sweep:
//   `.partial`                      an unfinished copy: deleted (the user's original is where it was);
//   `.deleting` whose row is there  a delete that never committed: renamed back, the model stays usable;
//   `.deleting` without a row       a delete that committed: the file is deleted;
//   a later part without its first  what such a copy or delete left: deleted;
//   `<uuid>.gguf` without a row     a finished copy whose row a crash prevented: left for the library to register
//                                   (a split copy by its first part).
// Only names of this form are touched; anything else in the folder (a file the user put there) is left alone.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PARTIAL_SUFFIX = '.partial';
export const DELETING_SUFFIX = '.deleting';

/** `<uuid>.gguf`, or part k of N of a split copy: `<uuid>-0000k-of-0000N.gguf`. */
const COPY_NAME = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:-(\d{5})-of-(\d{5}))?\.gguf$/;

const partName = (uuid: string, part: number, count: number): string =>
  `${uuid}-${String(part).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`;

/** A copy's final name: the name itself for a single file, the first part's for a part of a split copy; else null. */
function firstPartOf(name: string): string | null {
  const m = COPY_NAME.exec(name);
  if (!m) return null;
  return m[2] === undefined ? name : partName(m[1]!, 1, Number(m[3]));
}

/** A new copy's final names in the models folder: one, or one per part of a split model (in part order). */
export function newCopyPaths(modelsDir: string, parts = 1): string[] {
  const uuid = randomUUID();
  if (parts <= 1) return [join(modelsDir, `${uuid}.gguf`)];
  return Array.from({ length: parts }, (_, i) => join(modelsDir, partName(uuid, i + 1, parts)));
}

export interface ModelsFolderSweep {
  /** Unfinished copies deleted (and the later parts of a split copy or delete whose first part is gone). */
  readonly partialsRemoved: readonly string[];
  /** Copies whose delete never committed, renamed back to the name their row holds. */
  readonly deletesUndone: readonly string[];
  /** Copies of deleted models, deleted. */
  readonly deletesFinished: readonly string[];
  /** Finished copies no row names (a split copy by its first part). */
  readonly unregisteredCopies: readonly string[];
}

/** Copy-named files in the folder, sorted (the same order on every file system). */
function copyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : 1));
}

/**
 * Cleans what interrupted imports and deletes left in `modelsDir` (see above); `isRegistered` says whether a
 * library row names a path. Synchronous, so it ends before any import can create a file of its own.
 */
export function sweepModelsFolder(modelsDir: string, isRegistered: (path: string) => boolean): ModelsFolderSweep {
  const sweep = { partialsRemoved: [] as string[], deletesUndone: [] as string[], deletesFinished: [] as string[], unregisteredCopies: [] as string[] };
  if (!existsSync(modelsDir)) return sweep;
  const dir = resolve(modelsDir);
  for (const name of copyFiles(dir)) {
    const path = join(dir, name);
    const copy = name.endsWith(PARTIAL_SUFFIX) ? name.slice(0, -PARTIAL_SUFFIX.length) : name.endsWith(DELETING_SUFFIX) ? name.slice(0, -DELETING_SUFFIX.length) : null;
    const first = copy === null ? null : firstPartOf(copy);
    if (copy === null || first === null) continue;
    if (name.endsWith(PARTIAL_SUFFIX)) {
      rmSync(path, { force: true });
      sweep.partialsRemoved.push(path);
    } else if (isRegistered(join(dir, first)) && !existsSync(join(dir, copy))) {
      renameSync(path, join(dir, copy));
      sweep.deletesUndone.push(join(dir, copy));
    } else {
      rmSync(path, { force: true });
      sweep.deletesFinished.push(path);
    }
  }
  const names = copyFiles(dir);
  const present = new Set(names);
  for (const name of names) {
    const first = firstPartOf(name);
    if (first === null) continue;
    const path = join(dir, name);
    if (first !== name) {
      if (!present.has(first)) {
        rmSync(path, { force: true });
        sweep.partialsRemoved.push(path);
      }
    } else if (!isRegistered(path)) {
      sweep.unregisteredCopies.push(path);
    }
  }
  return sweep;
}
