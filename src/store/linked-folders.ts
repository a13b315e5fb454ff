// Folders of GGUF models the user linked (the Welcome view, My models), kept with the app's other small facts
// (app_state) so they are scanned again at every start. A model of such a folder that the user deleted from the library
// is remembered as dismissed: the next scan leaves it out instead of bringing it back.
import { resolve, sep } from 'node:path';
import type { Db } from './database';

const KEY = 'linked_model_folders';

export interface LinkedFolderRecord {
  /** Absolute. */
  readonly path: string;
  /** Files of the folder the user deleted from the library (absolute paths). */
  readonly dismissed: readonly string[];
}

/** True when `file` is `folder` itself or lies somewhere below it. */
export function isInFolder(folder: string, file: string): boolean {
  const f = resolve(folder);
  const p = resolve(file);
  return p === f || p.startsWith(f.endsWith(sep) ? f : f + sep);
}

function parse(text: string | undefined): LinkedFolderRecord[] {
  if (text === undefined) return [];
  try {
    const list: unknown = JSON.parse(text);
    if (!Array.isArray(list)) return [];
    return list.flatMap((r: unknown) => {
      const o = r as { path?: unknown; dismissed?: unknown };
      if (typeof o?.path !== 'string') return [];
      const dismissed = Array.isArray(o.dismissed) ? o.dismissed.filter((d): d is string => typeof d === 'string') : [];
      return [{ path: o.path, dismissed }];
    });
  } catch {
    return []; // a damaged entry: the folders are linked again by the user
  }
}

export class LinkedFolderStore {
  constructor(private readonly db: Db) {}

  list(): LinkedFolderRecord[] {
    return parse(this.db.prepare('SELECT value FROM app_state WHERE key = ?').pluck().get(KEY) as string | undefined);
  }

  /** Links `path` (absolute); linking it again keeps its dismissed files. */
  add(path: string): LinkedFolderRecord {
    const folder = resolve(path);
    const list = this.list();
    const known = list.find((r) => r.path === folder);
    if (known) return known;
    const record = { path: folder, dismissed: [] };
    this.save([...list, record]);
    return record;
  }

  /** False when it was not linked. */
  remove(path: string): boolean {
    const folder = resolve(path);
    const list = this.list();
    const rest = list.filter((r) => r.path !== folder);
    if (rest.length === list.length) return false;
    this.save(rest);
    return true;
  }

  /** Remembers that the user deleted `file` from the library: scans of the folders holding it leave it out. */
  dismiss(file: string): void {
    const p = resolve(file);
    const list = this.list();
    if (!list.some((r) => isInFolder(r.path, p) && !r.dismissed.includes(p))) return;
    this.save(list.map((r) => (isInFolder(r.path, p) && !r.dismissed.includes(p) ? { ...r, dismissed: [...r.dismissed, p] } : r)));
  }

  private save(list: readonly LinkedFolderRecord[]): void {
    if (list.length === 0) this.db.prepare('DELETE FROM app_state WHERE key = ?').run(KEY);
    else this.db.prepare('INSERT OR REPLACE INTO app_state (key, value) VALUES (?, ?)').run(KEY, JSON.stringify(list));
  }
}
