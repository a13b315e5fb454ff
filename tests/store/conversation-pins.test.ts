// Pinned conversations in the store (migration 009): a database from before the column opens with every
// conversation unpinned; pin / unpin persist across reopening and leave the list's activity order alone.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConversationRepository } from '../../src/store/conversations';
import { migrate, openDatabase, schemaVersion } from '../../src/store/database';
import { LATEST_SCHEMA_VERSION } from '../../src/store/migrations';
import { closeLater, tempDir } from '../helpers/temp';

describe('conversation pins', () => {
  it('migration 009: conversations written before it open unpinned, with everything else as it was', () => {
    const file = join(tempDir(), 'schema8.sqlite');
    const raw = new Database(file);
    raw.pragma('foreign_keys = ON');
    migrate(raw, 8);
    raw.prepare("INSERT INTO conversations (title, system_prompt, created_at, updated_at) VALUES ('before pins', 'be brief', 1, 2)").run();
    raw.close();
    const db = closeLater(openDatabase(file));
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    const [c] = new ConversationRepository(db).listConversations();
    expect(c).toMatchObject({ title: 'before pins', systemPrompt: 'be brief', pinned: false, createdAt: 1, updatedAt: 2 });
  });

  it('the column refuses anything but 0 and 1', () => {
    const db = closeLater(openDatabase(join(tempDir(), 'pins.sqlite')));
    const { id } = new ConversationRepository(db).createConversation();
    expect(() => db.prepare('UPDATE conversations SET pinned = 2 WHERE id = ?').run(id)).toThrow(/CHECK constraint/);
  });

  it('pins and unpins; the pin survives reopening the database and does not count as activity', () => {
    const file = join(tempDir(), 'pins.sqlite');
    const db = openDatabase(file);
    const conversations = new ConversationRepository(db);
    const older = conversations.createConversation({ title: 'older' });
    const newer = conversations.createConversation({ title: 'newer' });
    expect(newer.pinned).toBe(false);
    const pinned = conversations.setPinned(older.id, true);
    expect(pinned).toMatchObject({ id: older.id, pinned: true, updatedAt: older.updatedAt });
    db.close();

    const again = closeLater(openDatabase(file));
    const reopened = new ConversationRepository(again);
    expect(reopened.listConversations().map((c) => [c.title, c.pinned])).toEqual([
      ['newer', false],
      ['older', true],
    ]);
    expect(reopened.setPinned(older.id, false).pinned).toBe(false);
    expect(reopened.setPinned(older.id, false).pinned).toBe(false); // unpinning twice is no error
    expect(reopened.getConversation(older.id).pinned).toBe(false);
  });

  it('refuses an unknown conversation with a typed error', () => {
    const db = closeLater(openDatabase(join(tempDir(), 'pins.sqlite')));
    expect(() => new ConversationRepository(db).setPinned(42, true)).toThrow(expect.objectContaining({ code: 'conversation-not-found' }));
  });
});
