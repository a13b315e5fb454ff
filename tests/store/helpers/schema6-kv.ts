// A database as the app wrote it before SHA-256 block names (schema version 6): a conversation with its exact token
// history, KV blocks named by the old 128-bit multiply-xorshift hash (32 hex digits) with FNV checksums, and the
// block table naming them. The old code path's rows, written as it wrote them (tokens u32 LE, layout JSON).
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { migrate } from '../../../src/store/database';

export interface Schema6Conversation {
  readonly file: string;
  readonly conversationId: number;
}

export function schema6Database(dir: string, modelFingerprint: string, tokens: readonly number[], computed: number, blockBytes = 1024): Schema6Conversation {
  const file = join(dir, 'old.sqlite');
  const db = new Database(file);
  db.pragma('foreign_keys = ON');
  migrate(db, 6);
  const conversationId = Number(db.prepare("INSERT INTO conversations (title, created_at, updated_at) VALUES ('before the upgrade', 1, 1)").run().lastInsertRowid);
  db.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, 'user', 'Once upon a time', 1)").run(conversationId);
  db.prepare('INSERT INTO conversation_tokens (conversation_id, model_fingerprint, tokens, computed, updated_at) VALUES (?, ?, ?, ?, 1)').run(
    conversationId,
    modelFingerprint,
    Buffer.from(Uint32Array.from(tokens).buffer),
    computed,
  );
  const insertBlock = db.prepare("INSERT INTO kv_blocks (hash, model_fingerprint, layout, checksum, bytes, created_at, last_used_at) VALUES (?, ?, '{\"key\":\"f32:old\"}', ?, ?, 1, 1)");
  const insertTable = db.prepare('INSERT INTO conversation_kv (conversation_id, position, block_hash) VALUES (?, ?, ?)');
  for (let b = 0; b < Math.floor(computed / 16); b++) {
    const oldName = (b + 1).toString(16).padStart(32, '0'); // 32 hex digits, as the old hash printed
    insertBlock.run(oldName, modelFingerprint, 'fnv' + b.toString().padStart(13, '0'), Buffer.alloc(blockBytes, b));
    insertTable.run(conversationId, b, oldName);
  }
  db.close();
  return { file, conversationId };
}
