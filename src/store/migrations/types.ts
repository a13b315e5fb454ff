import type Database from 'better-sqlite3';

/** One schema step. `up` runs inside the single transaction that applies every pending migration. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  up(db: Database.Database): void;
}
