// The KV disk budget: stored KV blocks may take at most `budgetBytes`. After each conversation's KV save the least
// recently used conversations lose their block tables (their messages, settings and token histories stay: they
// resume by recomputing), then the blocks no remaining conversation names; a block another kept conversation
// shares stays. Freed pages go back to the file system (incremental auto-vacuum). KV writes also stop while the
// database's volume has less free space than a reserve, so the user's own messages always find room.
import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Db } from './database';
import { now } from './database';
import { reclaimFreePages } from './vacuum';
import type { ConversationKvStorage } from '../shared/api';

const GiB = 1024 ** 3;
/** The default budget: the smaller of 8 GiB and 10% of the volume. */
export const DEFAULT_KV_BUDGET_CAP_BYTES = 8 * GiB;
export const DEFAULT_KV_BUDGET_VOLUME_FRACTION = 0.1;
/** KV writes stop below the smaller of 2 GiB and 5% of the volume free. */
export const FREE_SPACE_RESERVE_CAP_BYTES = 2 * GiB;
export const FREE_SPACE_RESERVE_VOLUME_FRACTION = 0.05;
/**
 * Blocks no conversation names yet are spared this long (ms): the engine stores a sequence's blocks before the
 * block table that names them, and spills RAM-tier blocks with no table at all.
 */
export const DEFAULT_UNNAMED_BLOCK_GRACE_MS = 60_000;

/** A volume's size and the bytes an unprivileged process may still write, in bytes. */
export interface VolumeSpace {
  readonly totalBytes: number;
  readonly freeBytes: number;
}

/** The volume holding `path` (a file or folder); undefined where the OS does not say. */
export function volumeSpace(path: string): VolumeSpace | undefined {
  try {
    const s = statfsSync(path);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  } catch {
    return undefined;
  }
}

/** min(8 GiB, 10% of the volume); 8 GiB when the volume's size is unknown. */
export function defaultKvBudget(space: VolumeSpace | undefined): number {
  if (!space) return DEFAULT_KV_BUDGET_CAP_BYTES;
  return Math.min(DEFAULT_KV_BUDGET_CAP_BYTES, Math.floor(space.totalBytes * DEFAULT_KV_BUDGET_VOLUME_FRACTION));
}

/** min(2 GiB, 5% of the volume). */
export function freeSpaceReserve(space: VolumeSpace): number {
  return Math.min(FREE_SPACE_RESERVE_CAP_BYTES, Math.floor(space.totalBytes * FREE_SPACE_RESERVE_VOLUME_FRACTION));
}

export interface KvBudgetOptions {
  /** The budget in bytes of stored block bytes, or a function read at each enforcement (a setting). */
  readonly budgetBytes: number | (() => number);
  /** The database's volume; undefined (or a function returning it) when unknown: writes are never held back. */
  readonly space?: () => VolumeSpace | undefined;
  /** Free bytes to leave on the volume; default freeSpaceReserve(space). */
  readonly reserveBytes?: number;
  /** See DEFAULT_UNNAMED_BLOCK_GRACE_MS. */
  readonly unnamedBlockGraceMs?: number;
  /** Where the user's budget is kept, when it is a setting (the app's). */
  readonly setting?: KvBudgetSettingStore;
}

/** The user's budget setting: undefined / null mean the default. */
export interface KvBudgetSettingStore {
  read(): number | undefined;
  write(bytes: number | null): void;
}

/** Why a KV write did not happen (reported, never thrown: the answer and the messages stand). */
export type KvWriteSkip =
  | { readonly reason: 'low-disk'; readonly freeBytes: number; readonly reserveBytes: number }
  | { readonly reason: 'disk-full'; readonly message: string };

/** One conversation's stored KV: the Storage view's row (eviction goes from the smallest lastUsedAt). */
export type ConversationKvUsage = ConversationKvStorage;

