// Folders of GGUF models the user linked: every model in one (its subfolders too, a few levels down) is registered in
// the library in place, never copied; deleting one from the library unregisters it and leaves the file, and the
// folder's later scans leave it out. Linked folders are scanned again at every start (new files are added).
// Each folder of the tree is read by local-models.ts (findModelsDirectlyIn: split models, the header checks, what the
// library already has), as findLocalModels reads the other apps' folders.
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LinkedFolder, LinkedFolderScan, LocalModelCandidate, ModelImportProgress } from '../../shared/api';
import { isInFolder, LinkedFolderStore } from '../../store/linked-folders';
import type { Db } from '../../store/database';
import type { ModelLibrary } from './library';
import { findModelsDirectlyIn } from './local-models';

/** A folder that cannot be linked or unlinked; `code` is stable, `message` names the folder. */
export class LinkedFolderError extends Error {
  constructor(
    readonly code: 'not-a-folder' | 'not-linked',
    message: string,
  ) {
    super(message);
    this.name = 'LinkedFolderError';
  }
}

/** Folders below the linked one that are scanned at most (a collection sorted as publisher/repo/file fits). */
export const MAX_LINK_DEPTH = 4;
/** Folders scanned at most under one link: a home folder linked by mistake is not walked whole. */
export const MAX_LINK_FOLDERS = 500;

async function subfolders(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return []; // unreadable: nothing below it
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue; // .git, .cache and the like hold no models of the user's
    const path = join(dir, e.name);
    if (e.isDirectory() || (e.isSymbolicLink() && (await stat(path).then((s) => s.isDirectory(), () => false)))) out.push(path);
  }
  return out;
}

/** The folder and its subfolders, breadth first, each real folder once, at most MAX_LINK_DEPTH down and MAX_LINK_FOLDERS in all. */
async function folderTree(root: string): Promise<string[]> {
  const seen = new Set<string>();
  const out: string[] = [];
  let level = [root];
  for (let depth = 0; depth <= MAX_LINK_DEPTH && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      const real = await realpath(dir).catch(() => null);
      if (real === null || seen.has(real) || out.length >= MAX_LINK_FOLDERS) continue;
      seen.add(real);
      out.push(dir);
      if (depth < MAX_LINK_DEPTH) next.push(...(await subfolders(dir)));
    }
    level = next;
  }
  return out;
}

/**
 * Every GGUF model in the linked folder's tree, each file once, as findLocalModels describes it; files `leaveOut`
 * names are left out unread. A model the library has, with its files' size and mtime as recorded, is not read either:
 * a start with large linked folders reads no headers.
 */
export async function findModelsInFolder(folder: string, library: ModelLibrary, leaveOut?: (path: string) => boolean): Promise<LocalModelCandidate[]> {
  const options = { registered: library.listModels(), recorded: library.recordedFileStats(), ...(leaveOut ? { leaveOut } : {}) };
  const found: LocalModelCandidate[] = [];
  const seen = new Set<string>();
  for (const dir of await folderTree(folder)) {
    for (const c of await findModelsDirectlyIn(dir, options)) {
      const real = await realpath(c.path).catch(() => resolve(c.path));
      if (seen.has(real)) continue;
      seen.add(real);
      found.push(c);
    }
  }
  return found;
}

export class LinkedFolders {
  private readonly store: LinkedFolderStore;

  constructor(
    db: Db,
    private readonly library: ModelLibrary,
  ) {
    this.store = new LinkedFolderStore(db);
  }

  /** Links the folder and registers its models in place; `onProgress` follows each model's fingerprint. */
  async link(folder: string, onProgress?: (p: ModelImportProgress) => void): Promise<LinkedFolderScan> {
    const s = await stat(folder).catch(() => null);
    if (!s?.isDirectory()) throw new LinkedFolderError('not-a-folder', `${folder} is not a folder that can be read`);
    this.store.add(folder);
    return this.scan(resolve(folder), onProgress);
  }

  /** Scans every linked folder again (at start): new files are registered; a folder that is gone is kept, and skipped. */
  async rescanAll(): Promise<LinkedFolderScan[]> {
    const scans: LinkedFolderScan[] = [];
    for (const r of this.store.list()) {
      if (!(await stat(r.path).then((s) => s.isDirectory(), () => false))) continue; // an unplugged drive comes back later
      scans.push(await this.scan(r.path));
    }
    return scans;
  }

  list(): LinkedFolder[] {
    const models = this.library.listModels();
    return this.store.list().map((r) => ({ path: r.path, models: models.filter((m) => isInFolder(r.path, m.path)).length }));
  }

  unlink(folder: string): void {
    if (!this.store.remove(folder)) throw new LinkedFolderError('not-linked', `${folder} is not a linked folder`);
  }

  /** The library deleted the model with this file: a linked folder's scans leave it out from now on. */
  modelDeleted(file: string): void {
    this.store.dismiss(file);
  }

  private async scan(folder: string, onProgress?: (p: ModelImportProgress) => void): Promise<LinkedFolderScan> {
    const dismissed = new Set(this.store.list().find((r) => r.path === folder)?.dismissed ?? []);
    const dismissedFound = new Set<string>(); // the user deleted them from the library: left out, never read
    const leaveOut = (path: string): boolean => {
      const p = resolve(path);
      if (!dismissed.has(p)) return false;
      dismissedFound.add(p);
      return true;
    };
    const added: LinkedFolderScan['added'][number][] = [];
    const skipped: { path: string; reason: string }[] = [];
    let known = 0;
    for (const c of await findModelsInFolder(folder, this.library, leaveOut)) {
      if (c.registeredId !== null) {
        known++;
        continue;
      }
      if (c.problem) {
        skipped.push({ path: c.path, reason: c.problem.message });
        continue;
      }
      try {
        added.push(await this.library.importModel(c.path, { copy: false, name: c.name, ...(onProgress ? { onProgress } : {}) }));
      } catch (e) {
        skipped.push({ path: c.path, reason: (e as Error).message });
      }
    }
    return { folder, added, known: known + dismissedFound.size, skipped };
  }
}
