// Typed errors of the SQLite store. `code` is stable (the UI and tests branch on it); `message` is for the user.
export type StoreErrorCode =
  | 'database-too-new'
  | 'database-unreadable'
  | 'database-damaged'
  | 'database-busy'
  | 'migration-failed'
  | 'conversation-not-found'
  | 'model-not-found'
  | 'message-not-found'
  | 'invalid-parent'
  | 'kv-unknown-block'
  | 'kv-conversation-changed' // another writer saved the conversation's token history since this turn began
  | 'invalid-import'; // a conversation export file that is not one, or is inconsistent

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** better-sqlite3 reports a lock it waited on past busy_timeout as SQLITE_BUSY; say that in words. */
export function rethrowBusy(e: unknown, what: string): never {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT') {
    throw new StoreError('database-busy', `Could not ${what}: the database is locked by another process (is KVChat open twice?)`, { cause: e });
  }
  throw e;
}
