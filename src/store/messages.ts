// Messages form a tree per conversation: editing a message or regenerating an answer adds a sibling under
// the same parent, so nothing the user saw is ever overwritten. The conversation remembers which leaf ends
// the branch on screen (active_leaf_id); the thread shown is the path from the root to that leaf.
import type { Statement } from 'better-sqlite3';
import type {
  ConversationThread,
  Message,
  MessageRole,
  MessageStats,
  MessageStatus,
  ThreadMessage,
} from '../shared/api';
import { definedOnly, notFound as conversationNotFound } from './conversations';
import { durably, now, writeTransaction, type Db } from './database';
import { StoreError } from './errors';

interface MessageRow {
  id: number;
  conversation_id: number;
  parent_id: number | null;
  role: MessageRole;
  content: string;
  reasoning: string;
  token_count: number | null;
  stats: string;
  status: MessageStatus;
  created_at: number;
}

function toMessage(r: MessageRow): Message {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    parentId: r.parent_id,
    role: r.role,
    content: r.content,
    reasoning: r.reasoning,
    tokenCount: r.token_count,
    stats: JSON.parse(r.stats) as MessageStats,
    status: r.status,
    createdAt: r.created_at,
  };
}

export interface NewMessage {
  readonly conversationId: number;
  /** null: a first message (a new root; editing the first message adds another root). */
  readonly parentId: number | null;
  readonly role: MessageRole;
  readonly content: string;
  /** An answer's reasoning, split from its content; default ''. */
  readonly reasoning?: string;
  readonly status?: MessageStatus;
  readonly tokenCount?: number | null;
  readonly stats?: MessageStats;
}

export interface MessageChanges {
  readonly content?: string;
  readonly reasoning?: string;
  readonly status?: MessageStatus;
  readonly tokenCount?: number | null;
  /** Merged into the stored stats (a later call may add tokens/s to an earlier time-to-first-token). */
  readonly stats?: MessageStats;
}

export class MessageRepository {
  private readonly insert: Statement;
  private readonly byId: Statement;
  private readonly children: Statement;
  private readonly path: Statement;
  private readonly newestChild: Statement;
  private readonly newestInConversation: Statement;
  private readonly setLeaf: Statement;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO messages (conversation_id, parent_id, role, content, reasoning, token_count, stats, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.byId = db.prepare('SELECT * FROM messages WHERE id = ?');
    this.children = db.prepare('SELECT * FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY id');
    // Root first. A parent is always older than its child (it had to exist), so the walk ends.
    this.path = db.prepare(
      `WITH RECURSIVE up(id, depth) AS (
         SELECT id, 0 FROM messages WHERE id = ?
         UNION ALL SELECT m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.id WHERE m.parent_id IS NOT NULL
       )
       SELECT messages.* FROM up JOIN messages ON messages.id = up.id ORDER BY up.depth DESC`,
    );
    this.newestChild = db.prepare('SELECT id FROM messages WHERE parent_id = ? ORDER BY id DESC LIMIT 1').pluck();
    this.newestInConversation = db.prepare('SELECT id FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT 1').pluck();
    this.setLeaf = db.prepare('UPDATE conversations SET active_leaf_id = ?, updated_at = ? WHERE id = ?');
  }

  /** Appends a message and makes it the active leaf. Its commit is fsynced before this returns. */
  appendMessage(m: NewMessage): number {
    return durably(this.db, () => {
      this.requireConversation(m.conversationId);
      if (m.parentId !== null) {
        const parent = this.byId.get(m.parentId) as MessageRow | undefined;
        if (!parent || parent.conversation_id !== m.conversationId) {
          throw new StoreError('invalid-parent', `Message ${m.parentId} is not part of conversation ${m.conversationId}`);
        }
      }
      const t = now();
      const { lastInsertRowid } = this.insert.run(
        m.conversationId,
        m.parentId,
        m.role,
        m.content,
        m.reasoning ?? '',
        m.tokenCount ?? null,
        JSON.stringify(definedOnly(m.stats)),
        m.status ?? 'complete',
        t,
      );
      const id = Number(lastInsertRowid);
      this.setLeaf.run(id, t, m.conversationId);
      return id;
    });
  }