export interface KvUsageReport {
  /** Every stored block once. */
  readonly totalBytes: number;
  readonly blocks: number;
  /** Blocks no conversation names (spills of the engine's RAM tier, blocks about to be named). */
  readonly unnamedBytes: number;
  /** Most recently used first. */
  readonly conversations: readonly ConversationKvUsage[];
}

export interface KvEviction {
  /** Conversations whose block tables were dropped, least recently used first. */
  readonly evictedConversations: readonly number[];
  readonly freedBytes: number;
  /** Stored block bytes afterwards. */
  readonly storedBytes: number;
}

const LRU_CONVERSATIONS = `
  SELECT DISTINCT ck.conversation_id AS id, coalesce(t.updated_at, 0) AS used
  FROM conversation_kv ck LEFT JOIN conversation_tokens t ON t.conversation_id = ck.conversation_id
  ORDER BY used, id`;
/** The blocks of conversation @id that no other conversation names. */
const ONLY_NAMED_BY = `hash IN (SELECT block_hash FROM conversation_kv WHERE conversation_id = @id)
  AND NOT EXISTS (SELECT 1 FROM conversation_kv o WHERE o.block_hash = kv_blocks.hash AND o.conversation_id <> @id)`;
const UNNAMED_BEFORE = `NOT EXISTS (SELECT 1 FROM conversation_kv ck WHERE ck.block_hash = kv_blocks.hash) AND last_used_at < ?`;

export class KvBudget {
  constructor(
    private readonly db: Db,
    private readonly opts: KvBudgetOptions,
  ) {}

  get setting(): KvBudgetSettingStore | undefined {
    return this.opts.setting;
  }

  get budgetBytes(): number {
    return typeof this.opts.budgetBytes === 'function' ? this.opts.budgetBytes() : this.opts.budgetBytes;
  }

  /** Stored block bytes, every block once. */
  storedBytes(): number {
    return this.db.prepare('SELECT coalesce(sum(length(bytes)), 0) FROM kv_blocks').pluck().get() as number;
  }

  /** Whether `bytes` more of KV may be written now: not while the volume is below its free-space reserve. */
  roomFor(bytes: number): KvWriteSkip | null {
    const space = this.opts.space?.();
    if (!space) return null;
    const reserveBytes = this.opts.reserveBytes ?? freeSpaceReserve(space);
    return space.freeBytes - bytes < reserveBytes ? { reason: 'low-disk', freeBytes: space.freeBytes, reserveBytes } : null;
  }

  /**
   * Brings stored KV under the budget: unnamed blocks past their grace first, then the least recently used
   * conversations' block tables with the blocks only they named; then returns the freed pages to the file system.
   */
  enforce(budget = this.budgetBytes): KvEviction {
    let stored = this.storedBytes();
    if (stored <= budget) return { evictedConversations: [], freedBytes: 0, storedBytes: stored };
    const before = stored;
    const evicted: number[] = [];
    const cutoff = now() - (this.opts.unnamedBlockGraceMs ?? DEFAULT_UNNAMED_BLOCK_GRACE_MS);
    const unnamedBytes = this.db.prepare(`SELECT coalesce(sum(length(bytes)), 0) FROM kv_blocks WHERE ${UNNAMED_BEFORE}`).pluck();
    this.db.transaction(() => {
      stored -= unnamedBytes.get(cutoff) as number;
      this.db.prepare(`DELETE FROM kv_blocks WHERE ${UNNAMED_BEFORE}`).run(cutoff);
      for (const { id } of this.db.prepare(LRU_CONVERSATIONS).all() as { id: number }[]) {
        if (stored <= budget) break;
        stored -= this.dropConversationBlocks(id);
        evicted.push(id);
      }
    }).immediate();
    reclaimFreePages(this.db);
    return { evictedConversations: evicted, freedBytes: before - stored, storedBytes: stored };
  }

  /** Drops one conversation's block table and the blocks only it named ("forget this chat's KV"); returns bytes freed. */
  forgetConversation(conversationId: number): number {
    const freed = this.db.transaction(() => this.dropConversationBlocks(conversationId)).immediate();
    if (freed > 0) reclaimFreePages(this.db);
    return freed;
  }

