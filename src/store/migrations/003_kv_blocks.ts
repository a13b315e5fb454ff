// Persisted KV cache blocks (the SQLite tier of the paged KV cache) and each conversation's block table.
// A block is named by its chained content hash, which already includes the model; model_fingerprint is kept
// so a deleted model's blocks can be dropped and a mismatched block is never used.
import type { Migration } from './types';

export const kvBlocks: Migration = {
  version: 3,
  name: 'KV cache blocks',
  up(db) {
    db.exec(`
      CREATE TABLE kv_blocks (
        hash TEXT PRIMARY KEY,
        model_fingerprint TEXT NOT NULL,
        layout TEXT NOT NULL CHECK (json_valid(layout)),  -- dtype, layers, KV heads, head dim, tokens
        checksum TEXT NOT NULL,                            -- of bytes, checked before use
        bytes BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL
      );
      CREATE INDEX kv_blocks_by_model ON kv_blocks(model_fingerprint);
      CREATE INDEX kv_blocks_by_use ON kv_blocks(last_used_at);

      -- A conversation's block table: logical block \`position\` holds the block named block_hash.
      CREATE TABLE conversation_kv (
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        position INTEGER NOT NULL CHECK (position >= 0),
        block_hash TEXT NOT NULL REFERENCES kv_blocks(hash) ON DELETE CASCADE,
        PRIMARY KEY (conversation_id, position)
      ) WITHOUT ROWID;
      CREATE INDEX conversation_kv_by_block ON conversation_kv(block_hash);
    `);
  },
};
