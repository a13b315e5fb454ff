// A conversation's exact token history (the ids the engine ran, not a re-tokenization of the text): its KV block
// hashes are computed from these, so a resumed conversation finds its stored blocks.
import type { Migration } from './types';

export const conversationTokens: Migration = {
  version: 4,
  name: 'conversation token histories',
  up(db) {
    db.exec(`
      CREATE TABLE conversation_tokens (
        conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
        model_fingerprint TEXT NOT NULL,
        tokens BLOB NOT NULL,          -- u32 little endian
        computed INTEGER NOT NULL,     -- leading tokens whose K/V the engine had computed
        updated_at INTEGER NOT NULL
      );
    `);
  },
};
