// Physical KV blocks and per-sequence block tables, with no GPU in sight (nano-vllm's block_manager, in TS, with
// vLLM's automatic prefix caching).
//
// A block is in one of three states:
// - free: on the free list, content meaningless;
// - referenced: in one or more block tables (refCount > 0);
// - idle: in no table but holding a full block whose content hash is known, kept for a later prefix match. Idle
//   blocks form an LRU; when the free list is empty the least recently used one is evicted (its hash forgotten) and
//   reused. The eviction is reported, so the owner can first copy the bytes to the next tier.
// Only full blocks get hashes (their content never changes again), so sharing a hashed block is always safe;
// a write into a block that is shared (a fork's partly filled last block) copies it first (copy-on-write).
import { KV_BLOCK_TOKENS } from './layout';

export class KvCapacityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KvCapacityError';
  }
}

export interface BlockCopy {
  readonly src: number;
  readonly dst: number;
}

/** A cached block whose slot was taken for new content: its bytes are still in the slot until the next write. */
export interface BlockEviction {
  readonly block: number;
  readonly hash: string;
}

export interface Reservation {
  readonly copies: BlockCopy[];
  readonly evicted: BlockEviction[];
}

export type BlockState = 'free' | 'used' | 'shared' | 'idle';

export class BlockManager {
  private readonly refCounts: Int32Array;
  private readonly hashes: (string | undefined)[];
  private readonly free: number[] = [];
  /** Idle hashed blocks, least recently used first (a Map keeps insertion order). */
  private readonly idle = new Map<number, true>();
  private readonly byHash = new Map<string, number>();
  private readonly tables = new Map<number, number[]>();
  private evictions: BlockEviction[] = [];

  constructor(readonly numBlocks: number) {
    this.refCounts = new Int32Array(numBlocks);
    this.hashes = new Array<string | undefined>(numBlocks).fill(undefined);
    // Lowest ids first out.
    for (let b = numBlocks - 1; b >= 0; b--) this.free.push(b);
  }

  /** Blocks a reservation can take: free ones and idle cached ones (evicted on demand). */
  get freeBlocks(): number {
    return this.free.length + this.idle.size;
  }

  /** Idle blocks still holding a cached prefix. */
  get idleBlocks(): number {
    return this.idle.size;
  }

  refCount(block: number): number {
    return this.refCounts[block]!;
  }

  hashOf(block: number): string | undefined {
    return this.hashes[block];
  }

  state(block: number): BlockState {
    const r = this.refCounts[block]!;
    if (r > 1) return 'shared';
    if (r === 1) return 'used';
    return this.idle.has(block) ? 'idle' : 'free';
  }

  hasSequence(seq: number): boolean {
    return this.tables.has(seq);
  }

  addSequence(seq: number): void {
    if (this.tables.has(seq)) throw new Error(`sequence ${seq} already has a block table`);
    this.tables.set(seq, []);
  }

  table(seq: number): readonly number[] {
    const t = this.tables.get(seq);
    if (!t) throw new Error(`sequence ${seq} has no block table`);
    return t;
  }

  sequences(): IterableIterator<number> {
    return this.tables.keys();
  }

  /** Blocks `reserve(seq, tokens, writeFrom)` would take. */
  blocksNeeded(seq: number, tokens: number, writeFrom: number): number {
    const t = this.table(seq);
    const need = Math.max(0, Math.ceil(tokens / KV_BLOCK_TOKENS) - t.length);
    const firstWritten = Math.floor(writeFrom / KV_BLOCK_TOKENS);
    const cow = firstWritten < t.length && this.refCounts[t[firstWritten]!]! > 1 ? 1 : 0;
    return need + cow;
  }

  canReserve(seq: number, tokens: number, writeFrom: number): boolean {
    return this.blocksNeeded(seq, tokens, writeFrom) <= this.freeBlocks;
  }

  /**
   * Makes positions [0, tokens) of `seq` backed by blocks, positions from `writeFrom` on writable. Returns the
   * copies (shared block -> private block) to perform on the device before writing, and the cached blocks evicted
   * to make room (copy their bytes out before the next write to the device).
   */
  reserve(seq: number, tokens: number, writeFrom: number): Reservation {
    const needed = this.blocksNeeded(seq, tokens, writeFrom);
    if (needed > this.freeBlocks) {
      throw new KvCapacityError(`the KV cache needs ${needed} more blocks for sequence ${seq} but ${this.freeBlocks} are free`);
    }
    const t = this.tables.get(seq)!;
    const copies: BlockCopy[] = [];
    const firstWritten = Math.floor(writeFrom / KV_BLOCK_TOKENS);
    if (firstWritten < t.length) {
      const src = t[firstWritten]!;
      if (this.refCounts[src]! > 1) {
        const dst = this.take();
        this.refCounts[src]!--;
        t[firstWritten] = dst;
        copies.push({ src, dst });
      } else {
        this.forget(src); // its content is about to change: the hash no longer names it
      }
    }
    while (t.length < Math.ceil(tokens / KV_BLOCK_TOKENS)) t.push(this.take());
    const evicted = this.evictions;
    this.evictions = [];
    return { copies, evicted };
  }

