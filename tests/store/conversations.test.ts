// Conversations on a real database file: every repository verb, settings, cascading delete.
import { describe, expect, it } from 'vitest';
import { DEFAULT_GENERATION_SETTINGS } from '../../src/shared/api';
import { ConversationRepository, DEFAULT_CONVERSATION_TITLE } from '../../src/store/conversations';
import { MessageRepository } from '../../src/store/messages';
import { KvBlockStore } from '../../src/store/kv-store';
import { tempDb } from '../helpers/temp';

function repos() {
  const { db } = tempDb();
  return { db, conversations: new ConversationRepository(db), messages: new MessageRepository(db) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ConversationRepository', () => {
  it('creates with defaults and lists newest activity first', async () => {
    const { conversations, messages } = repos();
    const a = conversations.createConversation({ title: '  Trip \n planning ' });
    expect(a.title).toBe('Trip planning');
    expect(a.settings).toEqual(DEFAULT_GENERATION_SETTINGS);
    expect(a.modelId).toBeNull();
    expect(a.systemPrompt).toBe('');
    await sleep(5);
    const b = conversations.createConversation();
    expect(b.title).toBe(DEFAULT_CONVERSATION_TITLE);
    expect(conversations.listConversations().map((c) => c.id)).toEqual([b.id, a.id]);
    await sleep(5);
    messages.appendMessage({ conversationId: a.id, parentId: null, role: 'user', content: 'hi' });
    expect(conversations.listConversations().map((c) => c.id)).toEqual([a.id, b.id]);
  });

  it('renames, and refuses unknown ids with a typed error', () => {
    const { conversations } = repos();
    const c = conversations.createConversation({ title: 'x' });
    expect(conversations.renameConversation(c.id, 'Recipes').title).toBe('Recipes');
    expect(conversations.getConversation(c.id).title).toBe('Recipes');
    expect(() => conversations.renameConversation(999, 'y')).toThrow(expect.objectContaining({ code: 'conversation-not-found' }));
    expect(() => conversations.deleteConversation(999)).toThrow(/Conversation 999 does not exist/);
  });

  it('merges settings, replaces the system prompt, and checks the model exists', () => {
    const { conversations } = repos();
    const c = conversations.createConversation({ settings: { temperature: 0, seed: 42 }, systemPrompt: 'Be brief.' });
    expect(c.settings).toEqual({ ...DEFAULT_GENERATION_SETTINGS, temperature: 0, seed: 42 });
    const u = conversations.updateSettings(c.id, { settings: { topK: 1, maxTokens: 64, contextPolicy: 'rolling-window' } });
    expect(u.settings).toEqual({ ...DEFAULT_GENERATION_SETTINGS, temperature: 0, seed: 42, topK: 1, maxTokens: 64, contextPolicy: 'rolling-window' });
    expect(u.systemPrompt).toBe('Be brief.');
    expect(conversations.updateSettings(c.id, { systemPrompt: '', settings: { seed: null } }).settings.seed).toBeNull();
    expect(() => conversations.updateSettings(c.id, { modelId: 'nope' })).toThrow(expect.objectContaining({ code: 'model-not-found' }));
    expect(() => conversations.createConversation({ modelId: 'nope' })).toThrow(/No model with id nope/);
  });

  it('stores settings with the schema key names', () => {
    const { db, conversations } = repos();
    const c = conversations.createConversation({ settings: { topP: 0.5 } });
    const json = JSON.parse(db.prepare('SELECT settings FROM conversations WHERE id = ?').pluck().get(c.id) as string);
    expect(Object.keys(json).sort()).toEqual(['context_policy', 'max_tokens', 'min_p', 'repeat_penalty', 'seed', 'temperature', 'top_k', 'top_p']);
    expect(json.top_p).toBe(0.5);
  });

  it('delete cascades to messages, search rows and the KV block table', () => {
    const { db, conversations, messages } = repos();
    const kv = new KvBlockStore(db);
    const c = conversations.createConversation({ title: 'doomed' });
    const keep = conversations.createConversation({ title: 'kept' });
    const m1 = messages.appendMessage({ conversationId: c.id, parentId: null, role: 'user', content: 'zebra crossing' });
    messages.appendMessage({ conversationId: c.id, parentId: m1, role: 'assistant', content: 'zebra answer' });
    messages.appendMessage({ conversationId: keep.id, parentId: null, role: 'user', content: 'zebra kept' });
    kv.putBlocks([{ hash: 'h0', modelFingerprint: 'f', layout: {}, bytes: new Uint8Array(4) }]);
    kv.setConversationBlocks(c.id, ['h0']);
    conversations.deleteConversation(c.id);
    expect(conversations.listConversations().map((x) => x.id)).toEqual([keep.id]);
    expect(db.prepare('SELECT count(*) FROM messages WHERE conversation_id = ?').pluck().get(c.id)).toBe(0);
    expect(db.prepare("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zebra'").pluck().get()).toBe(1);
    expect(kv.conversationBlocks(c.id)).toEqual([]);
    expect(db.pragma('foreign_key_check')).toEqual([]);
  });
});
