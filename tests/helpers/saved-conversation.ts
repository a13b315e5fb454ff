// A conversation's K/V saved as the app saves it: every full block of the sequence persisted, then its token history
// and block table, checked to hold every full block.
import { expect } from 'vitest';
import type { Engine } from '../../src/gpu/engine/engine';
import { persistSequence } from '../../src/gpu/engine/resume';
import type { GgufFile } from '../../src/gpu/gguf/reader';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import type { KvBlockStore } from '../../src/store/kv-store';

/** Saves `seq` as `conversation`'s KV in `store`; returns the block names of its table. */
export async function saveConversationKv(engine: Engine, seq: number, fingerprint: string, store: KvBlockStore, conversation: number): Promise<string[]> {
  const { hashes, written } = await persistSequence(engine, seq, fingerprint, store);
  expect(written).toBe(hashes.length);
  const { computed, pending } = engine.sequenceTokens(seq);
  expect(hashes.length).toBe(Math.floor(computed.length / 16));
  store.setConversationTokens(conversation, fingerprint, [...computed, ...pending], computed.length);
  store.setConversationBlocks(conversation, hashes);
  return hashes;
}

/** The story conversation the resume tests save and continue: a first turn of several blocks, then a second. */
export function storyTurns(file: GgufFile): { first: number[]; second: number[] } {
  const tok = tokenizerFromGguf(file.metadata);
  return {
    first: tok.encode('Once upon a time, there was a little dog named Max who loved to run in the park.'),
    second: tok.encode(' One day, Max saw a big red ball', { addBos: false }),
  };
}
