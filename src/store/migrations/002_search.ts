// Full-text search over message content and conversation titles. External-content FTS5 tables (the text
// lives once, in messages/conversations), kept in sync by triggers: SQLite's documented pattern.
import type { Migration } from './types';

function syncTriggers(table: string, fts: string, column: string): string {
  return `
    CREATE TRIGGER ${table}_fts_insert AFTER INSERT ON ${table} BEGIN
      INSERT INTO ${fts}(rowid, ${column}) VALUES (new.id, new.${column});
    END;
    CREATE TRIGGER ${table}_fts_delete AFTER DELETE ON ${table} BEGIN
      INSERT INTO ${fts}(${fts}, rowid, ${column}) VALUES ('delete', old.id, old.${column});
    END;
    CREATE TRIGGER ${table}_fts_update AFTER UPDATE OF ${column} ON ${table} BEGIN
      INSERT INTO ${fts}(${fts}, rowid, ${column}) VALUES ('delete', old.id, old.${column});
      INSERT INTO ${fts}(rowid, ${column}) VALUES (new.id, new.${column});
    END;`;
}

export const search: Migration = {
  version: 2,
  name: 'full-text search',
  up(db) {
    db.exec(`
      CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
      );
      CREATE VIRTUAL TABLE conversations_fts USING fts5(
        title, content='conversations', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
      );
      ${syncTriggers('messages', 'messages_fts', 'content')}
      ${syncTriggers('conversations', 'conversations_fts', 'title')}
      -- Rows written before this migration (a database upgraded from version 1).
      INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
      INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild');
    `);
  },
};
