// Each schema migration: a fresh database reaches the latest version, an older one is upgraded in one
// transaction with its rows kept, and a database from a newer app is refused without being touched.
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase, schemaVersion } from '../../src/store/database';
import { StoreError } from '../../src/store/errors';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/store/migrations';
import { closeLater, tempDb, tempDir } from '../helpers/temp';

const tables = (db: Database.Database): string[] =>
  db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table') AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];

/** A database file migrated only up to `version`, closed. */
function databaseAt(version: number): string {
  const file = join(tempDir(), 'old.sqlite');
  const db = new Database(file);
  migrate(db, version);
  expect(schemaVersion(db)).toBe(version);
  db.close();
  return file;
}

describe('migrations', () => {
  it('are numbered 1..N in order', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('bring a fresh database to the latest version with every table, WAL and foreign keys on', () => {
    const { db } = tempDb();
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    expect(tables(db)).toEqual(
      expect.arrayContaining(['models', 'conversations', 'messages', 'app_state', 'messages_fts', 'conversations_fts', 'kv_blocks', 'conversation_kv']),
    );
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('001 creates the library and conversation tables only', () => {
    const db = closeLater(new Database(databaseAt(1)));
    expect(tables(db)).toEqual(['app_state', 'conversations', 'messages', 'models']);
  });

  it('002 adds search and indexes rows written before it', () => {
    const file = databaseAt(1);
    const raw = new Database(file);
    raw.prepare("INSERT INTO conversations (title, created_at, updated_at) VALUES ('Old trip notes', 1, 1)").run();
    raw.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (1, 'user', 'a pelican in Lisbon', 1)").run();
    raw.close();
    const db = closeLater(new Database(file));
    migrate(db, 2);
    expect(schemaVersion(db)).toBe(2);
    expect(db.prepare("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'pelican'").pluck().all()).toEqual([1]);
    expect(db.prepare("SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH 'trip'").pluck().all()).toEqual([1]);
    expect(tables(db)).not.toContain('kv_blocks');
  });

  it('003 adds the KV block tables', () => {
    const db = closeLater(new Database(databaseAt(2)));
    migrate(db, 3);
    expect(tables(db)).toEqual(expect.arrayContaining(['kv_blocks', 'conversation_kv']));
  });

  it('004 adds conversation token histories', () => {
    const db = closeLater(new Database(databaseAt(3)));
    expect(tables(db)).not.toContain('conversation_tokens');
    migrate(db, 4);
    expect(tables(db)).toContain('conversation_tokens');
  });

  it.each(MIGRATIONS.map((m) => m.version).filter((v) => v < LATEST_SCHEMA_VERSION))(
    'a database at version %i opens at the latest version with its rows',
    (version) => {
      const file = databaseAt(version);
      const raw = new Database(file);
      raw.prepare("INSERT INTO conversations (title, created_at, updated_at) VALUES ('kept', 1, 1)").run();
      raw.close();
      const db = closeLater(openDatabase(file));
      expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
      expect(db.prepare('SELECT title FROM conversations').pluck().all()).toEqual(['kept']);
    },
  );

  it('refuse a database written by a newer version, and leave it untouched', () => {
    const file = join(tempDir(), 'future.sqlite');
    const raw = new Database(file);
    raw.exec('CREATE TABLE from_the_future (x)');
    raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    raw.close();
    const err = (() => {
      try {
        openDatabase(file);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('database-too-new');
    expect((err as StoreError).message).toMatch(new RegExp(`newer version of KVChat .*schema version ${LATEST_SCHEMA_VERSION + 1}.*knows up to ${LATEST_SCHEMA_VERSION}`));
    const after = closeLater(new Database(file));
    expect(schemaVersion(after)).toBe(LATEST_SCHEMA_VERSION + 1);
    expect(tables(after)).toEqual(['from_the_future']);
  });

  it('roll back every step when one fails: the version does not move', () => {
    const file = databaseAt(1);
    const raw = new Database(file);
    raw.exec('CREATE TABLE kv_blocks (x)'); // makes migration 3 fail after 2 has run
    raw.close();
    const err = (() => {
      try {
        openDatabase(file);
      } catch (e) {
        return e as StoreError;
      }
    })();
    expect(err?.code).toBe('migration-failed');
    expect(err?.message).toMatch(/from schema version 1 \(step 3, KV cache blocks\).*Nothing was changed/);
    const after = closeLater(new Database(file));
    expect(schemaVersion(after)).toBe(1);
    expect(tables(after)).not.toContain('messages_fts');
  });

  it('refuse a file that is not a database with a clear error', () => {
    const file = join(tempDir(), 'notes.sqlite');
    writeFileSync(file, 'these are my notes, not a database'.repeat(200));
    expect(() => openDatabase(file)).toThrow(/Could not open the database .*notes\.sqlite/);
  });

  it('reopening a migrated database changes nothing', () => {
    const { db, file } = tempDb();
    db.close();
    const again = closeLater(openDatabase(file));
    expect(schemaVersion(again)).toBe(LATEST_SCHEMA_VERSION);
  });
});
