// Resume a conversation from stored KV blocks instead of recomputing it, and persist a sequence's blocks.
// The store is anything that keeps blocks by name (main's SQLite store, or the renderer's IPC proxy of it). Full
// blocks are content-addressed and shared; a conversation's partial last block (its tail) is its own, named by
// the conversation and its whole token history, so a resume recomputes nothing but the new message.
import { layoutRecord, type KvBlockStoreLike, type ResumeSource, type StoredKvBlock } from '../kv/cache';
import { blockHashChain, tailBlockName } from '../kv/hash';
import { KV_BLOCK_TOKENS } from '../kv/layout';
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
 * last token of `history` is always left to run.
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
  const m = await engine.resumePrefix(seq, history, store);
  const t = tail && m.tokens === tail.computed - (tail.computed % KV_BLOCK_TOKENS) ? await restoreTail(engine, seq, history, store, tail) : 'absent';
  const source: ResumeSource = t === 'restored' && (m.source === 'recompute' || m.source === 'none') ? 'disk' : m.source;
  return {
    source,
    reusedTokens: t === 'restored' ? tail!.computed : m.tokens,
    rejectedBlocks: m.rejected + (t === 'refused' ? 1 : 0),
    ms: now() - started,
  };
}

async function restoreTail(engine: Engine, seq: number, history: readonly number[], store: KvBlockStoreLike, tail: ConversationTail): Promise<'restored' | 'refused' | 'absent'> {
  if (tail.computed % KV_BLOCK_TOKENS === 0 || tail.computed >= history.length) return 'absent';
  const name = tailBlockName(engine.kv.chainRoot, tail.conversationId, history, tail.computed);
  const block = (await store.getBlocks([name])).get(name);
  if (!block) return 'absent';
  if (!engine.kv.usable(block)) return 'refused';
  engine.restoreTailBlock(seq, history, tail.computed, block.bytes);
  return 'restored';
}

/**
 * Writes the sequence's full blocks that the store lacks, and with `tail` the conversation's partial last block;
 * returns the block table to save (full blocks' names, then the tail's) and how many blocks were written.
 */
export async function persistSequence(
  engine: Engine,
  seq: number,
  modelFingerprint: string,
  store: KvBlockStoreLike,
  tail?: { readonly conversationId: number },
): Promise<{ hashes: string[]; written: number }> {
  const { computed } = engine.sequenceTokens(seq);
  const hashes = blockHashChain(engine.kv.chainRoot, computed);
  const stored = await store.storedHashes(hashes);
  const firstMissing = hashes.findIndex((h) => !stored.has(h));
  const layout = layoutRecord(engine.pool.layout);
  const blocks: StoredKvBlock[] = [];
  if (firstMissing >= 0) {
    const bytes = await engine.exportBlocks(seq, firstMissing);
    bytes.forEach((b, i) => {
      const hash = hashes[firstMissing + i]!;
      if (!stored.has(hash)) blocks.push({ hash, modelFingerprint, layout, bytes: b });
    });
  }
  const tailBytes = tail ? await engine.exportTailBlock(seq) : null;
  const table = [...hashes];
  if (tail && tailBytes) {
    const name = tailBlockName(engine.kv.chainRoot, tail.conversationId, computed, computed.length);
    blocks.push({ hash: name, modelFingerprint, layout: { ...layout, tail: true }, bytes: tailBytes });
    table.push(name);
  }
  if (blocks.length > 0) await store.putBlocks(blocks);
  return { hashes: table, written: blocks.length };
}
