// The SQLite tier of the paged KV cache: block bytes keyed by their chained content hash, and each
// conversation's block table (logical position -> block hash). Only storage lives here; the engine decides
// what to swap. A conversation's table may name only blocks already stored (foreign key), so a table read
// back never points at bytes that are not on disk. With a KvBudget, every conversation save is followed by the
// budget's enforcement, and a KV write that finds no room (the volume under its reserve, or SQLITE_FULL) is
// skipped and reported in `lastSkip`, never thrown: a message save is its own transaction and still finds room.
import type { Statement } from 'better-sqlite3';
import type { StoredKvBlock } from '../gpu/kv/cache';
import type { KvBudget, KvEviction, KvWriteSkip } from './kv-budget';
import type { Db } from './database';
import { now, writeTransaction } from './database';
import { notFound as conversationNotFound } from './conversations';
import { StoreError } from './errors';
import { blockChecksum } from './block-checksum';

/** How the block's bytes are laid out (dtype, layers, KV heads, head dim, tokens...): JSON, engine-defined. */
export type KvBlockLayout = StoredKvBlock['layout'];

/**
 * A block as the store takes it: the engine's StoredKvBlock (hash, model, layout, bytes). The store computes the
 * checksum of the bytes itself; one the caller gives (an imported block) must match, or the block is refused.
 */
export type KvBlock = StoredKvBlock;

/** What a conversation's KV resume needs, saved together: the token history and the block table built from it. */
export interface ConversationKvSnapshot {
  readonly modelFingerprint: string;
  /** The exact token history (u32 ids), the last sampled token included. */
  readonly tokens: readonly number[];
  /** How many leading tokens the engine had computed K/V for. */
  readonly computed: number;
  /** The block table: `blockHashes[i]` is logical block i. Every hash must be stored. */
  readonly blockHashes: readonly string[];
  /**
   * The version of the saved history this one continues (conversationTokens().version; 0 if it was never saved).
   * When given and the stored version differs, another writer (a second process) saved in between: the save is
   * refused with StoreError 'kv-conversation-changed' and nothing is written, so two histories never interleave.
   */
  readonly baseVersion?: number;
}

/** A conversation's saved token history as read back. */
export interface ConversationTokenHistory {
  readonly modelFingerprint: string;
  readonly tokens: number[];
  readonly computed: number;
  /** Bumped by every save (1 for the first): what a later save names as its baseVersion. */
  readonly version: number;
}

/** A stored block as read back: the block and when it was stored and last used (ms since the epoch). */
export interface KvBlockRow extends StoredKvBlock {
  /** xxHash64 of `bytes`, checked as they were read. */
  readonly checksum: string;
  readonly createdAt: number;
  readonly lastUsedAt: number;
}

/** A kv_blocks row as SQLite returns it. */
interface KvBlockSqlRow {
  hash: string;
  model_fingerprint: string;
  layout: string;
  checksum: string;
  bytes: Buffer;
  created_at: number;
  last_used_at: number;
}

interface KvBlockStatements {
  readonly selectMany: Statement;
  readonly touch: Statement;
  readonly dropIfCorrupt: Statement;
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const MAX_SKIPPED_REMEMBERED = 65_536;

const isDiskFull = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === 'SQLITE_FULL';

export interface KvBlockStoreOptions {
  /** Enforced after every conversation save; also holds KV writes back while the disk is low. */
  readonly budget?: KvBudget;
}

export class KvBlockStore {
  /** The last KV write skipped for space, and when (ms since the epoch); null once a write went through. */
  lastSkip: (KvWriteSkip & { readonly at: number }) | null = null;
  /** What the last enforcement after a save dropped. */
  lastEviction: KvEviction | null = null;
  /** Blocks the last putBlocks refused because their given checksum did not match their bytes. */
  lastRefused = 0;
  /** Stored blocks whose bytes failed their checksum when read back, since this store opened (each was deleted). */
  corruptBlocksDropped = 0;
  /** Blocks a putBlocks skipped: a block table naming them is cut before the first (its tail recomputes). */
  private readonly skipped = new Set<string>();
  private prepared: KvBlockStatements | undefined;

  constructor(
    private readonly db: Db,
    private readonly options: KvBlockStoreOptions = {},
  ) {}

  get budget(): KvBudget | undefined {
    return this.options.budget;
  }

