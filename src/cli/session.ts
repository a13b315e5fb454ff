// `generate --session DB --conversation NAME`: a conversation kept in the app's SQLite store. Its exact token
// history and KV blocks are saved after each run; the next run (a new process) restores the blocks instead of
// recomputing the history, and records where the KV came from.
import { stat } from 'node:fs/promises';
import type { Engine } from '../gpu/engine/engine';
import { persistSequence, resumeFromStore, type ResumeResult } from '../gpu/engine/resume';
import { fingerprintFile } from '../node/fingerprint';
import { ConversationRepository } from '../store/conversations';
import { openDatabase, type Db } from '../store/database';
import { KvBlockStore } from '../store/kv-store';
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
    readonly modelFingerprint: string,
  ) {
    this.conversations = new ConversationRepository(db);
    this.messages = new MessageRepository(db);
    this.kv = new KvBlockStore(db);
  }

  static async open(dbPath: string, modelPath: string): Promise<CliSession> {
    const { size } = await stat(modelPath);
    const fingerprint = await fingerprintFile(modelPath, size);
    return new CliSession(openDatabase(dbPath), fingerprint);
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

  resume(engine: Engine, seq: number, c: StoredConversation): Promise<ResumeResult> {
    return resumeFromStore(engine, seq, this.modelFingerprint, c.history, this.kv);
  }

  /** Saves the exchange: the two messages, the token history, the KV blocks and the block table. */
  async save(engine: Engine, seq: number, c: StoredConversation, prompt: string, answer: string, stats: Record<string, number | string>): Promise<void> {
    const leaf = this.messages.activeLeaf(c.id);
    const user = this.messages.appendMessage({ conversationId: c.id, parentId: leaf, role: 'user', content: prompt });
    this.messages.appendMessage({ conversationId: c.id, parentId: user, role: 'assistant', content: answer, stats });
    const { hashes } = await persistSequence(engine, seq, this.modelFingerprint, this.kv);
    const { computed, pending } = engine.sequenceTokens(seq);
    this.kv.saveConversationKv(c.id, { modelFingerprint: this.modelFingerprint, tokens: [...computed, ...pending], computed: computed.length, blockHashes: hashes });
  }

  close(): void {
    this.db.close();
  }
}
