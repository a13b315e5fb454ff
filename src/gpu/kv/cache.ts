// The paged KV cache across its tiers: the GPU block pool (BlockManager), host RAM (HostKvCache), and a block
// store (the app's SQLite, reached through KvBlockStoreLike). Full blocks are named by chained content hashes
// (hash.ts), so a sequence whose prefix was ever computed finds it in whichever tier holds it:
//
//   matchPrefix: for each leading full block of a new sequence's tokens, share the GPU block that holds it, or
//   upload it from RAM or the store (checked: model, layout, checksum), stopping at the first block found nowhere;
//   the caller recomputes the rest.
//   reserve: allocation that evicts idle cached blocks LRU-first; an evicted block's bytes are copied out (queued
//   on the device before any later write) into RAM, and from RAM to the store when RAM passes its bound.
//
// A sequence owned by a conversation (ownSequence) may also use that conversation's private blocks: K/V this
// machine did not compute (an imported chat's), kept under names bound to the conversation (sequence-names.ts), so
// nothing derived from imported bytes is ever found by another conversation's prefix lookup.
//
// No GPU here: the device side is a BlockIo (the engine's is the real pool; tests can use host memory).
import { BlockManager, type BlockCopy, type BlockEviction, type BlockState } from './block-manager';
import { blockChainRoot, blockHashChain } from './hash';
import { HostKvCache, type SpilledBlock } from './host-cache';
import { KV_BLOCK_TOKENS, blockBytes, type KvLayout } from './layout';
import { SequenceNames } from './sequence-names';
import { StoreReader } from './store-reader';
import { layoutKey } from './swap';

/**
 * One full block outside the GPU pool: 16 tokens of K and V for every layer, named by its chained content hash. The
 * one definition: the IPC contract (src/shared/api-schemas.ts) sends it as it is, and the SQLite store's KvBlockRow
 * adds when it was stored and used.
 */
export interface StoredKvBlock {
  readonly hash: string;
  readonly modelFingerprint: string;
  /** Engine-defined (dtype, layers, heads, `key`...), checked before the bytes are used. */
  readonly layout: Readonly<Record<string, unknown>>;
  /**
   * xxHash64 of `bytes` (16 hex digits): computed by the store when it keeps the bytes and checked when it reads them
   * back (a block that fails is dropped there, so it is recomputed and saved again); the engine may leave it out.
   */
  readonly checksum?: string;
  readonly bytes: Uint8Array;
}

/** Anything that keeps blocks by content hash: main's SQLite store, or the renderer's proxy of it. */
export interface KvBlockStoreLike {
  getBlocks(hashes: readonly string[]): ReadonlyMap<string, StoredKvBlock> | Promise<ReadonlyMap<string, StoredKvBlock>>;
  storedHashes(hashes: readonly string[]): ReadonlySet<string> | Promise<ReadonlySet<string>>;
  putBlocks(blocks: readonly StoredKvBlock[]): void | Promise<void>;
}

/** Moves block bytes to and from the device. Every call is ordered, on the device, before any later write. */
export interface BlockIo {
  copy(copies: readonly BlockCopy[]): void;
  readOut(slots: readonly number[]): Promise<Uint8Array[]>;
  writeIn(blocks: readonly { slot: number; bytes: Uint8Array }[]): void;
}

export type ResumeSource = 'gpu' | 'ram' | 'disk' | 'recompute' | 'none';

export interface PrefixMatch {
  /** Leading tokens whose K/V came from a cache tier. */
  readonly tokens: number;
  readonly fromGpu: number;
  readonly fromRam: number;
  readonly fromDisk: number;
  /** Stored blocks found but refused (other model, other layout, failed checksum). */
  readonly rejected: number;
  /** The slowest tier used: disk if any block came from the store, then ram, then gpu; recompute if none. */
  readonly source: ResumeSource;
}

export interface KvCacheOptions {
  readonly numBlocks: number;
  readonly layout: KvLayout;
  readonly modelFingerprint: string;
  /**
   * What else decides K/V beside the file and the layout (LongRoPE's short or long factors, chosen by the context
   * length at load): mixed into the chain root, so blocks computed under another choice are never found.
   */
  readonly kvVariant?: string;
  readonly io: BlockIo;
  /** Host RAM for blocks evicted from the GPU pool (0: none). */
  readonly ramBytes?: number;
  /** The last tier: evicted blocks leaving RAM are kept here, and prefix matches look here last. */
  readonly store?: KvBlockStoreLike;
}