  /**
   * Stores blocks in one transaction. A hash already stored keeps its bytes (same hash, same content) and only its
   * use time is refreshed: its bytes are not checksummed (one SELECT finds the stored names first). Skipped (see
   * lastSkip) while the volume is under its free-space reserve or the database is full. A block whose given
   * checksum does not match its bytes is refused (counted in `lastRefused`), never stored; a given checksum (an
   * imported block's) is checked whether or not the hash is stored.
   */
  putBlocks(blocks: readonly KvBlock[]): void {
    const intact = blocks.filter((b) => b.checksum === undefined || b.checksum === blockChecksum(b.bytes));
    this.lastRefused = blocks.length - intact.length;
    const bytes = intact.reduce((n, b) => n + b.bytes.byteLength, 0);
    const low = this.options.budget?.roomFor(bytes) ?? null;
    if (low) return this.skip(low, blocks);
    try {
      this.insertBlocks(intact);
      this.lastSkip = null;
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      this.skip({ reason: 'disk-full', message: (e as Error).message }, blocks);
    }
  }

  private skip(why: KvWriteSkip, blocks: readonly KvBlock[] = []): void {
    this.lastSkip = { ...why, at: now() };
    // Hashes only: spills never named by a table would otherwise pile up while the disk stays low.
    if (this.skipped.size > MAX_SKIPPED_REMEMBERED) this.skipped.clear();
    for (const b of blocks) this.skipped.add(b.hash);
  }

  /**
   * Inserts the blocks not stored yet, their checksums computed before the write lock is taken (a given one was
   * checked by putBlocks), and refreshes the use time of the stored ones.
   */
  private insertBlocks(blocks: readonly KvBlock[]): void {
    const stored = this.storedAmong(blocks.map((b) => b.hash));
    const checksums = new Map<string, string>(); // hash -> checksum, for the blocks to insert
    for (const b of blocks) if (!stored.has(b.hash) && !checksums.has(b.hash)) checksums.set(b.hash, b.checksum ?? blockChecksum(b.bytes));
    const insert = this.db.prepare(
      `INSERT INTO kv_blocks (hash, model_fingerprint, layout, checksum, bytes, created_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(hash) DO UPDATE SET last_used_at = excluded.last_used_at`,
    );
    const touch = this.db.prepare('UPDATE kv_blocks SET last_used_at = ? WHERE hash = ?');
    writeTransaction(this.db, () => {
      const t = now();
      for (const b of blocks) {
        let checksum = checksums.get(b.hash);
        if (checksum === undefined) {
          if (touch.run(t, b.hash).changes > 0) continue;
          checksum = blockChecksum(b.bytes); // deleted since the SELECT (another process's budget or a failed read)
        }
        insert.run(b.hash, b.modelFingerprint, JSON.stringify(b.layout), checksum, asBuffer(b.bytes), t, t);
      }
    });
  }

  /** Which of `hashes` are stored: one SELECT for the whole batch (json_each: no bound-variable limit), no bytes read. */
  private storedAmong(hashes: readonly string[]): Set<string> {
    const rows = this.db.prepare('SELECT hash FROM kv_blocks WHERE hash IN (SELECT value FROM json_each(?))').pluck().all(JSON.stringify(hashes));
    return new Set(rows as string[]);
  }

  /**
   * The stored blocks among `hashes` (absent ones are simply missing from the map); marks those no table names
   * used. A block whose bytes fail their checksum is deleted (with the table entries naming it) and reported
   * missing, so the engine recomputes it and the next save stores it again, instead of every later resume stopping
   * before it. One SELECT reads the whole batch (a resume's blocks are named by a table, so usually nothing is
   * written); the returned bytes are SQLite's own buffers, never copied again here. The map is in the order asked.
   */
  getBlocks(hashes: readonly string[]): Map<string, KvBlockRow> {
    const asked = [...new Set(hashes)];
    // Row by row: each blob is checksummed just after SQLite copied it out, while its bytes are still in the CPU's
    // cache, rather than in a second pass over the whole batch once it has left the cache.
    const rows = this.statements().selectMany.iterate(JSON.stringify(asked)) as IterableIterator<KvBlockSqlRow & { named: 0 | 1 }>;
    const t = now();
    const found = new Map<string, KvBlockRow>();
    const corrupt: KvBlockSqlRow[] = [];
    const unnamed: string[] = [];
    for (const r of rows) {
      if (blockChecksum(r.bytes) !== r.checksum) {
        corrupt.push(r);
        continue;
      }
      // Only blocks no table names: their use time is what the budget's grace period reads. A named block is kept
      // by its table, and an UPDATE rewrites the whole row, overflow pages and all: touching every block read would
      // write as many bytes as a resume reads.
      if (!r.named) unnamed.push(r.hash);
      found.set(r.hash, {
        hash: r.hash,
        modelFingerprint: r.model_fingerprint,
        layout: JSON.parse(r.layout) as KvBlockLayout,
        checksum: r.checksum,
        bytes: r.bytes,
        createdAt: r.created_at,
        lastUsedAt: r.named ? r.last_used_at : t,
      });
    }
    if (corrupt.length > 0 || unnamed.length > 0) {
      const { touch, dropIfCorrupt } = this.statements();
      try {
        writeTransaction(this.db, () => {
          for (const hash of unnamed) touch.run(t, hash);
          // The row is deleted only if it still holds these bytes (another process may have replaced it since).
          for (const r of corrupt) this.corruptBlocksDropped += dropIfCorrupt.run(r.hash, r.checksum, r.bytes).changes;
        });
      } catch (e) {
        if (!isDiskFull(e)) throw e; // the blocks read are good; their bookkeeping waits for room
        this.skip({ reason: 'disk-full', message: (e as Error).message });
      }
    }
    const out = new Map<string, KvBlockRow>();
    for (const h of asked) {
      const b = found.get(h);
      if (b) out.set(h, b);
    }
    return out;
  }

