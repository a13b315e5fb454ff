// KV blocks named by SHA-256 (64 hex digits; src/gpu/kv/hash.ts) with xxHash64 checksums replace the 128-bit
// multiply-xorshift names (32 hex digits) and FNV checksums. Old blocks can never be found under the new names, so
// they are dropped with the table entries naming them; the conversations, their messages and token histories stay,
// and a resume recomputes what was dropped (then saves it under the new names).
//
// Also: a version on each conversation's token history, bumped by every save, so a second process that continued
// the same conversation from an older history is refused instead of interleaving its turn with the first's.
import type { Migration } from './types';

export const sha256BlockNames: Migration = {
  version: 8,
  name: 'SHA-256 KV block names, token history versions',
  up(db) {
    db.exec(`
      DELETE FROM conversation_kv WHERE length(block_hash) <> 64;
      DELETE FROM kv_blocks WHERE length(hash) <> 64;
      ALTER TABLE conversation_tokens ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    `);
  },
};
