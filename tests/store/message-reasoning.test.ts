// An answer's reasoning, stored beside its content (migration 007): written with the message, updated while it
// streams, read back with the thread; messages from before the migration read as having none.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConversationRepository } from '../../src/store/conversations';
import { migrate, schemaVersion } from '../../src/store/database';
import { MessageRepository } from '../../src/store/messages';
import { closeLater, tempDb, tempDir } from '../helpers/temp';

function repos() {
  const { db } = tempDb();
  return { conversations: new ConversationRepository(db), messages: new MessageRepository(db) };
}

describe('message reasoning', () => {
  it('is stored with the answer, grows while it streams, and comes back with the thread', () => {
    const { conversations, messages } = repos();
    const c = conversations.createConversation();
    const q = messages.appendMessage({ conversationId: c.id, parentId: null, role: 'user', content: '2+2?' });
    const a = messages.appendMessage({ conversationId: c.id, parentId: q, role: 'assistant', content: '', status: 'incomplete' });
    expect(messages.getMessage(a).reasoning).toBe('');
    messages.updateMessage(a, { reasoning: 'Adding two' });
    messages.updateMessage(a, { reasoning: 'Adding two and two.', content: '4' });
    // An update that does not name the reasoning keeps it.
    messages.updateMessage(a, { status: 'complete' });
    expect(messages.thread(c.id).messages.map((m) => [m.role, m.content, m.reasoning])).toEqual([
      ['user', '2+2?', ''],
      ['assistant', '4', 'Adding two and two.'],
    ]);
    const direct = messages.appendMessage({ conversationId: c.id, parentId: a, role: 'assistant', content: 'x', reasoning: 'given at once' });
    expect(messages.getMessage(direct).reasoning).toBe('given at once');
  });

  it("a chat's thinking switch is kept with its settings (absent: on)", () => {
    const { conversations } = repos();
    const c = conversations.createConversation();
    expect(c.settings.thinking).toBeUndefined();
    expect(conversations.updateSettings(c.id, { settings: { thinking: false } }).settings.thinking).toBe(false);
    expect(conversations.getConversation(c.id).settings).toMatchObject({ thinking: false, temperature: c.settings.temperature });
    expect(conversations.updateSettings(c.id, { settings: { temperature: 0.2 } }).settings.thinking).toBe(false);
  });

  it('007 adds the column; messages written before it have no reasoning', () => {
    const file = join(tempDir(), 'old.sqlite');
    const raw = new Database(file);
    migrate(raw, 6);
    raw.prepare("INSERT INTO conversations (title, created_at, updated_at) VALUES ('old', 1, 1)").run();
    raw.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (1, 'assistant', 'an old answer', 1)").run();
    raw.close();
    const db = closeLater(new Database(file));
    migrate(db, 7);
    expect(schemaVersion(db)).toBe(7);
    expect(db.prepare('SELECT content, reasoning FROM messages').get()).toEqual({ content: 'an old answer', reasoning: '' });
  });
});
