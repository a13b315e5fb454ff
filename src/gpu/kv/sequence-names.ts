// The names of each sequence's committed full blocks, for the KV cache (cache.ts): their content names (the hash
// chain, hash.ts), and the names they are kept under in every tier: the content name, or, for a sequence holding
// K/V this machine did not compute, a name private to the sequence's conversation (private-blocks.ts). Once a
// sequence holds a private block, every block it fills from there on is private too: its K/V was computed over
// K/V nobody here checked.
import { blockHashChain } from './hash';
import { KV_BLOCK_TOKENS } from './layout';
import { privateBlockName } from './private-blocks';

/** The conversation a sequence belongs to, and its first block from which its K/V is private. */
interface SequenceOwner {
  readonly conversationId: number;
  /** Index of the first private block; Infinity while none is. */
  privateFrom: number;
}

export class SequenceNames {
  private readonly chains = new Map<number, string[]>();
  private readonly kept = new Map<number, string[]>();
  private readonly owners = new Map<number, SequenceOwner>();

  add(seq: number): void {
    this.chains.set(seq, []);
    this.kept.set(seq, []);
  }

  fork(parent: number, child: number): void {
    this.chains.set(child, [...this.chain(parent)]);
    this.kept.set(child, [...this.keptNames(parent)]);
    const owner = this.owners.get(parent);
    if (owner) this.owners.set(child, { ...owner });
  }

  remove(seq: number): void {
    this.chains.delete(seq);
    this.kept.delete(seq);
    this.owners.delete(seq);
  }

  /** Content names of the sequence's committed full blocks, in order. */
  chain(seq: number): readonly string[] {
    return this.chains.get(seq) ?? [];
  }

  /** The names those blocks are kept under: each one's content name, or its conversation's private name. */
  keptNames(seq: number): readonly string[] {
    return this.kept.get(seq) ?? [];
  }

  own(seq: number, conversationId: number): void {
    const owner = this.owners.get(seq);
    if (owner && owner.conversationId !== conversationId) throw new Error(`sequence ${seq} belongs to conversation ${owner.conversationId}, not ${conversationId}`);
    if (!owner) this.owners.set(seq, { conversationId, privateFrom: Infinity });
  }

  ownerOf(seq: number): number | undefined {
    return this.owners.get(seq)?.conversationId;
  }

  markPrivate(seq: number, index: number): void {
    const owner = this.owners.get(seq);
    if (!owner) throw new Error(`sequence ${seq} belongs to no conversation; own it before restoring private K/V`);
    owner.privateFrom = Math.min(owner.privateFrom, index);
  }

  privateFrom(seq: number): number {
    return this.owners.get(seq)?.privateFrom ?? Infinity;
  }

  /** Block names private to `seq`'s conversation (by content name); undefined for a sequence no conversation owns. */
  privateNamer(seq: number): ((contentName: string) => string) | undefined {
    const owner = this.owners.get(seq);
    return owner && ((h: string) => privateBlockName(owner.conversationId, h));
  }

  /** Keeps the names of the first `blocks` blocks only (those past them are rewritten or gone). */
  cut(seq: number, blocks: number): void {
    const chain = this.chains.get(seq)!;
    chain.length = Math.min(chain.length, blocks);
    const kept = this.kept.get(seq)!;
    kept.length = Math.min(kept.length, blocks);
  }

  /** The sequence now holds positions [0, tokens) only: with no private K/V left, what it computes is its own again. */
  truncate(seq: number, tokens: number): void {
    this.cut(seq, Math.floor(tokens / KV_BLOCK_TOKENS));
    const owner = this.owners.get(seq);
    if (owner && tokens <= owner.privateFrom * KV_BLOCK_TOKENS) owner.privateFrom = Infinity;
  }

  /** A prefix match gave the sequence blocks `hashes` (content names), kept under `names`. */
  matched(seq: number, hashes: readonly string[], names: readonly string[]): void {
    this.chains.set(seq, [...hashes]);
    this.kept.set(seq, [...names]);
    const first = names.findIndex((name, i) => name !== hashes[i]);
    if (first >= 0) this.markPrivate(seq, first);
  }

  /**
   * Names the full blocks `tokens` (the sequence's computed tokens) newly fill, chained on `root`; returns each new
   * block's index and the name it is kept under (private at or past the sequence's first private block).
   */
  commit(seq: number, root: string, tokens: readonly number[]): { index: number; name: string }[] {
    const chain = this.chains.get(seq)!;
    const kept = this.kept.get(seq)!;
    const owner = this.owners.get(seq);
    const hashes = blockHashChain(root, tokens, chain);
    const added: { index: number; name: string }[] = [];
    for (let b = chain.length; b < hashes.length; b++) {
      const name = owner && b >= owner.privateFrom ? privateBlockName(owner.conversationId, hashes[b]!) : hashes[b]!;
      chain.push(hashes[b]!);
      kept.push(name);
      added.push({ index: b, name });
    }
    return added;
  }
}
