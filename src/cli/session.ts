// `generate --session DB --conversation NAME`: a conversation kept in the app's SQLite store. The engine's
// ConversationCache runs it: the next run (a new process) restores its KV blocks instead of recomputing the
// history, and the exact token history, blocks and block table are saved after each run. Here: the file, the
// conversation by name and its messages. The KV budget (--kv-budget, else the app's setting, else its default)
// is enforced after each save, as in the app.
import { ConversationCache, type ConversationCacheOptions } from '../gpu/engine/conversation-cache';
import type { Engine } from '../gpu/engine/engine';
import { fingerprintModelAt } from '../node/model-fingerprint';
import { ConversationRepository } from '../store/conversations';
import { openDatabase, type Db } from '../store/database';
import { kvBudgetFor } from '../store/kv-budget';
import { KvBlockStore } from '../store/kv-store';
import { ensureIncrementalVacuum } from '../store/vacuum';
import { MessageRepository } from '../store/messages';

export interface StoredConversation {
  readonly id: number;
  /** Tokens of earlier runs (the last sampled token included). */
  readonly history: number[];
}

export class CliSession {
  private readonly conversations: ConversationRepository;
  private readonly messages: MessageRepository;
  readonly kv: KvBlockStore;

  private constructor(
    private readonly db: Db,
    dbPath: string,
    readonly modelFingerprint: string,
    kvBudgetBytes: number | undefined,
  ) {
    this.conversations = new ConversationRepository(db);
    this.messages = new MessageRepository(db);
    this.kv = new KvBlockStore(db, { budget: kvBudgetFor(db, dbPath, kvBudgetBytes) });
  }

  /** `kvBudgetBytes` overrides the budget kept in the file (the app's setting) for this run. */
  static async open(dbPath: string, modelPath: string, opts: { readonly kvBudgetBytes?: number } = {}): Promise<CliSession> {
    // The app's name for the model (every part of a split model), so both find each other's KV blocks.
    const fingerprint = await fingerprintModelAt(modelPath);
    const db = openDatabase(dbPath);
    ensureIncrementalVacuum(db); // bounded, never throws: an older file shrinks from now on
    return new CliSession(db, dbPath, fingerprint, opts.kvBudgetBytes);
  }

  /** The KV block bytes the file holds now (every block once). */
  kvStoreBytes(): number {
    return this.kv.usage().bytes;
  }

  /** The conversation titled `name`, created if new. Refuses one kept with another model. */
  conversation(name: string): StoredConversation {
    const existing = this.conversations.listConversations().find((c) => c.title === name);
    const id = existing?.id ?? this.conversations.createConversation({ title: name }).id;
    const tokens = this.kv.conversationTokens(id);
    if (tokens && tokens.modelFingerprint !== this.modelFingerprint) {
      throw new Error(`conversation "${name}" was kept with another model file (fingerprint ${tokens.modelFingerprint.slice(0, 12)}…); use that model or a new conversation`);
    }
    return { id, history: tokens?.tokens ?? [] };
  }

  /** The engine's conversations, kept in this file (the store is the SQLite store itself). */
  conversationCache(engine: Engine, opts?: ConversationCacheOptions): ConversationCache {
    return new ConversationCache(engine, this.kv, opts);
  }

  /** Saves the exchange's two messages (the KV was saved by the ConversationCache). */
  /** `reasoning`: the answer's reasoning split from it (--chat), kept apart as the app keeps it. */
  saveMessages(c: StoredConversation, prompt: string, answer: string, stats: Record<string, number | string>, reasoning = ''): void {
    const leaf = this.messages.activeLeaf(c.id);
    const user = this.messages.appendMessage({ conversationId: c.id, parentId: leaf, role: 'user', content: prompt });
    this.messages.appendMessage({ conversationId: c.id, parentId: user, role: 'assistant', content: answer, reasoning, stats });
  }

  close(): void {
    this.db.close();
  }
}
