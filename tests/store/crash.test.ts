// A crash mid-write: a child process appends messages in a loop and is killed with SIGKILL. Reopened, the
// database is intact and every message the child reported as committed is there, with its content.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database';
import { ConversationRepository } from '../../src/store/conversations';
import { MessageRepository } from '../../src/store/messages';
import { KvBlockStore } from '../../src/store/kv-store';
import { blockHashChain } from '../../src/gpu/kv/hash';
import { blockChecksum } from '../../src/store/block-checksum';
import { committedIds, startWriter } from './helpers/child';
import { closeLater, tempDb } from '../helpers/temp';

describe('crash mid-write', () => {
  it('SIGKILL during appends loses no committed message and corrupts nothing', async () => {
    const { db, file } = tempDb();
    const conversationId = new ConversationRepository(db).createConversation({ title: 'crash' }).id;
    db.close();

    const reported: number[] = [];
    // Three crashes at different points, each run continuing the same conversation.
    for (const killAfter of [3, 11, 24]) {
      const writer = startWriter('append', file, String(conversationId), '0');
      await writer.waitFor((l) => committedIds(l).length >= killAfter);
      writer.child.kill('SIGKILL');
      const { signal } = await writer.exited;
      expect(signal).toBe('SIGKILL');
      reported.push(...committedIds(writer.lines));

      const reopened = closeLater(openDatabase(file));
      expect(reopened.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(reopened.pragma('foreign_key_check')).toEqual([]);
      reopened.prepare("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')").run();
      const messages = new MessageRepository(reopened);
      const stored = new Map(messages.allMessages(conversationId).map((m) => [m.id, m]));
      for (const id of reported) {
        expect(stored.has(id), `message ${id} was reported committed`).toBe(true);
        expect(stored.get(id)!.content).toMatch(/^\d+ The quick brown fox/);
      }
      // Each appended message is whole: never a torn row.
      for (const m of stored.values()) expect(m.content.length).toBeGreaterThan(9000);
      reopened.close();
    }
    expect(reported.length).toBeGreaterThanOrEqual(3 + 11 + 24);
  });

  it('SIGKILL while KV blocks and block tables are saved leaves a conversation that resumes from intact blocks', async () => {
    const { db, file } = tempDb();
    const conversationId = new ConversationRepository(db).createConversation({ title: 'kv crash' }).id;
    db.close();
    for (const killAfter of [2, 7]) {
      const writer = startWriter('kv', file, String(conversationId));
      await writer.waitFor((lines) => lines.filter((l) => l.startsWith('saved')).length >= killAfter);
      writer.child.kill('SIGKILL');
      expect((await writer.exited).signal).toBe('SIGKILL');
      const saved = Math.max(...writer.lines.filter((l) => l.startsWith('saved')).map((l) => Number(l.split(' ')[1])));

      const reopened = closeLater(openDatabase(file));
      expect(reopened.pragma('integrity_check', { simple: true })).toBe('ok');
      const kv = new KvBlockStore(reopened);
      // The saved history and its block table agree, and every block it names is stored whole: a resume finds
      // them all (swap-in), and nothing reported saved was lost.
      const history = kv.conversationTokens(conversationId)!;
      const table = kv.conversationBlocks(conversationId);
      expect(table.length).toBeGreaterThanOrEqual(saved);
      expect(table).toEqual(blockHashChain(history.modelFingerprint, history.tokens));
      const blocks = kv.getBlocks(table);
      for (const h of table) expect(blockChecksum(blocks.get(h)!.bytes)).toBe(blocks.get(h)!.checksum);
      reopened.close();
    }
  });
});
