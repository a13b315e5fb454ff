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
  const m = await engine.resumePrefix(seq, history, store);
  const tailFollows = tail !== undefined && tail.computed % KV_BLOCK_TOKENS !== 0 && tail.computed < history.length && m.tokens === tail.computed - (tail.computed % KV_BLOCK_TOKENS);
  const t = tailFollows ? await restoreTail(engine, seq, history, store, tail) : 'absent';
  const source: ResumeSource = t === 'restored' && (m.source === 'recompute' || m.source === 'none') ? 'disk' : m.source;
  return {
    source,
    reusedTokens: t === 'restored' ? tail!.computed : m.tokens,
    rejectedBlocks: m.rejected + (t === 'refused' ? 1 : 0),
    ms: now() - started,
  };
}

/**
 * The conversation's tail block, read after its full blocks in a store call of its own: its name is chained on the
 * last full block's, which the prefix match has just computed. Naming it before the match would hash the whole
 * chain a second time (SHA-256 in JavaScript: more than a whole single-row read costs at 1K tokens).
 */
async function restoreTail(engine: Engine, seq: number, history: readonly number[], store: KvBlockStoreLike, tail: ConversationTail): Promise<'restored' | 'refused' | 'absent'> {
  const name = conversationTailName(engine.kv.chainRoot, engine.kv.chain(seq), tail.conversationId, history, tail.computed);
  const block = (await store.getBlocks([name])).get(name);
  if (!block) return 'absent';
  if (!engine.kv.usable(block)) return 'refused';
  engine.restoreTailBlock(seq, history, tail.computed, block.bytes);
  // An imported tail: the block it fills is computed over K/V nobody here checked.
  if (block.layout.private === true) engine.kv.markPrivate(seq, Math.floor(tail.computed / KV_BLOCK_TOKENS));
  return 'restored';
}

/**
 * tailBlockName(root, conversationId, history, computed), given `chain`, the content names of the history's full
 * blocks before `computed` (at least floor(computed / 16) of them): a chain continued from block i's name is the
 * same chain, so the tail is named from the last full block's name over the tail's own tokens alone.
 */
export function conversationTailName(root: string, chain: readonly string[], conversationId: number, history: readonly number[], computed: number): string {
  const full = Math.floor(computed / KV_BLOCK_TOKENS);
  if (chain.length < full) throw new RangeError(`a tail after ${full} full blocks needs their names; ${chain.length} given`);
  const parent = full === 0 ? root : chain[full - 1]!;
  return tailBlockName(parent, conversationId, history.slice(full * KV_BLOCK_TOKENS, computed), computed - full * KV_BLOCK_TOKENS);
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
