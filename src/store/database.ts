// Opens the app's SQLite file: WAL (readers never block the writer), NORMAL sync (a commit survives an app
// crash; `durably` adds an fsync where the user's own words must survive power loss too), foreign keys on,
// and a busy timeout so a second connection waits for a lock instead of failing at once.
import Database from 'better-sqlite3';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations';
import { rethrowBusy, StoreError } from './errors';

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  /** Path of a better_sqlite3.node built for this runtime (Electron's differs from Node's: scripts/native-deps.mjs). */
  readonly nativeBinding?: string;
  /** How long a write waits for another connection's lock, in ms. */
  readonly busyTimeoutMs?: number;
  /** Apply pending migrations (default true). */
  readonly migrate?: boolean;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export function openDatabase(file: string, options: OpenDatabaseOptions = {}): Db {
  let db: Db;
  try {
    db = new Database(file, {
      timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
    });
  } catch (e) {
    throw new StoreError('database-unreadable', `Could not open the database ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    // page_count reads the file header: the first statement to fail on a file that is not a database. auto_vacuum
    // is set only on a new, empty file, before journal_mode writes its header (an older file is converted by
    // ensureIncrementalVacuum; setting it on an existing file would rewrite the header).
    if (db.pragma('page_count', { simple: true }) === 0) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    // A large KV save grows the WAL; past a checkpoint it is cut back to this instead of keeping its largest size.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    if (options.migrate !== false) migrate(db);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError('database-unreadable', `Could not open the database ${file}: ${(e as Error).message}`, { cause: e });
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies every migration newer than the database, up to `target`, in ONE transaction: the schema moves from
 * one known version to another or not at all. A database from a newer app is refused, never touched.
 */
export function migrate(db: Db, target: number = LATEST_SCHEMA_VERSION): void {
  const current = schemaVersion(db);
  if (current > LATEST_SCHEMA_VERSION) {
    throw new StoreError(
      'database-too-new',
      `The database ${db.name} was written by a newer version of KVChat (schema version ${current}; this version knows up to ${LATEST_SCHEMA_VERSION}). Update KVChat to open it; the file was left untouched.`,
    );
  }
  const pending = MIGRATIONS.filter((m) => m.version > current && m.version <= target);
  if (pending.length === 0) return;
  let step = pending[0]!;
  try {
    db.transaction(() => {
      for (const m of pending) {
        step = m;
        m.up(db);
      }
      db.pragma(`user_version = ${pending[pending.length - 1]!.version}`);
    }).immediate();
  } catch (e) {
    throw new StoreError(
      'migration-failed',
      `Could not upgrade the database ${db.name} from schema version ${current} (step ${step.version}, ${step.name}): ${(e as Error).message}. Nothing was changed.`,
      { cause: e },
    );
  }
}

/**
 * Runs `body` in a write transaction whose commit is fsynced (synchronous=FULL) before returning: for the
 * writes a user must find after a power cut, such as the message they just sent. Others stay NORMAL.
 */
export function durably<T>(db: Db, body: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(body).immediate();
  } catch (e) {
    return rethrowBusy(e, 'save');
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}

/** A write transaction taken at once (BEGIN IMMEDIATE), so a busy database waits up front, never mid-way. */
export function writeTransaction<T>(db: Db, body: () => T): T {
  try {
    return db.transaction(body).immediate();
  } catch (e) {
    return rethrowBusy(e, 'save');
  }
}

export function now(): number {
  return Date.now();
}