  /** The cached block holding the full block named `hash`, if one is in the pool. */
  lookup(hash: string): number | undefined {
    return this.byHash.get(hash);
  }

  /** Appends cached block `block` to `seq`'s table (a prefix match). The table must end on a block boundary. */
  share(seq: number, block: number): void {
    const t = this.tables.get(seq);
    if (!t) throw new Error(`sequence ${seq} has no block table`);
    if (this.hashes[block] === undefined) throw new Error(`block ${block} holds no cached content`);
    if (this.refCounts[block]! === 0) this.idle.delete(block);
    this.refCounts[block]!++;
    t.push(block);
  }

  /**
   * Names the full block at `index` of `seq`'s table by its content hash, so later sequences can share it. When
   * another block already holds that content, the name stays with the first one (this one is a duplicate).
   */
  register(seq: number, index: number, hash: string): void {
    const block = this.table(seq)[index];
    if (block === undefined) throw new RangeError(`sequence ${seq} has no block ${index}`);
    if (this.hashes[block] !== undefined || this.byHash.has(hash)) return;
    this.hashes[block] = hash;
    this.byHash.set(hash, block);
  }

  /** A new sequence sharing every block of `parent` (regenerate, several candidates). */
  fork(parent: number, child: number): void {
    const t = this.table(parent);
    this.addSequence(child);
    for (const b of t) this.refCounts[b]!++;
    this.tables.set(child, [...t]);
  }

  /** Drops blocks past `tokens` (a truncated or edited conversation). */
  truncate(seq: number, tokens: number): void {
    const t = this.tables.get(seq)!;
    while (t.length > Math.ceil(tokens / KV_BLOCK_TOKENS)) this.drop(t.pop()!);
  }

  removeSequence(seq: number): void {
    const t = this.tables.get(seq);
    if (!t) return;
    for (const b of t) this.drop(b);
    this.tables.delete(seq);
  }

  /**
   * Evicts idle cached blocks (least recently used first) until `keep` remain; returns them, bytes still in
   * place. Their slots go to the free list.
   */
  evictIdle(keep = 0): BlockEviction[] {
    const out: BlockEviction[] = [];
    for (const block of this.idle.keys()) {
      if (this.idle.size <= keep) break;
      out.push(this.evict(block));
      this.free.push(block);
    }
    return out;
  }

  /** Checks every invariant; throws on the first broken one (tests call it after every operation). */
  checkInvariants(): void {
    const refs = new Int32Array(this.numBlocks);
    for (const t of this.tables.values()) for (const b of t) refs[b]!++;
    const onFree = new Set(this.free);
    if (onFree.size !== this.free.length) throw new Error('a block is on the free list twice');
    for (let b = 0; b < this.numBlocks; b++) {
      if (refs[b] !== this.refCounts[b]) throw new Error(`block ${b}: refCount ${this.refCounts[b]} but ${refs[b]} table entries`);
      const places = (refs[b]! > 0 ? 1 : 0) + (onFree.has(b) ? 1 : 0) + (this.idle.has(b) ? 1 : 0);
      if (places !== 1) throw new Error(`block ${b} is in ${places} of (tables, free list, idle list)`);
      if (this.idle.has(b) && this.hashes[b] === undefined) throw new Error(`idle block ${b} has no hash`);
      if (onFree.has(b) && this.hashes[b] !== undefined) throw new Error(`free block ${b} still has a hash`);
      const h = this.hashes[b];
      if (h !== undefined && this.byHash.get(h) !== b) throw new Error(`block ${b}'s hash does not name it`);
    }
    if (this.byHash.size !== this.hashes.filter((h) => h !== undefined).length) throw new Error('hash index and block hashes disagree');
  }

  private take(): number {
    let b = this.free.pop();
    if (b === undefined) {
      const lru = this.idle.keys().next();
      if (lru.done) throw new KvCapacityError('no free KV block');
      b = lru.value;
      this.evictions.push(this.evict(b));
    }
    this.refCounts[b] = 1;
    return b;
  }

  private evict(block: number): BlockEviction {
    const hash = this.hashes[block]!;
    this.idle.delete(block);
    this.forget(block);
    return { block, hash };
  }

  private forget(block: number): void {
    const h = this.hashes[block];
    if (h === undefined) return;
    this.byHash.delete(h);
    this.hashes[block] = undefined;
  }

  private drop(b: number): void {
    if (--this.refCounts[b]! > 0) return;
    if (this.hashes[b] !== undefined) this.idle.set(b, true);
    else this.free.push(b);
  }
}
