// A resume names the conversation's tail block from the chain its prefix match computed (resume.ts
// conversationTailName) instead of hashing the whole history again: the name must be tailBlockName's, always.
import { describe, expect, it } from 'vitest';
import { conversationTailName } from '../../src/gpu/engine/resume';
import { blockChainRoot, blockHashChain, tailBlockName } from '../../src/gpu/kv/hash';

const root = blockChainRoot('model-a', 'f16:2x1x4x16');
const history = Array.from({ length: 200 }, (_, i) => (i * 7919) % 32000);

describe('conversationTailName', () => {
  it.each([1, 5, 15, 17, 31, 33, 100, 127, 199])('is tailBlockName for a tail ending at %i', (computed) => {
    const chain = blockHashChain(root, history.slice(0, computed));
    expect(conversationTailName(root, chain, 42, history, computed)).toBe(tailBlockName(root, 42, history, computed));
    // A longer chain (the match may name more blocks than the tail's) gives the same name.
    expect(conversationTailName(root, blockHashChain(root, history), 42, history, computed)).toBe(tailBlockName(root, 42, history, computed));
  });

  it('differs by conversation and by history, and refuses a chain too short to name the parent', () => {
    const chain = blockHashChain(root, history);
    expect(conversationTailName(root, chain, 1, history, 40)).not.toBe(conversationTailName(root, chain, 2, history, 40));
    const other = [...history];
    other[3] = 1;
    expect(conversationTailName(root, blockHashChain(root, other), 1, other, 40)).not.toBe(conversationTailName(root, chain, 1, history, 40));
    expect(() => conversationTailName(root, chain.slice(0, 1), 1, history, 40)).toThrow(/needs their names/);
  });
});
