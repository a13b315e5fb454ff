// Resume a conversation from stored KV blocks instead of recomputing it, and persist a sequence's blocks.
// The store is anything that keeps blocks by name (main's SQLite store, or the renderer's IPC proxy of it). Full
// blocks are content-addressed and shared; a conversation's partial last block (its tail) is its own, named by
// the conversation and its whole token history, so a resume recomputes nothing but the new message. K/V this
// machine did not compute (an imported chat's) stays private to its conversation (kv/private-blocks.ts): found
// only by that conversation's resume, and everything computed on top of it saved under private names too.
import { layoutRecord, type KvBlockStoreLike, type ResumeSource, type StoredKvBlock } from '../kv/cache';
import { blockHashChain, tailBlockName } from '../kv/hash';
import { KV_BLOCK_TOKENS } from '../kv/layout';
import { privateBlockName } from '../kv/private-blocks';
import type { Engine } from './engine';

export { layoutRecord, type KvBlockStoreLike, type ResumeSource, type StoredKvBlock };

export interface ResumeResult {
  /** Where the history's K/V came from: the slowest tier used (gpu, ram, disk), else recompute; none if empty. */
  readonly source: ResumeSource;
  /** Leading tokens whose K/V came back without recomputation. */
  readonly reusedTokens: number;
  /** Stored blocks found but refused (other model, other layout, wrong size). */
  readonly rejectedBlocks: number;
  readonly ms: number;
}

/** Which conversation's tail block to look for, and where it ends. */
export interface ConversationTail {
  readonly conversationId: number;
  /** Leading tokens of the history whose K/V were saved: the tail block holds [16 * floor(computed / 16), computed). */
  readonly computed: number;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Restores into the empty sequence `seq` the longest prefix of `history`'s full blocks held by the engine's cache
 * tiers or by `store`, for this model and layout, then, when every full block came back, the conversation's own
 * tail block (`tail`); the caller then runs the rest of the history (and the new prompt) as usual. At least the
 * last token of `history` is always left to run. With `tail`, the sequence becomes that conversation's: it may use
 * the conversation's private blocks (and what it computes over them is private too).
 */
export async function resumeFromStore(
  engine: Engine,
  seq: number,
  modelFingerprint: string,
  history: readonly number[],
  store: KvBlockStoreLike,
  tail?: ConversationTail,
): Promise<ResumeResult> {
  if (modelFingerprint !== engine.kv.modelFingerprint) {
    throw new Error(`the engine names its KV blocks for model ${engine.kv.modelFingerprint.slice(0, 12)}…, not ${modelFingerprint.slice(0, 12)}…: load it with modelFingerprint set`);
  }
  const started = now();
  if (history.length === 0) return { source: 'none', reusedTokens: 0, rejectedBlocks: 0, ms: 0 };
  if (tail) engine.kv.ownSequence(seq, tail.conversationId);
  const hasTail = tail !== undefined && tail.computed % KV_BLOCK_TOKENS !== 0 && tail.computed < history.length;
  const reads = hasTail ? new TailPrefetch(store, tailBlockName(engine.kv.chainRoot, tail.conversationId, history, tail.computed)) : undefined;
  const m = await engine.resumePrefix(seq, history, reads ?? store);
  const t = reads && m.tokens === tail!.computed - (tail!.computed % KV_BLOCK_TOKENS) ? await restoreTail(engine, seq, history, reads, tail!) : 'absent';
  const source: ResumeSource = t === 'restored' && (m.source === 'recompute' || m.source === 'none') ? 'disk' : m.source;
  return {
    source,
    reusedTokens: t === 'restored' ? tail!.computed : m.tokens,
    rejectedBlocks: m.rejected + (t === 'refused' ? 1 : 0),
    ms: now() - started,
  };
}

async function restoreTail(engine: Engine, seq: number, history: readonly number[], reads: TailPrefetch, tail: ConversationTail): Promise<'restored' | 'refused' | 'absent'> {
  const block = await reads.tailBlock();
  if (!block) return 'absent';
  if (!engine.kv.usable(block)) return 'refused';
  engine.restoreTailBlock(seq, history, tail.computed, block.bytes);
  // An imported tail: the block it fills is computed over K/V nobody here checked.
  if (block.layout.private === true) engine.kv.markPrivate(seq, Math.floor(tail.computed / KV_BLOCK_TOKENS));
  return 'restored';
}

/**
 * `store`, with the conversation's tail block asked for in the first read of full blocks: a resume gets its tail
 * with its first batch instead of in a store call of its own.
 */
class TailPrefetch implements KvBlockStoreLike {
  private asked = false;
  private tail: StoredKvBlock | undefined;