export interface KvStats {
  readonly blocks: number;
  readonly blockBytes: number;
  readonly free: number;
  readonly used: number;
  readonly shared: number;
  /** GPU blocks of no sequence kept for prefix matches. */
  readonly cached: number;
  readonly ramBlocks: number;
  readonly ramBytes: number;
  /** Prompt tokens looked up in the cache, and those found (hit rate = hitTokens / lookupTokens). */
  readonly lookupTokens: number;
  readonly hitTokens: number;
  readonly evictedToRam: number;
  readonly spilledToStore: number;
}

const STATE_CODE: Record<BlockState, number> = { free: 0, used: 1, shared: 2, idle: 3 };

/** Bytes of stored blocks one store read asks for: reads stay batched, and one batch uploads while the next is read. */
const STORE_READ_BYTES = 32 * 2 ** 20;

export class KvCache {
  /** The GPU pool's bookkeeping and the RAM tier; the engine goes through the methods below, tests check these. */
  readonly blocks: BlockManager;
  readonly ram: HostKvCache;
  readonly layoutKey: string;
  readonly blockBytes: number;
  /** Parent name of every chain's block 0: the model fingerprint and the layout (hash.ts). */
  readonly chainRoot: string;
  private readonly names = new SequenceNames();
  /** Evicted blocks whose bytes are on their way from the device to RAM. */
  private readonly inFlight = new Map<string, Promise<Uint8Array>>();
  private lookupTokens = 0;
  private hitTokens = 0;
  private evictedToRam = 0;
  private spilledToStore = 0;

  constructor(private readonly opts: KvCacheOptions) {
    this.blocks = new BlockManager(opts.numBlocks);
    this.layoutKey = layoutKey(opts.layout);
    this.blockBytes = blockBytes(opts.layout);
    this.chainRoot = blockChainRoot(opts.modelFingerprint, opts.kvVariant ? `${this.layoutKey}|${opts.kvVariant}` : this.layoutKey);
    this.ram = new HostKvCache(opts.ramBytes ?? 0, opts.store ? (b) => this.spillToStore(b) : undefined);
  }

  get modelFingerprint(): string {
    return this.opts.modelFingerprint;
  }

  get store(): KvBlockStoreLike | undefined {
    return this.opts.store;
  }

  addSequence(seq: number): void {
    this.blocks.addSequence(seq);
    this.names.add(seq);
  }

  fork(parent: number, child: number): void {
    this.blocks.fork(parent, child);
    this.names.fork(parent, child);
  }

  /**
   * Makes `seq` conversation `conversationId`'s: its prefix matches may then use that conversation's private blocks
   * (and only that conversation's). Set before the sequence's first match.
   */
  ownSequence(seq: number, conversationId: number): void {
    this.blocks.table(seq); // throws for an unknown sequence
    this.names.own(seq, conversationId);
  }

  /**
   * Marks `seq`'s K/V from block `index` on as private (a private tail block was restored there): every block it
   * fills from there is named for its conversation only. The sequence must be owned.
   */
  markPrivate(seq: number, index: number): void {
    this.names.markPrivate(seq, index);
  }

  /** The first block of `seq` whose K/V is private (Infinity if none). */
  privateFrom(seq: number): number {
    return this.names.privateFrom(seq);
  }

  /** The conversation `seq` belongs to, if any. */
  ownerOf(seq: number): number | undefined {
    return this.names.ownerOf(seq);
  }

  /**
   * The names `seq`'s committed full blocks are kept under, in order: each one's content name (chain), or for a
   * private block its conversation's private name. What a block table in the store must name.
   */
  blockNames(seq: number): readonly string[] {
    return this.names.keptNames(seq);
  }

  /**
   * Moves idle cached blocks out of the GPU pool, least recently used first, until `keep` remain: into RAM (and
   * on to the store) when there is a RAM tier. For memory pressure from outside (another model loading).
   */
  evictIdle(keep = 0): number {
    const evicted = this.blocks.evictIdle(keep);
    this.spill(evicted);
    return evicted.length;
  }

  /**
   * Forgets every idle cached block in the GPU pool and every block in RAM, without copying any out (the store
   * keeps its copies). Blocks of sequences stay.
   */
  clearIdle(): void {
    this.blocks.evictIdle();
    this.ram.clear();
  }

  /** Blocks a reservation can take now: free ones and idle cached ones (evicted on demand). */
  get freeBlocks(): number {
    return this.blocks.freeBlocks;
  }

  /** The pool slots of `seq`'s blocks, in position order (block i holds positions [16i, 16i + 16)). */
  table(seq: number): readonly number[] {
    return this.blocks.table(seq);
  }

  /** Blocks `reserve(seq, tokens, writeFrom)` would take, copy-on-write included. */
  blocksNeeded(seq: number, tokens: number, writeFrom: number): number {
    return this.blocks.blocksNeeded(seq, tokens, writeFrom);
  }

