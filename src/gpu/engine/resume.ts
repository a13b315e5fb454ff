// Resume a conversation from stored KV blocks instead of recomputing it, and persist a sequence's blocks.
// The store is anything that keeps blocks by content hash (main's SQLite store, or the renderer's IPC proxy of it).
import { blockHashChain } from '../kv/hash';
import { KV_BLOCK_TOKENS, type KvLayout } from '../kv/layout';
import { blockChecksum, layoutKey } from '../kv/swap';
import type { Engine } from './engine';

export interface StoredKvBlock {
  readonly hash: string;
  readonly modelFingerprint: string;
  readonly layout: Readonly<Record<string, unknown>>;
  readonly checksum: string;
  readonly bytes: Uint8Array;
}

export interface KvBlockStoreLike {
  getBlocks(hashes: readonly string[]): ReadonlyMap<string, StoredKvBlock> | Promise<ReadonlyMap<string, StoredKvBlock>>;
  storedHashes(hashes: readonly string[]): ReadonlySet<string> | Promise<ReadonlySet<string>>;
  putBlocks(blocks: readonly StoredKvBlock[]): void | Promise<void>;
}

export type ResumeSource = 'gpu' | 'ram' | 'disk' | 'recompute' | 'none';

export interface ResumeResult {
  readonly source: ResumeSource;
  /** Leading tokens whose K/V came back without recomputation. */
  readonly reusedTokens: number;
  /** Stored blocks found but refused (other model, other layout, failed checksum). */
  readonly rejectedBlocks: number;
  readonly ms: number;
}

export function layoutRecord(l: KvLayout): Record<string, unknown> {
  return { key: layoutKey(l), dtype: l.dtype, nLayers: l.nLayers, nKvHeads: l.nKvHeads, headDim: l.headDim, blockTokens: KV_BLOCK_TOKENS };
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Restores into the empty sequence `seq` the longest prefix of `history`'s full blocks that the store holds for
 * this model and layout; the caller then runs the rest of the history (and the new prompt) as usual.
 */
export async function resumeFromStore(engine: Engine, seq: number, modelFingerprint: string, history: readonly number[], store: KvBlockStoreLike): Promise<ResumeResult> {
  const started = now();
  if (history.length === 0) return { source: 'none', reusedTokens: 0, rejectedBlocks: 0, ms: 0 };
  const hashes = blockHashChain(modelFingerprint, history);
  const found = hashes.length > 0 ? await store.getBlocks(hashes) : new Map<string, StoredKvBlock>();
  const key = layoutKey(engine.pool.layout);
  const usable: Uint8Array[] = [];
  let rejected = 0;
  for (const h of hashes) {
    const b = found.get(h);
    if (!b) break;
    if (b.modelFingerprint !== modelFingerprint || b.layout.key !== key || blockChecksum(b.bytes) !== b.checksum) {
      rejected++;
      break;
    }
    usable.push(b.bytes);
  }
  if (usable.length > 0) engine.restoreBlocks(seq, history, usable);
  const reused = usable.length * KV_BLOCK_TOKENS;
  return { source: reused > 0 ? 'disk' : 'recompute', reusedTokens: reused, rejectedBlocks: rejected, ms: now() - started };
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
