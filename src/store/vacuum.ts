// Giving freed pages back to the file system. New databases are created with auto_vacuum = INCREMENTAL (see
// openDatabase); an older file is converted once by a VACUUM at start, only while it is small enough to do so
// quickly. KV drops then run `PRAGMA incremental_vacuum`, and the file shrinks at the next WAL checkpoint.
import type { Db } from './database';

const MiB = 1024 ** 2;
/** Live data a start-up VACUUM may rewrite (it copies every live page, and needs that much free disk). */
export const DEFAULT_VACUUM_MAX_LIVE_BYTES = 512 * MiB;

const INCREMENTAL = 2;

export type VacuumConversion =
  | { readonly outcome: 'already-incremental' | 'converted' }
  | { readonly outcome: 'skipped'; readonly liveBytes: number; readonly maxLiveBytes: number }
  | { readonly outcome: 'failed'; readonly message: string };

/** Pages in use, in bytes (the file's size less its free pages). */
export function liveBytes(db: Db): number {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  return (pages - free) * pageSize;
}

/**
 * Turns on incremental auto-vacuum for a database created before it (a VACUUM rewrites the file). Bounded: a
 * file with more than `maxLiveBytes` of live data is left for a later start (after the KV budget has dropped
 * blocks it will be smaller). Never throws: a failure leaves the file as it was and the app starts.
 */
export function ensureIncrementalVacuum(db: Db, maxLiveBytes = DEFAULT_VACUUM_MAX_LIVE_BYTES): VacuumConversion {
  try {
    if (db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL) return { outcome: 'already-incremental' };
    const live = liveBytes(db);
    if (live > maxLiveBytes) return { outcome: 'skipped', liveBytes: live, maxLiveBytes };
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
    return db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL ? { outcome: 'converted' } : { outcome: 'failed', message: 'auto_vacuum did not change' };
  } catch (e) {
    return { outcome: 'failed', message: (e as Error).message };
  }
}

/**
 * Returns the free pages to the file system (with incremental auto-vacuum on) and checkpoints the WAL without
 * waiting for readers, which is when the main file shrinks. Never throws: space comes back at a later call.
 */
export function reclaimFreePages(db: Db): void {
  try {
    if (db.pragma('auto_vacuum', { simple: true }) !== INCREMENTAL) return;
    db.pragma('incremental_vacuum');
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY or SQLITE_FULL mid-vacuum: the pages stay free inside the file until the next drop.
  }
}
