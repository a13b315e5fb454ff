// Physical KV blocks and per-sequence block tables, with no GPU in sight (nano-vllm's block_manager, in TS).
// The engine asks `reserve` before writing K/V for new positions; it gets back block copies to perform first
// when a block it must write into is shared (copy-on-write).
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

export class BlockManager {
  private readonly refCounts: Int32Array;
  private readonly free: number[] = [];
  private readonly tables = new Map<number, number[]>();

  constructor(readonly numBlocks: number) {
    this.refCounts = new Int32Array(numBlocks);
    // Lowest ids first out.
    for (let b = numBlocks - 1; b >= 0; b--) this.free.push(b);
  }

  get freeBlocks(): number {
    return this.free.length;
  }

  refCount(block: number): number {
    return this.refCounts[block]!;
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

  /** Blocks `reserve(seq, tokens)` would take from the free list. */
  blocksNeeded(seq: number, tokens: number, writeFrom: number): number {
    const t = this.table(seq);
    const need = Math.max(0, Math.ceil(tokens / KV_BLOCK_TOKENS) - t.length);
    const firstWritten = Math.floor(writeFrom / KV_BLOCK_TOKENS);
    const cow = firstWritten < t.length && this.refCounts[t[firstWritten]!]! > 1 ? 1 : 0;
    return need + cow;
  }

  canReserve(seq: number, tokens: number, writeFrom: number): boolean {
    return this.blocksNeeded(seq, tokens, writeFrom) <= this.free.length;
  }

  /**
   * Makes positions [0, tokens) of `seq` backed by blocks, positions from `writeFrom` on writable.
   * Returns the copies (shared block -> private block) to perform on the device before writing.
   */
  reserve(seq: number, tokens: number, writeFrom: number): BlockCopy[] {
    const needed = this.blocksNeeded(seq, tokens, writeFrom);
    if (needed > this.free.length) {
      throw new KvCapacityError(`the KV cache needs ${needed} more blocks for sequence ${seq} but ${this.free.length} are free`);
    }
    const t = this.tables.get(seq)!;
    const copies: BlockCopy[] = [];
    const firstWritten = Math.floor(writeFrom / KV_BLOCK_TOKENS);
    if (firstWritten < t.length && this.refCounts[t[firstWritten]!]! > 1) {
      const src = t[firstWritten]!;
      const dst = this.take();
      this.refCounts[src]!--;
      t[firstWritten] = dst;
      copies.push({ src, dst });
    }
    while (t.length < Math.ceil(tokens / KV_BLOCK_TOKENS)) t.push(this.take());
    return copies;
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

  private take(): number {
    const b = this.free.pop()!;
    this.refCounts[b] = 1;
    return b;
  }

  private drop(b: number): void {
    if (--this.refCounts[b]! === 0) this.free.push(b);
  }
}