  /** Statements every resume runs, prepared once per store. */
  private statements(): KvBlockStatements {
    return (this.prepared ??= {
      selectMany: this.db.prepare(
        `SELECT b.*, EXISTS (SELECT 1 FROM conversation_kv ck WHERE ck.block_hash = b.hash) AS named
           FROM kv_blocks b WHERE b.hash IN (SELECT value FROM json_each(?))`, // no ORDER BY: it would sort the blobs in a temp b-tree
      ),
      touch: this.db.prepare('UPDATE kv_blocks SET last_used_at = ? WHERE hash = ? AND NOT EXISTS (SELECT 1 FROM conversation_kv ck WHERE ck.block_hash = kv_blocks.hash)'),
      dropIfCorrupt: this.db.prepare('DELETE FROM kv_blocks WHERE hash = ? AND checksum = ? AND bytes = ?'),
    });
  }

  /**
   * Saves the conversation's token history and its block table in ONE transaction: a failure (or a crash) in
   * either leaves both as they were, so a resume never pairs a history with another history's blocks. The table
   * stops before the first block a putBlocks skipped for space. Then the budget, if any, is enforced. A full
   * database skips the save (see lastSkip): the messages, saved apart, stand, and a resume recomputes.
   * Returns the history's new version (the one stored before, if the save was skipped for space).
   */
  saveConversationKv(conversationId: number, kv: ConversationKvSnapshot): number {
    const cut = kv.blockHashes.findIndex((h) => this.skipped.has(h) && !this.storedHashes([h]).size);
    const blockHashes = cut < 0 ? kv.blockHashes : kv.blockHashes.slice(0, cut);
    let version: number;
    try {
      version = writeTransaction(this.db, () => {
        if (kv.baseVersion !== undefined) this.checkVersion(conversationId, kv.baseVersion);
        const before = this.conversationBlocks(conversationId);
        const v = this.setConversationTokens(conversationId, kv.modelFingerprint, kv.tokens, kv.computed);
        this.setConversationBlocks(conversationId, blockHashes);
        this.dropSupersededTails(before);
        return v;
      });
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      this.skip({ reason: 'disk-full', message: (e as Error).message });
      version = this.historyVersion(conversationId);
    }
    for (const h of kv.blockHashes) this.skipped.delete(h);
    try {
      this.lastEviction = this.options.budget?.enforce() ?? null;
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      this.skip({ reason: 'disk-full', message: (e as Error).message });
    }
    return version;
  }

  /**
   * Deletes the tail blocks (layout.tail: a conversation's own partial last block, never shared) among `hashes`
   * that no block table names any more: a conversation's previous tail, once a save replaced it.
   */
  private dropSupersededTails(hashes: readonly string[]): void {
    const drop = this.db.prepare(
      `DELETE FROM kv_blocks WHERE hash = ? AND json_extract(layout, '$.tail') = 1
         AND NOT EXISTS (SELECT 1 FROM conversation_kv ck WHERE ck.block_hash = kv_blocks.hash)`,
    );
    for (const h of hashes) drop.run(h);
  }

  /** The version of the conversation's saved history; 0 if none is saved. */
  historyVersion(conversationId: number): number {
    return (this.db.prepare('SELECT version FROM conversation_tokens WHERE conversation_id = ?').pluck().get(conversationId) as number | undefined) ?? 0;
  }

  private checkVersion(conversationId: number, baseVersion: number): void {
    const stored = this.historyVersion(conversationId);
    if (stored !== baseVersion) {
      throw new StoreError(
        'kv-conversation-changed',
        `Conversation ${conversationId} was continued elsewhere (another window or process saved version ${stored} of its history; this turn started from version ${baseVersion}). This turn was not saved; reopen the conversation to continue from the other turn.`,
      );
    }
  }