  /**
   * Saves a streamed answer as it grows, its final stats, or its end state. A change of status (the end of a
   * generation) is fsynced; the many content updates while streaming are not.
   */
  updateMessage(id: number, changes: MessageChanges): Message {
    const write = changes.status !== undefined ? durably : writeTransaction;
    return write(this.db, () => {
      const current = this.getMessage(id);
      const stats = { ...current.stats, ...definedOnly(changes.stats) };
      this.db
        .prepare('UPDATE messages SET content = ?, reasoning = ?, status = ?, token_count = ?, stats = ? WHERE id = ?')
        .run(
          changes.content ?? current.content,
          changes.reasoning ?? current.reasoning,
          changes.status ?? current.status,
          changes.tokenCount === undefined ? current.tokenCount : changes.tokenCount,
          JSON.stringify(stats),
          id,
        );
      return this.getMessage(id);
    });
  }

  getMessage(id: number): Message {
    const r = this.byId.get(id) as MessageRow | undefined;
    if (!r) throw new StoreError('message-not-found', `Message ${id} does not exist (its conversation may have been deleted)`);
    return toMessage(r);
  }

  /** Every message of the conversation, every branch, oldest first. */
  allMessages(conversationId: number): Message[] {
    this.requireConversation(conversationId);
    const rows = this.db.prepare('SELECT * FROM messages WHERE conversation_id = ? ORDER BY id').all(conversationId) as MessageRow[];
    return rows.map(toMessage);
  }

  /** The answers/edits under `parentId` (null: the conversation's first messages), oldest first. */
  childrenOf(conversationId: number, parentId: number | null): Message[] {
    return (this.children.all(conversationId, parentId) as MessageRow[]).map(toMessage);
  }

  /** The messages from the root down to `leafId`, root first. */
  pathTo(leafId: number): Message[] {
    const rows = this.path.all(leafId) as MessageRow[];
    if (rows.length === 0) this.getMessage(leafId);
    return rows.map(toMessage);
  }

  /** The branch on screen: the stored active leaf, or the newest message if that is gone. */
  activeLeaf(conversationId: number): number | null {
    const row = this.db.prepare('SELECT active_leaf_id FROM conversations WHERE id = ?').get(conversationId) as
      | { active_leaf_id: number | null }
      | undefined;
    if (!row) throw conversationNotFound(conversationId);
    if (row.active_leaf_id !== null) {
      const leaf = this.byId.get(row.active_leaf_id) as MessageRow | undefined;
      if (leaf?.conversation_id === conversationId) return leaf.id;
    }
    return (this.newestInConversation.get(conversationId) as number | undefined) ?? null;
  }

  /** The active path with each message's siblings, for the chat view. */
  thread(conversationId: number): ConversationThread {
    const leaf = this.activeLeaf(conversationId);
    const path = leaf === null ? [] : this.pathTo(leaf);
    const messages: ThreadMessage[] = path.map((m) => ({
      ...m,
      siblingIds: (this.children.all(conversationId, m.parentId) as MessageRow[]).map((r) => r.id),
    }));
    return { conversationId, activeLeafId: leaf, messages };
  }

  /** Shows the branch through `messageId`, down to its newest descendant. */
  selectBranch(conversationId: number, messageId: number): ConversationThread {
    writeTransaction(this.db, () => {
      const m = this.getMessage(messageId);
      if (m.conversationId !== conversationId) {
        throw new StoreError('invalid-parent', `Message ${messageId} is not part of conversation ${conversationId}`);
      }
      let leaf = messageId;
      for (let next = this.newestChild.get(leaf) as number | undefined; next !== undefined; next = this.newestChild.get(leaf) as number | undefined) {
        leaf = next;
      }
      this.db.prepare('UPDATE conversations SET active_leaf_id = ? WHERE id = ?').run(leaf, conversationId);
    });
    return this.thread(conversationId);
  }

  private requireConversation(id: number): void {
    if (!this.db.prepare('SELECT 1 FROM conversations WHERE id = ?').get(id)) throw conversationNotFound(id);
  }
}
