// Content names of full KV blocks: a hash chained over (model fingerprint, previous block's hash, the block's
// token ids), so equal prefixes of the same model get equal names and any difference changes every later name.
import { KV_BLOCK_TOKENS } from './layout';

/** 128-bit hash (four 32-bit multiply-xorshift lanes) of a string and a run of token ids, as 32 hex digits. */
export function hashBlock(prefix: string, tokens: ArrayLike<number>, start: number, end: number): string {
  const lanes = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f];
  const mix = (x: number): void => {
    for (let k = 0; k < 4; k++) {
      let h = Math.imul(lanes[k]! ^ x, 0x01000193 + 2 * k + 1);
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d);
      lanes[k] = h ^ (h >>> 12);
    }
  };
  for (let i = 0; i < prefix.length; i++) mix(prefix.charCodeAt(i));
  mix(0xffffffff);
  for (let i = start; i < end; i++) mix(tokens[i]! >>> 0);
  mix(end - start);
  return lanes.map((h) => (h >>> 0).toString(16).padStart(8, '0')).join('');
}

/**
 * One hash per full block of `tokens` (at most `maxBlocks`), each chained on the one before and on the model
 * fingerprint; `known`, the hashes of the leading blocks already computed, is extended rather than recomputed.
 */
export function blockHashChain(modelFingerprint: string, tokens: ArrayLike<number>, known: readonly string[] = [], maxBlocks = Infinity): string[] {
  const hashes = [...known];
  const blocks = Math.min(maxBlocks, Math.floor(tokens.length / KV_BLOCK_TOKENS));
  for (let b = hashes.length; b < blocks; b++) {
    hashes.push(hashBlock(b === 0 ? `model:${modelFingerprint}` : hashes[b - 1]!, tokens, b * KV_BLOCK_TOKENS, (b + 1) * KV_BLOCK_TOKENS));
  }
  return hashes;
}
