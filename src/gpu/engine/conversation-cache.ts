// The engine's conversations: one engine sequence per open conversation, restored from the KV tiers (GPU pool,
// RAM, the store) when first opened, continued turn by turn, persisted after each answer (block bytes, then the
// token history and block table together), restarted from the longest shared prefix when the thread branched
// (regenerate, an edited message), and released least-recently-used first when the engine runs short of blocks
// (their KV is already stored). The app's worker and the CLI's --session run conversations through this class.
import { KV_BLOCK_TOKENS } from '../kv/layout';
import type { Engine, GenerateOptions, GenerateResult } from './engine';
import { persistSequence, resumeFromStore, type KvBlockStoreLike, type ResumeSource } from './resume';

/** A conversation's saved KV, saved together so a history is never paired with another history's blocks. */
export interface SavedConversationKv {
  readonly modelFingerprint: string;
  /** The exact token history, the last sampled token included. */
  readonly tokens: readonly number[];
  /** How many leading tokens had K/V computed (the rest were pending). */
  readonly computed: number;
  /** The block table: `blockHashes[i]` names logical block i; every hash is already stored. */
  readonly blockHashes: readonly string[];
  /**
   * The version of the saved history this one continues (0: never saved). The store refuses the save when another
   * writer (a second process on the same file) saved since, so the two turns never interleave.
   */
  readonly baseVersion?: number;
}

type MaybePromise<T> = T | Promise<T>;

/** The store side of conversations: the SQLite store itself (src/store's KvBlockStore), or the worker's IPC proxy. */
export interface ConversationKvStore extends KvBlockStoreLike {
  /** The conversation's saved history; undefined when it never ran through an engine. */
  conversationTokens(
    conversationId: number,
  ): MaybePromise<
    { readonly modelFingerprint: string; readonly tokens: readonly number[]; readonly computed?: number; readonly version?: number } | undefined
  >;
  /** Returns the history's new version, where the store keeps versions. */
  saveConversationKv(conversationId: number, kv: SavedConversationKv): MaybePromise<number | void>;
}

/** Where a prompt's K/V came from before the model ran the rest. */
export interface ConversationResume {
  /** The slowest tier used (gpu, ram, disk), else recompute; none if there was nothing to restore. */
  readonly source: ResumeSource;
  /** Leading tokens whose K/V came back without recomputation. */
  readonly reusedTokens: number;
  readonly ms: number;
  /** Tokens of the conversation's stored history (what the context holds once the rest is recomputed). */
  readonly historyTokens: number;
}

export interface ConversationAnswer {
  readonly result: GenerateResult;
  /** Where this prompt's K/V came from: a restore, the sequence itself (gpu), a branch's resume, or the engine's prefix cache. */
  readonly resume: ConversationResume;
  /** Prompt tokens not run through the model for this answer. */
  readonly reusedPromptTokens: number;
  /** Why the KV could not be persisted (the answer stands; a later resume recomputes what is missing). */
  readonly persistError?: unknown;
}

export interface ConversationCacheOptions {
  /** A conversation was restored into a new sequence (opened for the first time since the engine loaded). */
  readonly onRestored?: (conversationId: number, resume: ConversationResume) => void;
}

interface OpenConversation {
  seq: number;
  /** The exact token history last saved (may run past what the sequence holds after a partial resume). */
  history: number[];
  /** The saved history's version (0: never saved); undefined where the store keeps none (no check). */
  version: number | undefined;
  /** How the sequence was restored, reported with the first answer after it. */
  restored: ConversationResume | null;
  /** Tick of the last use: the smallest is the least recently used. */
  lastUsed: number;
  busy: boolean;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());
const startsWith = (a: readonly number[], prefix: readonly number[]): boolean => prefix.length <= a.length && prefix.every((t, i) => a[i] === t);
const blocksFor = (tokens: number): number => Math.ceil(tokens / KV_BLOCK_TOKENS);

