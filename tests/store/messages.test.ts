// Messages on a real database file: append (durable), streamed updates, parents, and the branch tree.
import { describe, expect, it } from 'vitest';
import { ConversationRepository } from '../../src/store/conversations';
import { MessageRepository } from '../../src/store/messages';
import { tempDb } from '../helpers/temp';

function repos() {
  const { db } = tempDb();
  return { db, conversations: new ConversationRepository(db), messages: new MessageRepository(db) };
}

describe('MessageRepository', () => {
  it('appends durably, returns the id and reads back every field', () => {
    const { db, conversations, messages } = repos();
    const c = conversations.createConversation();
    const id = messages.appendMessage({ conversationId: c.id, parentId: null, role: 'user', content: 'Tell me a story', tokenCount: 5 });
    const m = messages.getMessage(id);
    expect(m).toMatchObject({ id, conversationId: c.id, parentId: null, role: 'user', content: 'Tell me a story', tokenCount: 5, stats: {}, status: 'complete' });
    expect(m.createdAt).toBeGreaterThan(0);
    // The durable path restores NORMAL afterwards.
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
  });

  it('saves a streamed answer as it grows, then its stats and final status', () => {
    const { conversations, messages } = repos();
    const c = conversations.createConversation();
    const q = messages.appendMessage({ conversationId: c.id, parentId: null, role: 'user', content: 'Once' });
    const a = messages.appendMessage({ conversationId: c.id, parentId: q, role: 'assistant', content: '', status: 'incomplete' });
    messages.updateMessage(a, { content: 'Once upon' });
    messages.updateMessage(a, { content: 'Once upon a time', stats: { timeToFirstTokenMs: 12, resumeSource: 'disk' } });
    const done = messages.updateMessage(a, { status: 'complete', tokenCount: 4, stats: { tokensPerSecond: 88.5, stopReason: 'eos' } });
    expect(done).toMatchObject({
      content: 'Once upon a time',
      status: 'complete',
      tokenCount: 4,
      stats: { timeToFirstTokenMs: 12, resumeSource: 'disk', tokensPerSecond: 88.5, stopReason: 'eos' },
    });
    expect(messages.updateMessage(a, { status: 'incomplete', stats: { stopReason: 'cancelled' } }).status).toBe('incomplete');
    expect(() => messages.updateMessage(12345, { content: 'x' })).toThrow(expect.objectContaining({ code: 'message-not-found' }));
  });

  it('refuses a parent from another conversation or an unknown conversation', () => {
    const { conversations, messages } = repos();
    const a = conversations.createConversation();
    const b = conversations.createConversation();
    const inA = messages.appendMessage({ conversationId: a.id, parentId: null, role: 'user', content: 'x' });
    expect(() => messages.appendMessage({ conversationId: b.id, parentId: inA, role: 'assistant', content: 'y' })).toThrow(
      expect.objectContaining({ code: 'invalid-parent' }),
    );
    expect(() => messages.appendMessage({ conversationId: b.id, parentId: 777, role: 'assistant', content: 'y' })).toThrow(/Message 777 is not part/);
    expect(() => messages.appendMessage({ conversationId: 999, parentId: null, role: 'user', content: 'y' })).toThrow(
      expect.objectContaining({ code: 'conversation-not-found' }),
    );
    expect(messages.allMessages(b.id)).toEqual([]);
  });

  describe('branches', () => {
    /** user1 -> asst1 -> user2 -> asst2, then a regenerated asst2' and an edited user2'. */
    function conversationWithBranches() {
      const r = repos();
      const c = r.conversations.createConversation();
      const add = (parentId: number | null, role: 'user' | 'assistant', content: string) =>
        r.messages.appendMessage({ conversationId: c.id, parentId, role, content });
      const u1 = add(null, 'user', 'hello');
      const a1 = add(u1, 'assistant', 'hi there');
      const u2 = add(a1, 'user', 'tell me a story');
      const a2 = add(u2, 'assistant', 'once upon a time');
      const a2b = add(u2, 'assistant', 'long ago'); // regenerate
      const u2b = add(a1, 'user', 'tell me a joke'); // edit
      const a3 = add(u2b, 'assistant', 'knock knock');
      return { ...r, c, u1, a1, u2, a2, a2b, u2b, a3 };
    }

    it('regenerate and edit create siblings under the same parent', () => {
      const { c, messages, u1, a1, u2, a2, a2b, u2b } = conversationWithBranches();
      expect(messages.childrenOf(c.id, u2).map((m) => m.id)).toEqual([a2, a2b]);
      expect(messages.childrenOf(c.id, a1).map((m) => m.id)).toEqual([u2, u2b]);
      expect(messages.childrenOf(c.id, null).map((m) => m.id)).toEqual([u1]);
      expect(messages.allMessages(c.id)).toHaveLength(7);
    });

    it('the active path is the newest branch, with sibling ids for each message', () => {
      const { c, messages, u1, a1, u2, u2b, a3 } = conversationWithBranches();
      const t = messages.thread(c.id);
      expect(t.activeLeafId).toBe(a3);
      expect(t.messages.map((m) => m.id)).toEqual([u1, a1, u2b, a3]);
      expect(t.messages.map((m) => m.siblingIds)).toEqual([[u1], [a1], [u2, u2b], [a3]]);
      expect(messages.pathTo(a3).map((m) => m.content)).toEqual(['hello', 'hi there', 'tell me a joke', 'knock knock']);
    });

    it('selecting a branch follows its newest descendants and is remembered', () => {
      const { db, c, messages, u1, a1, u2, a2, a2b } = conversationWithBranches();
      const t = messages.selectBranch(c.id, u2);
      expect(t.activeLeafId).toBe(a2b);
      expect(t.messages.map((m) => m.id)).toEqual([u1, a1, u2, a2b]);
      expect(new MessageRepository(db).thread(c.id).activeLeafId).toBe(a2b);
      expect(messages.selectBranch(c.id, a2).messages.map((m) => m.id)).toEqual([u1, a1, u2, a2]);
    });

    it('a new first message (editing the first turn) is another root', () => {
      const { c, messages, u1 } = conversationWithBranches();
      const root2 = messages.appendMessage({ conversationId: c.id, parentId: null, role: 'user', content: 'hey' });
      expect(messages.childrenOf(c.id, null).map((m) => m.id)).toEqual([u1, root2]);
      expect(messages.thread(c.id).messages.map((m) => m.siblingIds)).toEqual([[u1, root2]]);
    });

    it('refuses to select a message of another conversation', () => {
      const { conversations, messages, a1 } = conversationWithBranches();
      const other = conversations.createConversation();
      expect(() => messages.selectBranch(other.id, a1)).toThrow(expect.objectContaining({ code: 'invalid-parent' }));
    });

    it('an empty conversation has an empty thread', () => {
      const { conversations, messages } = repos();
      const c = conversations.createConversation();
      expect(messages.thread(c.id)).toEqual({ conversationId: c.id, activeLeafId: null, messages: [] });
    });
  });
});