  removeSequence(seq: number): void {
    this.blocks.removeSequence(seq);
    this.names.remove(seq);
  }

  /** Drops the sequence's blocks past `tokens` (which must be a block multiple when any block is hashed). */
  truncate(seq: number, tokens: number): void {
    this.blocks.truncate(seq, tokens);
    this.names.truncate(seq, tokens);
  }

  /** Backs positions [0, tokens) of `seq`, writable from `writeFrom`; performs copy-on-write and spills. */
  reserve(seq: number, tokens: number, writeFrom: number): void {
    const { copies, evicted } = this.blocks.reserve(seq, tokens, writeFrom);
    if (copies.length > 0) this.opts.io.copy(copies);
    this.names.cut(seq, Math.floor(writeFrom / KV_BLOCK_TOKENS));
    this.spill(evicted);
  }

  /** Copies evicted blocks' bytes to RAM. Queued now, so the device reads them before any later overwrite. */
  private spill(evicted: readonly BlockEviction[]): void {
    if (evicted.length === 0 || (this.ram.maxBytes === 0 && !this.opts.store)) return; // nowhere to keep them
    const out = this.opts.io.readOut(evicted.map((e) => e.block));
    evicted.forEach((e, i) => {
      const bytes = out.then((all) => all[i]!);
      this.inFlight.set(e.hash, bytes);
      void bytes
        .then((b) => {
          this.evictedToRam++;
          return this.ram.put(e.hash, b);
        })
        .catch(() => undefined) // a lost device: the block is recomputed if needed again
        .finally(() => this.inFlight.delete(e.hash));
    });
  }

  /**
   * Names the full blocks of `seq` that `tokens` (the sequence's computed tokens) now fill, so later sequences
   * can share them; a block at or past the sequence's first private one is named for its conversation only.
   */
  commit(seq: number, tokens: readonly number[]): void {
    for (const { index, name } of this.names.commit(seq, this.chainRoot, tokens)) this.blocks.register(seq, index, name);
  }

  /** The content hashes of `seq`'s committed full blocks, in order. */
  chain(seq: number): readonly string[] {
    return this.names.chain(seq);
  }

  /**
   * Gives the empty sequence `seq` the K/V of the longest cached prefix of `tokens`, at most `maxBlocks` full
   * blocks, from whichever tier holds each block: a block this machine computed (its content name) first, else,
   * for an owned sequence, its conversation's private copy. The store is read in batches of about
   * STORE_READ_BYTES, each batch's uploads queued before the next is read.
   */
  async matchPrefix(seq: number, tokens: readonly number[], maxBlocks: number, store = this.opts.store): Promise<PrefixMatch> {
    if (this.blocks.table(seq).length > 0) throw new Error(`sequence ${seq} is not empty`);
    const n = Math.min(maxBlocks, Math.floor(tokens.length / KV_BLOCK_TOKENS));
    this.lookupTokens += n * KV_BLOCK_TOKENS;
    const hashes = blockHashChain(this.chainRoot, tokens, [], n);
    const namer = this.names.privateNamer(seq);
    const privateNames: string[] = [];
    const privateName = namer && ((i: number): string => (privateNames[i] ??= namer(hashes[i]!)));
    const names: string[] = [];
    let fromGpu = 0;
    let fromRam = 0;
    let fromDisk = 0;
    let rejected = 0;
    const reader = store ? new StoreReader(store, hashes, privateName, Math.max(1, Math.floor(STORE_READ_BYTES / this.blockBytes))) : undefined;
    const uploads: { slot: number; bytes: Uint8Array }[] = []; // queued a batch at a time: one write call per batch
    const flush = (): void => {
      if (uploads.length > 0) this.opts.io.writeIn(uploads.splice(0));
    };
    let b = 0;
    try {
      for (; b < n; b++) {
        const h = hashes[b]!;
        // The private name (one more SHA-256) only when the content name is not found: most blocks are shared.
        const onGpu = this.blocks.lookup(h) ?? (privateName === undefined ? undefined : this.blocks.lookup(privateName(b)));
        if (onGpu !== undefined) {
          this.blocks.share(seq, onGpu);
          names.push(this.blocks.hashOf(onGpu)!);
          fromGpu++;
          continue;
        }
        if (this.blocks.freeBlocks === 0) break; // no room to upload into: the rest is recomputed when room exists
        let inRam = this.fromRam(h);
        if (inRam instanceof Promise) inRam = await inRam;
        if (!inRam && privateName !== undefined) {
          inRam = this.fromRam(privateName(b));
          if (inRam instanceof Promise) inRam = await inRam;
        }
        if (inRam) {
          this.upload(seq, b, inRam.name, inRam.bytes, uploads);
          names.push(inRam.name);
          fromRam++;
          continue;
        }
        if (!reader) break;
        if (!reader.holds(b)) {
          flush(); // the device copies this batch while the next one is read
          await reader.read(b);
        }
        const found = reader.find(b);
        if (!found) break;
        if (!this.usable(found.block)) {
          rejected++;
          break;
        }
        this.upload(seq, b, found.name, found.block.bytes, uploads);
        names.push(found.name);
        fromDisk++;
      }
    } finally {
      flush(); // every block registered above gets its bytes, even when a read fails part-way
    }
    this.names.matched(seq, hashes.slice(0, b), names);
    this.hitTokens += b * KV_BLOCK_TOKENS;
    const source: ResumeSource = fromDisk > 0 ? 'disk' : fromRam > 0 ? 'ram' : fromGpu > 0 ? 'gpu' : n > 0 ? 'recompute' : 'none';
    return { tokens: b * KV_BLOCK_TOKENS, fromGpu, fromRam, fromDisk, rejected, source };
  }

