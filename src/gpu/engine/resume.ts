// Resume a conversation from stored KV blocks instead of recomputing it, and persist a sequence's blocks.
// The store is anything that keeps blocks by content hash (main's SQLite store, or the renderer's IPC proxy of it).
import { layoutRecord, type KvBlockStoreLike, type ResumeSource, type StoredKvBlock } from '../kv/cache';
import { blockHashChain } from '../kv/hash';
import { blockChecksum } from '../kv/swap';
import type { Engine } from './engine';

export { layoutRecord, type KvBlockStoreLike, type ResumeSource, type StoredKvBlock };

export interface ResumeResult {
  /** Where the history's K/V came from: the slowest tier used (gpu, ram, disk), else recompute; none if empty. */
  readonly source: ResumeSource;
  /** Leading tokens whose K/V came back without recomputation. */
  readonly reusedTokens: number;
  /** Stored blocks found but refused (other model, other layout, failed checksum). */
  readonly rejectedBlocks: number;
  readonly ms: number;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Restores into the empty sequence `seq` the longest prefix of `history`'s full blocks held by the engine's cache
 * tiers or by `store`, for this model and layout; the caller then runs the rest of the history (and the new
 * prompt) as usual.
 */
export async function resumeFromStore(engine: Engine, seq: number, modelFingerprint: string, history: readonly number[], store: KvBlockStoreLike): Promise<ResumeResult> {
  if (modelFingerprint !== engine.kv.modelFingerprint) {
    throw new Error(`the engine names its KV blocks for model ${engine.kv.modelFingerprint.slice(0, 12)}…, not ${modelFingerprint.slice(0, 12)}…: load it with modelFingerprint set`);
  }
  const started = now();
  if (history.length === 0) return { source: 'none', reusedTokens: 0, rejectedBlocks: 0, ms: 0 };
  const m = await engine.resumePrefix(seq, history, store);
  return { source: m.source, reusedTokens: m.tokens, rejectedBlocks: m.rejected, ms: now() - started };
}

/** Writes the sequence's full blocks that the store lacks; returns the sequence's block hashes (its table). */
export async function persistSequence(engine: Engine, seq: number, modelFingerprint: string, store: KvBlockStoreLike): Promise<{ hashes: string[]; written: number }> {
  const { computed } = engine.sequenceTokens(seq);
  const hashes = blockHashChain(modelFingerprint, computed);
  const stored = await store.storedHashes(hashes);
  const firstMissing = hashes.findIndex((h) => !stored.has(h));
  if (firstMissing < 0) return { hashes, written: 0 };
  const bytes = await engine.exportBlocks(seq, firstMissing);
  const layout = layoutRecord(engine.pool.layout);
  const blocks: StoredKvBlock[] = [];
  bytes.forEach((b, i) => {
    const hash = hashes[firstMissing + i]!;
    if (!stored.has(hash)) blocks.push({ hash, modelFingerprint, layout, checksum: blockChecksum(b), bytes: b });
  });
  await store.putBlocks(blocks);
  return { hashes, written: blocks.length };
}
