// Reading a chain of KV blocks from the store (the last tier) for a prefix match: in batches, so a long resume
// costs a few store calls (IPC round trips in the app, one SELECT each in SQLite), not one per block, and holds
// one batch of bytes at a time. An owned sequence's private copies are asked for only where a batch lacks the
// block this machine computed, so an ordinary conversation's resume reads exactly its own names.
import type { KvBlockStoreLike, StoredKvBlock } from './cache';

export class StoreReader {
  private start = 0;
  private end = 0;
  private rows: ReadonlyMap<string, StoredKvBlock> = new Map();
  private privateRows: ReadonlyMap<string, StoredKvBlock> = new Map();

  constructor(
    private readonly store: KvBlockStoreLike,
    private readonly hashes: readonly string[],
    /** Block i's private name for the sequence's conversation; absent for a sequence no conversation owns. */
    private readonly privateName: ((index: number) => string) | undefined,
    private readonly batch: number,
  ) {}

  holds(index: number): boolean {
    return index >= this.start && index < this.end;
  }

  /** Reads the batch starting at block `index`. */
  async read(index: number): Promise<void> {
    this.start = index;
    this.end = Math.min(this.hashes.length, index + this.batch);
    this.rows = new Map(); // the previous batch's bytes are the device's now
    this.privateRows = new Map();
    const wanted = this.hashes.slice(this.start, this.end);
    this.rows = await this.store.getBlocks(wanted);
    if (!this.privateName) return;
    const lacking: string[] = [];
    for (let i = this.start; i < this.end; i++) if (!this.rows.has(this.hashes[i]!)) lacking.push(this.privateName(i));
    if (lacking.length > 0) this.privateRows = await this.store.getBlocks(lacking);
  }

  /** Block `index` (of the batch read) under its content name, else its private name; undefined if neither is stored. */
  find(index: number): { name: string; block: StoredKvBlock } | undefined {
    const h = this.hashes[index]!;
    const computed = this.rows.get(h);
    if (computed) return { name: h, block: computed };
    if (!this.privateName) return undefined;
    const p = this.privateName(index);
    const imported = this.privateRows.get(p);
    return imported ? { name: p, block: imported } : undefined;
  }
}
