// Real SQLite files in a fresh temp folder per test; removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach } from 'vitest';
import { openDatabase, type Db } from '../../src/store/database';

export const SHARED_MODELS = resolve(__dirname, '../../../shared/models');
export const sharedModel = (name: string): string => join(SHARED_MODELS, name);

const cleanups: (() => void)[] = [];

afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A temp folder removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvchat-main-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh migrated database file, closed after the current test. */
export function tempDb(dir = tempDir()): { db: Db; file: string; dir: string } {
  const file = join(dir, 'kvchat.sqlite');
  const db = openDatabase(file);
  // Registered after the folder's removal, so it runs first (cleanups run last-in first-out).
  cleanups.push(() => db.open && db.close());
  return { db, file, dir };
}

/** Closes `db` after the current test (before its folder is removed). */
export function closeLater(db: Db): Db {
  cleanups.push(() => db.open && db.close());
  return db;
}
