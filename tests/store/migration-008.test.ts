// Migration 008: blocks named by the old 32-hex-digit hash are dropped with the table entries naming them (they
// could never be found under SHA-256 names); conversations, messages and token histories stay, each history at
// version 1.
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { MessageRepository } from '../../src/store/messages';
import { LATEST_SCHEMA_VERSION } from '../../src/store/migrations';
import { closeLater, tempDir } from '../helpers/temp';
import { schema6Database } from './helpers/schema6-kv';

describe('migration 008 (SHA-256 block names)', () => {
  it('drops old-named blocks and keeps the conversation, its messages and its token history', () => {
    const tokens = Array.from({ length: 40 }, (_, i) => i * 3);
    const old = schema6Database(tempDir(), 'model-a', tokens, 39);
    const db = closeLater(openDatabase(old.file));
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    const kv = new KvBlockStore(db);
    expect(kv.usage()).toEqual({ blocks: 0, bytes: 0 });
    expect(kv.conversationBlocks(old.conversationId)).toEqual([]);
    expect(kv.conversationTokens(old.conversationId)).toEqual({ modelFingerprint: 'model-a', tokens, computed: 39, version: 1 });
    expect(new MessageRepository(db).allMessages(old.conversationId).map((m) => m.content)).toEqual(['Once upon a time']);
    expect(db.pragma('foreign_key_check')).toEqual([]);
  });
});