export class ConversationCache {
  private readonly open = new Map<number, OpenConversation>();
  /** Restores in flight: a second caller (open, then a quick send) waits for the first. */
  private readonly restoring = new Map<number, Promise<OpenConversation>>();
  private tick = 0;

  constructor(
    private readonly engine: Engine,
    private readonly store: ConversationKvStore,
    private readonly opts: ConversationCacheOptions = {},
  ) {}

  /** Blocks are named by the engine's model fingerprint; a history saved under another is not this model's. */
  get modelFingerprint(): string {
    return this.engine.kv.modelFingerprint;
  }

  /** Opens the conversation: restores its sequence from the tiers the first time since the engine loaded. */
  async openConversation(conversationId: number): Promise<void> {
    await this.conversation(conversationId);
  }

  /** The conversation's exact token history (empty when it is not open or never ran). */
  history(conversationId: number): readonly number[] {
    return this.open.get(conversationId)?.history ?? [];
  }

  /** Conversations with a sequence in the engine, least recently used first. */
  openConversations(): number[] {
    return [...this.open.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed).map(([id]) => id);
  }

  /**
   * Runs `prompt` (the whole thread's tokens) in the conversation and persists the result. Whatever the sequence
   * already holds of the prompt is kept; a prompt that no longer starts with it (a branch) restarts from the
   * longest prefix any tier holds. Idle conversations are released first if the engine lacks the blocks.
   */
  async generate(conversationId: number, prompt: readonly number[], opts: GenerateOptions): Promise<ConversationAnswer> {
    const c = await this.conversation(conversationId);
    if (c.busy) throw new Error('this conversation is already generating');
    c.busy = true;
    c.lastUsed = ++this.tick;
    try {
      this.releaseIdle(blocksFor(prompt.length + opts.maxNewTokens), conversationId);
      const { feed, resume } = await this.placePrompt(conversationId, c, prompt);
      const result = await this.engine.generate(c.seq, feed, opts);
      const kv = withPrefixMatch(resume, result.prefix);
      const reusedPromptTokens = prompt.length - feed.length + (kv.reusedTokens - resume.reusedTokens);
      const persistError = await this.persist(conversationId, c).then(
        () => undefined,
        (e: unknown) => e ?? new Error('persist failed'),
      );
      // Another writer saved this conversation meanwhile: this sequence holds a history the store no longer has, so
      // the next turn restores the other writer's instead of continuing this one.
      if ((persistError as { code?: unknown } | undefined)?.code === 'kv-conversation-changed') this.drop(conversationId, c);
      return { result, resume: kv, reusedPromptTokens, ...(persistError !== undefined ? { persistError } : {}) };
    } finally {
      c.busy = false;
    }
  }

  /**
   * Releases idle conversations' sequences, least recently used first, until the engine has `blocks` free blocks
   * (their KV is already stored; the GPU keeps their full blocks cached until the pool needs them). Never `keep`.
   */
  releaseIdle(blocks: number, keep?: number): void {
    for (const id of this.openConversations()) {
      if (this.engine.freeKvBlocks >= blocks) return;
      const c = this.open.get(id)!;
      if (id === keep || c.busy) continue;
      this.engine.releaseSequence(c.seq);
      this.open.delete(id);
    }
  }

  private drop(conversationId: number, c: OpenConversation): void {
    this.engine.releaseSequence(c.seq);
    this.open.delete(conversationId);
  }

  /** Releases the conversation's sequence now (it was deleted); false while it is generating. */
  forget(conversationId: number): boolean {
    const c = this.open.get(conversationId);
    if (!c || c.busy) return false;
    this.engine.releaseSequence(c.seq);
    this.open.delete(conversationId);
    return true;
  }

  private conversation(conversationId: number): Promise<OpenConversation> {
    const known = this.open.get(conversationId);
    if (known) return Promise.resolve(known);
    let pending = this.restoring.get(conversationId);
    if (!pending) {
      pending = this.restore(conversationId).finally(() => this.restoring.delete(conversationId));
      this.restoring.set(conversationId, pending);
    }
    return pending;
  }