  /** A block held in RAM or on its way there from the device (only then is there anything to wait for). */
  private fromRam(name: string): { name: string; bytes: Uint8Array } | undefined | Promise<{ name: string; bytes: Uint8Array } | undefined> {
    const held = this.ram.get(name);
    if (held) return { name, bytes: held };
    const coming = this.inFlight.get(name);
    return coming?.then(
      (bytes) => ({ name, bytes }),
      () => undefined,
    );
  }

  /** True if a stored block is this model's, in this layout, of this size (the store checked its bytes' checksum). */
  usable(b: StoredKvBlock): boolean {
    return b.modelFingerprint === this.opts.modelFingerprint && b.layout.key === this.layoutKey && b.bytes.byteLength === this.blockBytes;
  }

  stats(): KvStats {
    let used = 0;
    let shared = 0;
    for (let b = 0; b < this.blocks.numBlocks; b++) {
      const s = this.blocks.state(b);
      if (s === 'used') used++;
      else if (s === 'shared') shared++;
    }
    return {
      blocks: this.blocks.numBlocks,
      blockBytes: this.blockBytes,
      free: this.blocks.freeBlocks - this.blocks.idleBlocks,
      used,
      shared,
      cached: this.blocks.idleBlocks,
      ramBlocks: this.ram.blocks,
      ramBytes: this.ram.bytes,
      lookupTokens: this.lookupTokens,
      hitTokens: this.hitTokens,
      evictedToRam: this.evictedToRam,
      spilledToStore: this.spilledToStore,
    };
  }

  /** One byte per GPU block: 0 free, 1 used, 2 shared, 3 cached (idle). */
  blockStates(): Uint8Array {
    const out = new Uint8Array(this.blocks.numBlocks);
    for (let b = 0; b < out.length; b++) out[b] = STATE_CODE[this.blocks.state(b)];
    return out;
  }

  /** Waits until every evicted block is in RAM (and every RAM overflow in the store). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Backs logical block `index` of `seq` and queues its bytes in `uploads` (written before matchPrefix returns). */
  private upload(seq: number, index: number, hash: string, bytes: Uint8Array, uploads: { slot: number; bytes: Uint8Array }[]): void {
    const pos = index * KV_BLOCK_TOKENS;
    this.reserve(seq, pos + KV_BLOCK_TOKENS, pos);
    const slot = this.blocks.table(seq)[index]!;
    uploads.push({ slot, bytes });
    this.blocks.register(seq, index, hash);
  }

  private async spillToStore(blocks: readonly SpilledBlock[]): Promise<void> {
    const store = this.opts.store!;
    const have = await store.storedHashes(blocks.map((b) => b.hash));
    const missing = blocks.filter((b) => !have.has(b.hash));
    if (missing.length === 0) return;
    const layout = layoutRecord(this.opts.layout);
    await store.putBlocks(missing.map((b) => ({ hash: b.hash, modelFingerprint: this.opts.modelFingerprint, layout, bytes: b.bytes })));
    this.spilledToStore += missing.length;
  }
}

/** What a stored block records of its layout; `key` must equal the reader's layoutKey to be used. */
export function layoutRecord(l: KvLayout): Record<string, unknown> {
  const mla = l.latentDim === undefined ? {} : { latentDim: l.latentDim }; // an MLA block: one latent row a token
  return { key: layoutKey(l), dtype: l.dtype, nLayers: l.nLayers, nKvHeads: l.nKvHeads, headDim: l.headDim, ...mla, blockTokens: KV_BLOCK_TOKENS };
}
