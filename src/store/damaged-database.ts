// A damaged database at start (a disk error, a file replaced by something that is not SQLite): found by a
// read-only check, then, if the user agrees, moved aside under a new name with its -wal and -shm, and a fresh
// database opened in its place. Nothing is deleted or rewritten: the damaged file keeps every byte, for a repair
// tool or a backup later. A database from a newer KVChat is never treated as damaged: openDatabase refuses it.
import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { openDatabase, type Db, type OpenDatabaseOptions } from './database';
import { StoreError } from './errors';
import { LATEST_SCHEMA_VERSION } from './migrations';

export interface DamagedDatabase {
  /** The damaged file, where the app looks for its database. */
  readonly file: string;
  /** Where it will be kept if the user starts with a fresh database. */
  readonly asideFile: string;
  /** What SQLite reported, for the user and for a bug report. */
  readonly problem: string;
}

export interface SetAsideDatabase extends DamagedDatabase {
  /** Every file moved: the database, then its -wal/-shm/-journal where they existed, at their new names. */
  readonly movedFiles: readonly string[];
}

export interface OpenOrSetAsideOptions extends OpenDatabaseOptions {
  /** Asked once the file is found damaged: true moves it aside and starts fresh; false leaves it as it is. */
  readonly startFresh: (damaged: DamagedDatabase) => boolean;
  /** The time in the aside name (tests fix it). */
  readonly now?: () => Date;
}

export interface OpenedDatabase {
  readonly db: Db;
  /** Set when a damaged database was moved aside and `db` is a fresh one. */
  readonly setAside: SetAsideDatabase | null;
}

/** SQLite's own companions of a database file: moved with it, so a fresh file never picks up a stale journal. */
const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'];

const isDamage = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
};

/**
 * Tables whose pages a start-up check reads: all but the KV block blobs. Those are most of a long-used file (GiBs
 * under the KV budget), so checking them would make every start cost a read of the whole file; each block carries
 * its own checksum, verified when it is read, and a damaged block is recomputed and replaced, never used.
 */
const UNCHECKED_AT_START = new Set(['kv_blocks']);

function checkedTables(db: Db): string[] {
  const rows = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[];
  return rows.map((r) => r.name).filter((n) => !UNCHECKED_AT_START.has(n));
}

/**
 * What is wrong with the database at `file`, or null when it reads as sound (or is not there yet, or is from a
 * newer KVChat, or cannot be opened for another reason such as permissions: openDatabase reports those).
 * Read-only: a read-only connection never checkpoints, so the file's bytes stay as they are.
 */
export function findDatabaseDamage(file: string, options: Pick<OpenDatabaseOptions, 'nativeBinding'> = {}): string | null {
  if (!existsSync(file)) return null;
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}) });
  } catch (e) {
    if (isDamage(e)) return (e as Error).message;
    return null;
  }
  try {
    // user_version reads the header: a file that is not SQLite fails here.
    if ((db.pragma('user_version', { simple: true }) as number) > LATEST_SCHEMA_VERSION) return null;
    const found: string[] = [];
    for (const table of checkedTables(db)) {
      const problems = db.pragma(`quick_check("${table.replaceAll('"', '""')}")`, { simple: false }) as { quick_check: string }[];
      found.push(...problems.map((r) => r.quick_check).filter((r) => r !== 'ok'));
      if (found.length >= 3) break;
    }
    return found.length === 0 ? null : found.slice(0, 3).join('; ');
  } catch (e) {
    if (isDamage(e)) return (e as Error).message;
    return null;
  } finally {
    db.close();
  }
}

/** `kvchat.sqlite` -> `kvchat.corrupt-2025-01-31T10-20-30-000Z.sqlite`, beside it; a counter if that is taken. */
export function asideNameFor(file: string, at: Date): string {
  const ext = extname(file);
  const stem = basename(file, ext);
  const stamp = at.toISOString().replace(/[:.]/g, '-'); // no ':' (not allowed in Windows file names)
  for (let n = 1; ; n++) {
    const candidate = join(dirname(file), `${stem}.corrupt-${stamp}${n > 1 ? `-${n}` : ''}${ext}`);
    if (![candidate, ...COMPANION_SUFFIXES.map((s) => candidate + s)].some((f) => existsSync(f))) return candidate;
  }
}

/** Renames the database and its companions to `asideFile`; companions first, so the database never leaves one behind. */
function moveAside(file: string, asideFile: string): string[] {
  const moved: string[] = [];
  for (const suffix of COMPANION_SUFFIXES) {
    if (!existsSync(file + suffix)) continue;
    renameSync(file + suffix, asideFile + suffix);
    moved.push(asideFile + suffix);
  }
  renameSync(file, asideFile);
  return [asideFile, ...moved];
}

/**
 * Opens (and migrates) the database like openDatabase, after a read-only `PRAGMA quick_check` of every table but the KV blocks. A damaged file is
 * moved aside only when `startFresh` agrees; otherwise a 'database-damaged' StoreError is thrown and nothing changed.
 */
export function openDatabaseOrSetAside(file: string, options: OpenOrSetAsideOptions): OpenedDatabase {
  const { startFresh, now, ...openOptions } = options;
  const problem = findDatabaseDamage(file, openOptions);
  if (problem === null) return { db: openDatabase(file, openOptions), setAside: null };

  const damaged: DamagedDatabase = { file, asideFile: asideNameFor(file, (now ?? (() => new Date()))()), problem };
  if (!startFresh(damaged)) {
    throw new StoreError('database-damaged', `The database ${file} is damaged (${problem}). It was left as it was.`);
  }
  let movedFiles: string[];
  try {
    movedFiles = moveAside(file, damaged.asideFile);
  } catch (e) {
    throw new StoreError(
      'database-unreadable',
      `The database ${file} is damaged (${problem}) and could not be moved aside to ${damaged.asideFile}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return { db: openDatabase(file, openOptions), setAside: { ...damaged, movedFiles } };
}
