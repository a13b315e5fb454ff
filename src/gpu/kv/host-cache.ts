// The host-RAM tier of the KV cache: full blocks evicted from the GPU pool, by content hash, bounded in bytes.
// Least recently used blocks move on to the next tier (SQLite, through `spill`) when the bound is passed; a block
// leaves RAM only after `spill` has resolved, so its bytes are never in neither place.

export interface SpilledBlock {
  readonly hash: string;
  readonly bytes: Uint8Array;
}

export class HostKvCache {
  private readonly entries = new Map<string, Uint8Array>(); // least recently used first
  private held = 0;
  private readonly leaving = new Set<string>();
  private leavingBytes = 0;
  /** Blocks dropped because the next tier refused them (a full disk): recomputed if needed again. */
  droppedOnError = 0;
  lastError: unknown;

  constructor(
    readonly maxBytes: number,
    private readonly spill?: (blocks: readonly SpilledBlock[]) => Promise<void>,
  ) {}

  get blocks(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.held;
  }

  has(hash: string): boolean {
    return this.entries.has(hash);
  }

  /** The block's bytes, marking it recently used. */
  get(hash: string): Uint8Array | undefined {
    const b = this.entries.get(hash);
    if (b && !this.leaving.has(hash)) {
      this.entries.delete(hash);
      this.entries.set(hash, b);
    }
    return b;
  }

  /** Drops every block not already on its way to the next tier. */
  clear(): void {
    for (const hash of [...this.entries.keys()]) this.delete(hash);
  }

  delete(hash: string): void {
    const b = this.entries.get(hash);
    if (!b || this.leaving.has(hash)) return;
    this.entries.delete(hash);
    this.held -= b.byteLength;
  }

  /** Adds a block; resolves once the tier is back within its bound (spilled blocks safely in the next tier). */
  async put(hash: string, bytes: Uint8Array): Promise<void> {
    if (this.entries.has(hash)) return;
    if (bytes.byteLength > this.maxBytes && !this.spill) return; // a zero-sized tier keeps nothing
    this.entries.set(hash, bytes);
    this.held += bytes.byteLength;
    await this.shrink();
  }

  private async shrink(): Promise<void> {
    const victims: SpilledBlock[] = [];
    // Blocks already on their way out (an earlier put's spill) count as gone.
    let over = this.held - this.leavingBytes - this.maxBytes;
    for (const [hash, bytes] of this.entries) {
      if (over <= 0) break;
      if (this.leaving.has(hash)) continue;
      victims.push({ hash, bytes });
      this.leaving.add(hash);
      this.leavingBytes += bytes.byteLength;
      over -= bytes.byteLength;
    }
    if (victims.length === 0) return;
    try {
      if (this.spill) await this.spill(victims);
    } catch (e) {
      this.droppedOnError += victims.length;
      this.lastError = e;
    } finally {
      for (const v of victims) {
        this.leaving.delete(v.hash);
        this.leavingBytes -= v.bytes.byteLength;
        if (this.entries.delete(v.hash)) this.held -= v.bytes.byteLength;
      }
    }
  }
}