  /** Replaces the conversation's block table: `hashes[i]` is logical block i. Every hash must be stored. */
  setConversationBlocks(conversationId: number, hashes: readonly string[]): void {
    const insert = this.db.prepare('INSERT INTO conversation_kv (conversation_id, position, block_hash) VALUES (?, ?, ?)');
    const exists = this.db.prepare('SELECT 1 FROM kv_blocks WHERE hash = ?');
    writeTransaction(this.db, () => {
      if (!this.db.prepare('SELECT 1 FROM conversations WHERE id = ?').get(conversationId)) throw conversationNotFound(conversationId);
      this.db.prepare('DELETE FROM conversation_kv WHERE conversation_id = ?').run(conversationId);
      hashes.forEach((hash, position) => {
        if (!exists.get(hash)) {
          throw new StoreError('kv-unknown-block', `KV block ${hash} (position ${position}) is not stored; store a block before naming it in a block table`);
        }
        insert.run(conversationId, position, hash);
      });
    });
  }

  /** The conversation's block table, logical block 0 first. */
  conversationBlocks(conversationId: number): string[] {
    return this.db
      .prepare('SELECT block_hash FROM conversation_kv WHERE conversation_id = ? ORDER BY position')
      .pluck()
      .all(conversationId) as string[];
  }

  /** Removes every block of a model (and the block-table entries naming them). Returns how many. */
  deleteModelBlocks(modelFingerprint: string): number {
    return writeTransaction(this.db, () => this.db.prepare('DELETE FROM kv_blocks WHERE model_fingerprint = ?').run(modelFingerprint).changes);
  }

  /** Removes blocks found unusable (checksum mismatch). Returns how many were stored. */
  deleteBlocks(hashes: readonly string[]): number {
    const del = this.db.prepare('DELETE FROM kv_blocks WHERE hash = ?');
    return writeTransaction(this.db, () => hashes.reduce((n, h) => n + del.run(h).changes, 0));
  }

  /** Deletes the blocks no conversation's block table names. Returns how many. */
  garbageCollect(): number {
    return writeTransaction(
      this.db,
      () =>
        this.db.prepare('DELETE FROM kv_blocks WHERE NOT EXISTS (SELECT 1 FROM conversation_kv ck WHERE ck.block_hash = kv_blocks.hash)').run()
          .changes,
    );
  }

  /** Stored blocks and their bytes in total. */
  usage(): { blocks: number; bytes: number } {
    const r = this.db.prepare('SELECT count(*) AS blocks, coalesce(sum(length(bytes)), 0) AS bytes FROM kv_blocks').get() as {
      blocks: number;
      bytes: number;
    };
    return r;
  }

  /** Which of `hashes` are stored (without reading their bytes). */
  storedHashes(hashes: readonly string[]): Set<string> {
    const has = this.db.prepare('SELECT 1 FROM kv_blocks WHERE hash = ?').pluck();
    return new Set(hashes.filter((h) => has.get(h) !== undefined));
  }

  /**
   * Saves the conversation's exact token history (u32 ids) and how many of them the engine had computed; returns
   * the history's new version.
   */
  setConversationTokens(conversationId: number, modelFingerprint: string, tokens: readonly number[], computed: number): number {
    const bytes = Buffer.from(Uint32Array.from(tokens).buffer);
    return writeTransaction(this.db, () => {
      if (!this.db.prepare('SELECT 1 FROM conversations WHERE id = ?').get(conversationId)) throw conversationNotFound(conversationId);
      this.db
        .prepare(
          `INSERT INTO conversation_tokens (conversation_id, model_fingerprint, tokens, computed, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(conversation_id) DO UPDATE SET model_fingerprint = excluded.model_fingerprint, tokens = excluded.tokens,
             computed = excluded.computed, updated_at = excluded.updated_at, version = conversation_tokens.version + 1`,
        )
        .run(conversationId, modelFingerprint, bytes, computed, now());
      return this.historyVersion(conversationId);
    });
  }

  conversationTokens(conversationId: number): ConversationTokenHistory | undefined {
    const row = this.db.prepare('SELECT model_fingerprint, tokens, computed, version FROM conversation_tokens WHERE conversation_id = ?').get(conversationId) as
      | { model_fingerprint: string; tokens: Buffer; computed: number; version: number }
      | undefined;
    if (!row) return undefined;
    const copy = new Uint8Array(row.tokens);
    return { modelFingerprint: row.model_fingerprint, tokens: Array.from(new Uint32Array(copy.buffer, 0, copy.byteLength >>> 2)), computed: row.computed, version: row.version };
  }
}