  private async restore(conversationId: number): Promise<OpenConversation> {
    const started = now();
    const saved = await this.store.conversationTokens(conversationId);
    const history = saved && saved.modelFingerprint === this.modelFingerprint ? [...saved.tokens] : [];
    this.releaseIdle(blocksFor(history.length), conversationId);
    const seq = this.engine.createSequence();
    // The conversation's own partial last block too: the last saved token was pending, the ones before computed.
    const tail = { conversationId, computed: saved?.computed ?? history.length - 1 };
    const r = await resumeFromStore(this.engine, seq, this.modelFingerprint, history, this.store, tail);
    const restored: ConversationResume = { source: r.source, reusedTokens: r.reusedTokens, ms: now() - started, historyTokens: history.length };
    const version = saved ? saved.version : 0;
    const c: OpenConversation = { seq, history, version, restored, lastUsed: ++this.tick, busy: false };
    this.open.set(conversationId, c);
    this.opts.onRestored?.(conversationId, restored);
    return c;
  }

  /** Makes the sequence hold a prefix of `prompt`; returns the tokens still to run and how the KV got there. */
  private async placePrompt(conversationId: number, c: OpenConversation, prompt: readonly number[]): Promise<{ feed: number[]; resume: ConversationResume }> {
    const { computed, pending } = this.engine.sequenceTokens(c.seq);
    const current = [...computed, ...pending];
    if (current.length < prompt.length && startsWith(prompt, current)) {
      const resume = c.restored ?? { source: 'gpu', ms: 0, reusedTokens: computed.length, historyTokens: c.history.length };
      c.restored = null;
      return { feed: prompt.slice(current.length), resume };
    }
    // A branch (regenerate, edit) or a shorter history: a new sequence from the longest prefix any tier holds (the
    // old sequence's full blocks stay cached on the GPU once released). At least the last token is left to run.
    const started = now();
    this.engine.releaseSequence(c.seq);
    c.seq = this.engine.createSequence();
    // The conversation's own sequence: an imported chat's private blocks (kv/private-blocks.ts) serve its branches too.
    this.engine.kv.ownSequence(c.seq, conversationId);
    c.restored = null;
    const r = await resumeFromStore(this.engine, c.seq, this.modelFingerprint, prompt.slice(0, -1), this.store);
    return { feed: prompt.slice(r.reusedTokens), resume: { source: r.source, reusedTokens: r.reusedTokens, ms: now() - started, historyTokens: c.history.length } };
  }

  /** The sequence's full blocks and its own tail block to the store, then its token history and block table together. */
  private async persist(conversationId: number, c: OpenConversation): Promise<void> {
    const { computed, pending } = this.engine.sequenceTokens(c.seq);
    c.history = [...computed, ...pending];
    const { hashes } = await persistSequence(this.engine, c.seq, this.modelFingerprint, this.store, { conversationId });
    const saved = await this.store.saveConversationKv(conversationId, {
      modelFingerprint: this.modelFingerprint,
      tokens: c.history,
      computed: computed.length,
      blockHashes: hashes,
      ...(c.version !== undefined ? { baseVersion: c.version } : {}),
    });
    c.version = typeof saved === 'number' ? saved : undefined;
  }
}

/**
 * A new sequence may also find its prefix in the engine's own cache tiers (another conversation with the same
 * system prompt, blocks spilled to RAM or the store): when that reached further than the restore, that is where
 * its KV came from.
 */
function withPrefixMatch(resume: ConversationResume, prefix: GenerateResult['prefix']): ConversationResume {
  if (!prefix || prefix.tokens <= resume.reusedTokens) return resume;
  return { ...resume, source: prefix.source, ms: resume.ms + prefix.ms, reusedTokens: prefix.tokens };
}
