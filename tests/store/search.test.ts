// Full-text search: snippets with marked matches, titles, prefix search, triggers kept in sync, and hostile
// input that must be searched as text, never thrown as FTS5 syntax errors.
import { describe, expect, it } from 'vitest';
import { ConversationRepository } from '../../src/store/conversations';
import { MessageRepository } from '../../src/store/messages';
import { MessageSearch, parseSnippet, toFtsQuery } from '../../src/store/search';
import { tempDb } from '../helpers/temp';

function seeded() {
  const { db } = tempDb();
  const conversations = new ConversationRepository(db);
  const messages = new MessageRepository(db);
  const search = new MessageSearch(db);
  const trip = conversations.createConversation({ title: 'Lisbon trip' });
  const code = conversations.createConversation({ title: 'Regex help' });
  const q = messages.appendMessage({ conversationId: trip.id, parentId: null, role: 'user', content: 'Where can I see pelicans near Lisbon?' });
  const a = messages.appendMessage({ conversationId: trip.id, parentId: q, role: 'assistant', content: 'Pelicans are rare; try the Tagus estuary for flamingos.' });
  const r = messages.appendMessage({ conversationId: code.id, parentId: null, role: 'user', content: 'What does "a*b" AND (c|d) match in a regex? Café déjà vu.' });
  return { db, conversations, messages, search, trip, code, q, a, r };
}

const text = (parts: readonly { text: string }[]) => parts.map((p) => p.text).join('');
const matched = (parts: readonly { text: string; match: boolean }[]) => parts.filter((p) => p.match).map((p) => p.text);

describe('searchMessages', () => {
  it('finds messages with a snippet whose matches are marked', () => {
    const { search, trip, q, a } = seeded();
    const hits = search.searchMessages('pelicans');
    expect(hits.map((h) => h.messageId).sort()).toEqual([q, a].sort());
    const hit = hits.find((h) => h.messageId === q)!;
    expect(hit).toMatchObject({ conversationId: trip.id, conversationTitle: 'Lisbon trip', role: 'user' });
    expect(text(hit.snippet)).toBe('Where can I see pelicans near Lisbon?');
    expect(matched(hit.snippet)).toEqual(['pelicans']);
  });

  it('matches every word, the last one as a prefix, case and accents ignored', () => {
    const { search, a, r } = seeded();
    expect(search.searchMessages('TAGUS flam').map((h) => h.messageId)).toEqual([a]);
    expect(search.searchMessages('cafe deja').map((h) => h.messageId)).toEqual([r]);
    expect(search.searchMessages('pelicans zebra')).toEqual([]);
  });

  it('finds conversation titles first', () => {
    const { search, trip } = seeded();
    const hits = search.searchMessages('lisbon');
    expect(hits[0]).toMatchObject({ conversationId: trip.id, messageId: null, role: null });
    expect(matched(hits[0]!.snippet)).toEqual(['Lisbon']);
    expect(hits).toHaveLength(2);
  });

  it('follows renames, edits and deletes (triggers)', () => {
    const { conversations, messages, search, trip, code, q } = seeded();
    conversations.renameConversation(trip.id, 'Porto weekend');
    expect(search.searchMessages('porto').map((h) => h.conversationId)).toEqual([trip.id]);
    expect(search.searchMessages('lisbon').every((h) => h.messageId !== null)).toBe(true);
    messages.updateMessage(q, { content: 'Where are the storks?' });
    expect(search.searchMessages('storks').map((h) => h.messageId)).toEqual([q]);
    conversations.deleteConversation(code.id);
    expect(search.searchMessages('regex')).toEqual([]);
  });

  it('respects the limit', () => {
    const { search } = seeded();
    expect(search.searchMessages('a', 1)).toHaveLength(1);
  });

  it.each([
    '"',
    '""',
    '*',
    'AND',
    'OR NOT',
    '(',
    'pelicans)',
    '((pelicans',
    'NEAR(pelicans',
    'content:pelicans',
    '^pelicans',
    'a*b',
    '"a*b" AND (c|d)',
    '-',
    '   ',
    '',
    "'; DROP TABLE messages; --",
    '\u0000',
    'x'.repeat(5000),
  ])('hostile query %j never throws', (query) => {
    const { search, db } = seeded();
    expect(() => search.searchMessages(query)).not.toThrow();
    expect(db.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(3);
  });

  it('searches operators and punctuation as plain words', () => {
    const { search, r } = seeded();
    expect(search.searchMessages('AND').map((h) => h.messageId)).toEqual([r]);
    expect(search.searchMessages('"a*b"').map((h) => h.messageId)).toEqual([r]);
    expect(search.searchMessages('(c|d)').map((h) => h.messageId)).toEqual([r]);
    expect(search.searchMessages('*')).toEqual([]);
  });
});

describe('toFtsQuery', () => {
  it('quotes every word and doubles inner quotes', () => {
    expect(toFtsQuery('say "hi" now')).toBe('"say" """hi""" "now"*');
    expect(toFtsQuery(' * ( ) ')).toBeNull();
  });
});

describe('parseSnippet', () => {
  it('splits marked text into parts', () => {
    expect(parseSnippet('a \uE000b\uE001 c')).toEqual([
      { text: 'a ', match: false },
      { text: 'b', match: true },
      { text: ' c', match: false },
    ]);
  });
});
