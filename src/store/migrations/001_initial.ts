// The library of model files, conversations and their message trees. Times are milliseconds since the epoch;
// JSON columns are checked with json_valid so a bad write fails instead of poisoning later reads.
import type { Migration } from './types';

export const initial: Migration = {
  version: 1,
  name: 'models, conversations, messages',
  up(db) {
    db.exec(`
      CREATE TABLE models (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        fingerprint TEXT NOT NULL UNIQUE,      -- SHA-256 of the whole file, hex
        size INTEGER NOT NULL,                 -- bytes
        mtime_ms INTEGER NOT NULL,             -- the file's mtime when last fingerprinted
        architecture TEXT NOT NULL,
        parameter_count INTEGER NOT NULL,
        quantization TEXT NOT NULL,
        context_length INTEGER NOT NULL,       -- tokens
        metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
        stored_in_place INTEGER NOT NULL CHECK (stored_in_place IN (0, 1)),
        added_at INTEGER NOT NULL,
        available INTEGER NOT NULL DEFAULT 1 CHECK (available IN (0, 1))
      );

      CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        model_id TEXT REFERENCES models(id) ON DELETE SET NULL,
        system_prompt TEXT NOT NULL DEFAULT '',
        settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
        active_leaf_id INTEGER,                -- the message ending the branch on screen; null: the newest
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX conversations_by_update ON conversations(updated_at DESC, id DESC);

      CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL,
        token_count INTEGER,
        stats TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(stats)),
        status TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'incomplete', 'error')),
        created_at INTEGER NOT NULL
      );
      CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
      CREATE INDEX messages_by_parent ON messages(parent_id, id);

      -- Small app-wide facts, such as whether the bundled model was offered on first start.
      CREATE TABLE app_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `);
  },
};
