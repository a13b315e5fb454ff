// Names of full KV blocks: SHA-256 chained over (model fingerprint, KV layout) at the root, then over each block's
// parent name and its token ids, so equal prefixes of the same model and layout get equal names and any difference
// changes every later name. A weak name would let a prefix cache serve another conversation's K/V (vLLM's
// CVE-2025-25183); SHA-256 makes a collision infeasible. @noble/hashes is synchronous and pure JavaScript, the same
// in the renderer's worker and in Node, so the engine's hashing path (commit, prefix match) stays synchronous and
// needs no WebAssembly (which the renderer's content security policy does not allow).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { KV_BLOCK_TOKENS } from './layout';

/** Bumped when the naming scheme changes: names of another scheme never match, so old blocks are recomputed. */
const SCHEME = 'kvchat-kv-block-v2';

/** The root every chain of this model and layout starts from (a 64-hex-digit name, parent of block 0). */
export function blockChainRoot(modelFingerprint: string, layoutKey: string): string {
  return bytesToHex(sha256(utf8ToBytes(`${SCHEME}\0${modelFingerprint}\0${layoutKey}`)));
}

/**
 * SHA-256 of the parent name (its UTF-8 bytes) and tokens [start, end) as u32 little endian, as 64 hex digits.
 * Shape of the hashed message: (parent.length + 4 + 4 * (end - start)) bytes; the count keeps runs unambiguous.
 */
export function hashBlock(parent: string, tokens: ArrayLike<number>, start: number, end: number): string {
  const head = utf8ToBytes(parent);
  const msg = new Uint8Array(head.length + 4 + 4 * (end - start));
  const view = new DataView(msg.buffer);
  msg.set(head, 0);
  view.setUint32(head.length, end - start, true);
  for (let i = start; i < end; i++) view.setUint32(head.length + 4 + 4 * (i - start), tokens[i]! >>> 0, true);
  return bytesToHex(sha256(msg));
}

/**
 * One name per full block of `tokens` (at most `maxBlocks`), each chained on the one before and on `root`
 * (blockChainRoot of the model and layout); `known`, the names of the leading blocks already computed, is extended
 * rather than recomputed.
 */
export function blockHashChain(root: string, tokens: ArrayLike<number>, known: readonly string[] = [], maxBlocks = Infinity): string[] {
  const hashes = [...known];
  const blocks = Math.min(maxBlocks, Math.floor(tokens.length / KV_BLOCK_TOKENS));
  for (let b = hashes.length; b < blocks; b++) {
    hashes.push(hashBlock(b === 0 ? root : hashes[b - 1]!, tokens, b * KV_BLOCK_TOKENS, (b + 1) * KV_BLOCK_TOKENS));
  }
  return hashes;
}

/**
 * The name of a conversation's partial tail block: not content-addressed (no other conversation may share it), but
 * bound to the conversation and its whole token history, so a tail saved for another history is never found.
 */
export function tailBlockName(root: string, conversationId: number, tokens: ArrayLike<number>, computed: number): string {
  const full = Math.floor(computed / KV_BLOCK_TOKENS);
  const parent = full === 0 ? root : blockHashChain(root, tokens, [], full)[full - 1]!;
  return hashBlock(`${parent}\0tail of conversation ${conversationId}`, tokens, full * KV_BLOCK_TOKENS, computed);
}