  constructor(
    private readonly store: KvBlockStoreLike,
    private readonly tailName: string,
  ) {}

  async getBlocks(hashes: readonly string[]): Promise<ReadonlyMap<string, StoredKvBlock>> {
    if (this.asked) return this.store.getBlocks(hashes);
    this.asked = true;
    const rows = await this.store.getBlocks([...hashes, this.tailName]);
    this.tail = rows.get(this.tailName);
    return rows;
  }

  storedHashes(hashes: readonly string[]): ReadonlySet<string> | Promise<ReadonlySet<string>> {
    return this.store.storedHashes(hashes);
  }

  putBlocks(blocks: readonly StoredKvBlock[]): void | Promise<void> {
    return this.store.putBlocks(blocks);
  }

  /** The tail block, from the first read if there was one. */
  async tailBlock(): Promise<StoredKvBlock | undefined> {
    if (this.asked) return this.tail;
    return (await this.store.getBlocks([this.tailName])).get(this.tailName);
  }
}

/**
 * Writes the sequence's full blocks that the store lacks, and with `tail` the conversation's partial last block;
 * returns the block table to save (full blocks' names, then the tail's) and how many blocks were written. Blocks of
 * a sequence holding private K/V are written under their conversation's private names (layout.private), never
 * under a content name another conversation could match.
 */
export async function persistSequence(
  engine: Engine,
  seq: number,
  modelFingerprint: string,
  store: KvBlockStoreLike,
  tail?: { readonly conversationId: number },
): Promise<{ hashes: string[]; written: number }> {
  const { computed } = engine.sequenceTokens(seq);
  const content = blockHashChain(engine.kv.chainRoot, computed);
  const hashes = storedNames(engine, seq, content);
  const stored = await store.storedHashes(hashes);
  const firstMissing = hashes.findIndex((h) => !stored.has(h));
  const layout = layoutRecord(engine.pool.layout);
  const privateFrom = engine.kv.privateFrom(seq);
  const blocks: StoredKvBlock[] = [];
  if (firstMissing >= 0) {
    const bytes = await engine.exportBlocks(seq, firstMissing);
    bytes.forEach((b, i) => {
      const at = firstMissing + i;
      const hash = hashes[at]!;
      if (!stored.has(hash)) blocks.push({ hash, modelFingerprint, layout: hash !== content[at] ? { ...layout, private: true } : layout, bytes: b });
    });
  }
  const tailBytes = tail ? await engine.exportTailBlock(seq) : null;
  const table = [...hashes];
  if (tail && tailBytes) {
    const name = tailBlockName(engine.kv.chainRoot, tail.conversationId, computed, computed.length);
    const isPrivate = privateFrom <= Math.floor(computed.length / KV_BLOCK_TOKENS);
    blocks.push({ hash: name, modelFingerprint, layout: { ...layout, tail: true, ...(isPrivate ? { private: true } : {}) }, bytes: tailBytes });
    table.push(name);
  }
  if (blocks.length > 0) await store.putBlocks(blocks);
  return { hashes: table, written: blocks.length };
}

/**
 * The names the sequence's full blocks are kept under (content names `hashes`, or private ones): those the cache
 * committed, and for any it has not yet, the name its private state gives.
 */
function storedNames(engine: Engine, seq: number, hashes: readonly string[]): string[] {
  const chain = engine.kv.chain(seq);
  const names = engine.kv.blockNames(seq);
  const owner = engine.kv.ownerOf(seq);
  const privateFrom = engine.kv.privateFrom(seq);
  return hashes.map((h, i) => (chain[i] === h && names[i] !== undefined ? names[i] : owner !== undefined && i >= privateFrom ? privateBlockName(owner, h) : h));
}
