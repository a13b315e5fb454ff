// Two connections on one file: WAL lets a reader keep its snapshot while another connection writes, and the
// busy timeout makes a writer wait for another process's lock instead of failing.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database';
import { StoreError } from '../../src/store/errors';
import { ConversationRepository } from '../../src/store/conversations';
import { MessageRepository } from '../../src/store/messages';
import { committedIds, startWriter } from './helpers/child';
import { closeLater, tempDb } from '../helpers/temp';

describe('two connections', () => {
  it('in one process see each other’s commits; a reader keeps its snapshot during a write', () => {
    const { db: a, file } = tempDb();
    const b = closeLater(openDatabase(file));
    const ca = new ConversationRepository(a);
    const cb = new ConversationRepository(b);
    const c1 = ca.createConversation({ title: 'from a' });
    cb.createConversation({ title: 'from b' });
    expect(ca.listConversations().map((c) => c.title).sort()).toEqual(['from a', 'from b']);

    const snapshot = a.transaction(() => {
      const before = ca.listConversations().length;
      new MessageRepository(b).appendMessage({ conversationId: c1.id, parentId: null, role: 'user', content: 'written meanwhile' });
      cb.createConversation({ title: 'also meanwhile' });
      return { before, during: ca.listConversations().length };
    })();
    expect(snapshot).toEqual({ before: 2, during: 2 });
    expect(ca.listConversations()).toHaveLength(3);
    expect(new MessageRepository(a).allMessages(c1.id).map((m) => m.content)).toEqual(['written meanwhile']);
  });

  it('a write waits (busy timeout) for another process holding the lock, then succeeds', async () => {
    const { db, file } = tempDb();
    const conversations = new ConversationRepository(db);
    const c = conversations.createConversation();
    const holder = startWriter('hold', file, '800');
    await holder.waitFor((l) => l.includes('locked'));
    const started = Date.now();
    const id = new MessageRepository(db).appendMessage({ conversationId: c.id, parentId: null, role: 'user', content: 'after the lock' });
    expect(Date.now() - started).toBeGreaterThan(200);
    expect((await holder.exited).code).toBe(0);
    expect(new MessageRepository(db).getMessage(id).content).toBe('after the lock');
    expect(conversations.listConversations().map((x) => x.title)).toContain('from the other process');
  });

  it('past the busy timeout a write fails with a typed error and changes nothing', async () => {
    const { file } = tempDb();
    const impatient = closeLater(openDatabase(file, { busyTimeoutMs: 50 }));
    const holder = startWriter('hold', file, '1500');
    await holder.waitFor((l) => l.includes('locked'));
    let err: unknown;
    try {
      new ConversationRepository(impatient).createConversation({ title: 'too early' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('database-busy');
    expect((err as StoreError).message).toMatch(/locked by another process/);
    await holder.exited;
    expect(new ConversationRepository(impatient).listConversations().map((c) => c.title)).toEqual(['from the other process']);
  });

  it('two processes appending at once lose nothing', async () => {
    const { db } = tempDb();
    const conversations = new ConversationRepository(db);
    const mine = conversations.createConversation({ title: 'mine' });
    const theirs = conversations.createConversation({ title: 'theirs' });
    const writer = startWriter('append', db.name, String(theirs.id), '60');
    await writer.waitFor((l) => committedIds(l).length > 0);
    const messages = new MessageRepository(db);
    let parentId: number | null = null;
    for (let i = 0; i < 60; i++) parentId = messages.appendMessage({ conversationId: mine.id, parentId, role: 'user', content: `mine ${i}` });
    expect((await writer.exited).code).toBe(0);
    expect(messages.allMessages(mine.id)).toHaveLength(60);
    expect(messages.allMessages(theirs.id).map((m) => m.id)).toEqual(committedIds(writer.lines));
    expect(messages.thread(theirs.id).messages).toHaveLength(60);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});
