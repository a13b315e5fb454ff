// KV block names: SHA-256 (checked against node:crypto) chained over the model fingerprint and layout, the parent
// name and the block's token ids; a conversation's tail block is named by the conversation and its history.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blockChainRoot, blockHashChain, hashBlock, tailBlockName } from '../../src/gpu/kv/hash';

const tokens = Array.from({ length: 50 }, (_, i) => (i * 7919) % 32000);

describe('KV block names', () => {
  it('are SHA-256 of the parent name, the token count and the token ids (u32 little endian)', () => {
    const msg = Buffer.alloc(3 + 4 + 4 * 16);
    msg.write('abc', 0, 'utf8');
    msg.writeUInt32LE(16, 3);
    for (let i = 0; i < 16; i++) msg.writeUInt32LE(tokens[i]!, 7 + 4 * i);
    expect(hashBlock('abc', tokens, 0, 16)).toBe(createHash('sha256').update(msg).digest('hex'));
    expect(blockChainRoot('fp', 'f16:30x3x64x16')).toBe(createHash('sha256').update('kvchat-kv-block-v2\0fp\0f16:30x3x64x16').digest('hex'));
  });

  it('chain over the model and the layout: any difference changes every name', () => {
    const root = blockChainRoot('model-a', 'f16:2x1x8x16');
    const chain = blockHashChain(root, tokens);
    expect(chain).toHaveLength(3);
    for (const h of chain) expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(chain).size).toBe(3);
    const otherModel = blockHashChain(blockChainRoot('model-b', 'f16:2x1x8x16'), tokens);
    const otherLayout = blockHashChain(blockChainRoot('model-a', 'q8_0:2x1x8x16'), tokens);
    for (let b = 0; b < 3; b++) {
      expect(otherModel[b]).not.toBe(chain[b]);
      expect(otherLayout[b]).not.toBe(chain[b]);
    }
    const changed = [...tokens];
    changed[3] = 1;
    expect(blockHashChain(root, changed).every((h, b) => h !== chain[b])).toBe(true); // block 0 differs, so all do
    expect(blockHashChain(root, tokens, chain.slice(0, 1))).toEqual(chain); // extended, not recomputed
    expect(blockHashChain(root, tokens, [], 2)).toEqual(chain.slice(0, 2));
  });

  it('of a tail block depend on the conversation and its whole history, never equal to a full block\'s', () => {
    const root = blockChainRoot('model-a', 'f16:2x1x8x16');
    const tail = tailBlockName(root, 7, tokens, 40);
    expect(tail).toMatch(/^[0-9a-f]{64}$/);
    expect(tailBlockName(root, 7, tokens.slice(0, 40), 40)).toBe(tail); // pending tokens past `computed` do not count
    expect(tailBlockName(root, 8, tokens, 40)).not.toBe(tail);
    expect(tailBlockName(root, 7, tokens, 41)).not.toBe(tail);
    const earlier = [...tokens];
    earlier[0] = 5;
    expect(tailBlockName(root, 7, earlier, 40)).not.toBe(tail);
    expect(blockHashChain(root, tokens)).not.toContain(tail);
  });
});