  /** Stored KV in total (shared blocks once) and per conversation, most recently used first. */
  usage(): KvUsageReport {
    const total = this.db.prepare('SELECT count(*) AS blocks, coalesce(sum(length(bytes)), 0) AS bytes FROM kv_blocks').get() as { blocks: number; bytes: number };
    const unnamedBytes = this.db.prepare(`SELECT coalesce(sum(length(bytes)), 0) FROM kv_blocks WHERE ${UNNAMED_BEFORE}`).pluck().get(Number.MAX_SAFE_INTEGER) as number;
    const rows = this.db
      .prepare(
        `WITH refs AS (SELECT DISTINCT conversation_id, block_hash FROM conversation_kv),
              sharing AS (SELECT block_hash, count(*) AS n FROM refs GROUP BY block_hash)
         SELECT r.conversation_id AS conversationId, c.title AS title, count(*) AS blocks, sum(length(b.bytes)) AS bytes,
                sum(CASE WHEN s.n > 1 THEN length(b.bytes) ELSE 0 END) AS sharedBytes, coalesce(t.updated_at, 0) AS lastUsedAt
         FROM refs r JOIN kv_blocks b ON b.hash = r.block_hash JOIN sharing s ON s.block_hash = r.block_hash
           JOIN conversations c ON c.id = r.conversation_id LEFT JOIN conversation_tokens t ON t.conversation_id = r.conversation_id
         GROUP BY r.conversation_id ORDER BY lastUsedAt DESC, r.conversation_id DESC`,
      )
      .all() as ConversationKvUsage[];
    return { totalBytes: total.bytes, blocks: total.blocks, unnamedBytes, conversations: rows };
  }

  /** Inside a transaction: the conversation's table goes, and the blocks no one else names. Returns their bytes. */
  private dropConversationBlocks(conversationId: number): number {
    const freed = this.db.prepare(`SELECT coalesce(sum(length(bytes)), 0) FROM kv_blocks WHERE ${ONLY_NAMED_BY}`).pluck().get({ id: conversationId }) as number;
    this.db.prepare(`DELETE FROM kv_blocks WHERE ${ONLY_NAMED_BY}`).run({ id: conversationId });
    this.db.prepare('DELETE FROM conversation_kv WHERE conversation_id = ?').run(conversationId);
    return freed;
  }
}

/** The user's budget setting, kept with the app's other small facts (app_state). */
const BUDGET_KEY = 'kv_budget_bytes';

/** The budget the user set, or undefined (the default applies). */
export function kvBudgetSetting(db: Db): number | undefined {
  const value = db.prepare('SELECT value FROM app_state WHERE key = ?').pluck().get(BUDGET_KEY) as string | undefined;
  const n = value === undefined ? NaN : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Sets the budget (bytes), or with null goes back to the default. */
export function setKvBudgetSetting(db: Db, bytes: number | null): void {
  if (bytes === null) db.prepare('DELETE FROM app_state WHERE key = ?').run(BUDGET_KEY);
  else db.prepare('INSERT OR REPLACE INTO app_state (key, value) VALUES (?, ?)').run(BUDGET_KEY, String(bytes));
}

/**
 * The budget of the database file `databaseFile`: `override` when given (the CLI's --kv-budget), else the user's
 * setting, else min(8 GiB, 10% of its volume); the free-space reserve is checked on the same volume.
 */
export function kvBudgetFor(db: Db, databaseFile: string, override?: number): KvBudget {
  const space = (): VolumeSpace | undefined => volumeSpace(dirname(resolve(databaseFile)));
  return new KvBudget(db, {
    budgetBytes: override ?? (() => kvBudgetSetting(db) ?? defaultKvBudget(space())),
    space,
    setting: { read: () => kvBudgetSetting(db), write: (bytes) => setKvBudgetSetting(db, bytes) },
  });
}
