// Full-text search over messages and conversation titles (FTS5). The user's words are always quoted as
// FTS5 strings, so a query such as `"`, `*`, `AND` or `(foo` is searched for as text and never parsed as syntax.
import type { MessageRole, SearchHit, SnippetPart } from '../shared/api';
import type { Db } from './database';

// Snippet markers: private-use characters that never appear in chat text in practice.
const OPEN = '\uE000';
const CLOSE = '\uE001';
const MAX_TERMS = 32;
const DEFAULT_LIMIT = 50;

/**
 * An FTS5 MATCH expression for what the user typed: every word must occur (implicit AND), the last as a prefix
 * (search as you type). null when nothing searchable remains.
 */
export function toFtsQuery(input: string): string | null {
  const words = input
    .split(/\s+/)
    .filter((w) => /[\p{L}\p{N}]/u.test(w))
    .slice(0, MAX_TERMS);
  if (words.length === 0) return null;
  return words.map((w, i) => `"${w.replace(/"/g, '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ');
}

export function parseSnippet(marked: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  for (const piece of marked.split(OPEN)) {
    const close = piece.indexOf(CLOSE);
    if (close < 0) {
      if (piece) parts.push({ text: piece, match: false });
      continue;
    }
    parts.push({ text: piece.slice(0, close), match: true });
    const rest = piece.slice(close + 1).replaceAll(CLOSE, '');
    if (rest) parts.push({ text: rest, match: false });
  }
  return parts;
}

interface MessageHitRow {
  message_id: number;
  conversation_id: number;
  title: string;
  role: MessageRole;
  created_at: number;
  snippet: string;
}

interface TitleHitRow {
  conversation_id: number;
  title: string;
  created_at: number;
  snippet: string;
}

export class MessageSearch {
  constructor(private readonly db: Db) {}

  /** Conversations whose title matches come first, then messages, each best match (bm25) first. */
  searchMessages(query: string, limit = DEFAULT_LIMIT): SearchHit[] {
    const match = toFtsQuery(query);
    if (match === null) return [];
    const titles = this.db
      .prepare(
        `SELECT c.id AS conversation_id, c.title, c.updated_at AS created_at,
                highlight(conversations_fts, 0, '${OPEN}', '${CLOSE}') AS snippet
         FROM conversations_fts JOIN conversations c ON c.id = conversations_fts.rowid
         WHERE conversations_fts MATCH ? ORDER BY bm25(conversations_fts) LIMIT ?`,
      )
      .all(match, limit) as TitleHitRow[];
    const messages = this.db
      .prepare(
        `SELECT m.id AS message_id, m.conversation_id, c.title, m.role, m.created_at,
                snippet(messages_fts, 0, '${OPEN}', '${CLOSE}', '…', 16) AS snippet
         FROM messages_fts
         JOIN messages m ON m.id = messages_fts.rowid
         JOIN conversations c ON c.id = m.conversation_id
         WHERE messages_fts MATCH ? ORDER BY bm25(messages_fts) LIMIT ?`,
      )
      .all(match, Math.max(0, limit - titles.length)) as MessageHitRow[];
    return [
      ...titles.map((r) => ({
        conversationId: r.conversation_id,
        conversationTitle: r.title,
        messageId: null,
        role: null,
        snippet: parseSnippet(r.snippet),
        createdAt: r.created_at,
      })),
      ...messages.map((r) => ({
        conversationId: r.conversation_id,
        conversationTitle: r.title,
        messageId: r.message_id,
        role: r.role,
        snippet: parseSnippet(r.snippet),
        createdAt: r.created_at,
      })),
    ];
  }
}
