// Conversations answered by a remote OpenAI-compatible server. The history lives in our SQLite store like any
// other conversation: the question is saved before the request, the answer is appended as 'incomplete' when it
// starts, saved while it streams (at growing intervals: each save rewrites and re-indexes the whole text, so a
// long answer must not be saved every second), and ends 'complete' (or stays 'incomplete' when stopped or cut
// off, with the part received kept, ready for `continue` or `regenerate`). A reasoning model's thinking is kept
// apart from the answer, as the local engine's is (the message's reasoning; the client splits it). The API key is read from the
// encrypted column only for the request, in this process; nothing here returns it.
import type { Conversation, Message, MessageStats } from '../../shared/api';
import type { ConversationRepository } from '../../store/conversations';
import type { Db } from '../../store/database';
import type { MessageRepository } from '../../store/messages';
import type { SecretCipher } from './cipher';
import { OpenAiRemoteClient, type RemoteChatMessage, type RemoteChatResult, type RemoteEndpoint, type RemoteModel } from './client';
import { RemoteError } from './errors';
import { ProviderRepository, type NewRemoteProvider, type RemoteProvider, type RemoteProviderChanges } from './providers';

export interface RemoteServiceDeps {
  readonly db: Db;
  readonly conversations: ConversationRepository;
  readonly messages: MessageRepository;
  readonly cipher: SecretCipher;
  readonly client?: OpenAiRemoteClient;
  /**
   * When a streaming answer's text is first written to SQLite, in ms after its start (default 1000, as the local
   * engine does); each later save waits twice as long as the one before, up to `maxSaveIntervalMs`.
   */
  readonly saveIntervalMs?: number;
  /** The longest wait between two saves of a streaming answer, in ms (default 30 000): what a crash can lose. */
  readonly maxSaveIntervalMs?: number;
}

/** Which remote model a conversation talks to. */
export interface RemoteLink {
  readonly conversationId: number;
  readonly providerId: number;
  readonly model: string;
}

export interface NewRemoteConversation {
  readonly providerId: number;
  readonly model: string;
  readonly title?: string;
  readonly systemPrompt?: string;
}

export interface ReplyOptions {
  /** Each piece of text as it arrives, with the id of the assistant message it belongs to. */
  readonly onDelta?: (messageId: number, text: string) => void;
  /** Each piece of the model's reasoning as it arrives, likewise. */
  readonly onReasoning?: (messageId: number, text: string) => void;
  /** Stop: the answer so far is saved as 'incomplete' and returned (not an error). */
  readonly signal?: AbortSignal;
}

/** An answer's text and reasoning received so far ('' both for a new one). */
interface AnswerSoFar {
  readonly text: string;
  readonly reasoning: string;
}

const DEFAULT_SAVE_INTERVAL_MS = 1000;
const DEFAULT_MAX_SAVE_INTERVAL_MS = 30_000;

export class RemoteService {
  readonly providers: ProviderRepository;
  private readonly client: OpenAiRemoteClient;
  private readonly saveIntervalMs: number;
  private readonly maxSaveIntervalMs: number;
  /** Conversations with an answer streaming: a second one at the same time is refused, not interleaved. */
  private readonly streaming = new Set<number>();

  constructor(private readonly deps: RemoteServiceDeps) {
    this.providers = new ProviderRepository(deps.db, deps.cipher);
    this.client = deps.client ?? new OpenAiRemoteClient();
    this.saveIntervalMs = deps.saveIntervalMs ?? DEFAULT_SAVE_INTERVAL_MS;
    this.maxSaveIntervalMs = Math.max(this.saveIntervalMs, deps.maxSaveIntervalMs ?? DEFAULT_MAX_SAVE_INTERVAL_MS);
  }

  // ---- providers ----

  addProvider(p: NewRemoteProvider): RemoteProvider {
    return this.providers.addProvider(p);
  }

  updateProvider(id: number, changes: RemoteProviderChanges): RemoteProvider {
    return this.providers.updateProvider(id, changes);
  }

  removeProvider(id: number): void {
    this.providers.removeProvider(id);
  }

  listProviders(): RemoteProvider[] {
    return this.providers.listProviders();
  }

  /** The provider's models, from its GET /v1/models. */
  listModels(providerId: number, signal?: AbortSignal): Promise<RemoteModel[]> {
    return this.client.listModels(this.endpoint(providerId), signal);
  }

  // ---- conversations ----

  createConversation(c: NewRemoteConversation): Conversation {
    this.providers.getProvider(c.providerId);
    const conversation = this.deps.conversations.createConversation({
      modelId: null,
      ...(c.title !== undefined ? { title: c.title } : {}),
      ...(c.systemPrompt !== undefined ? { systemPrompt: c.systemPrompt } : {}),
    });
    this.setConversationRemote(conversation.id, c.providerId, c.model);
    return conversation;
  }

  /** Points a conversation (new or existing) at a remote model; its history is kept and sent along. */
  setConversationRemote(conversationId: number, providerId: number, model: string): RemoteLink {
    this.deps.conversations.getConversation(conversationId);
    this.providers.getProvider(providerId);
    const name = model.trim();
    if (name === '') throw new RemoteError('invalid-provider', 'Choose a model of the remote server');
    this.deps.db
      .prepare(
        `INSERT INTO conversation_remote (conversation_id, provider_id, model) VALUES (?, ?, ?)
         ON CONFLICT(conversation_id) DO UPDATE SET provider_id = excluded.provider_id, model = excluded.model`,
      )
      .run(conversationId, providerId, name);
    return { conversationId, providerId, model: name };
  }

  /** Makes the conversation local again (it keeps its messages). */
  clearConversationRemote(conversationId: number): void {
    this.deps.db.prepare('DELETE FROM conversation_remote WHERE conversation_id = ?').run(conversationId);
  }

  conversationRemote(conversationId: number): RemoteLink | null {
    const row = this.deps.db.prepare('SELECT provider_id, model FROM conversation_remote WHERE conversation_id = ?').get(conversationId) as
      | { provider_id: number; model: string }
      | undefined;
    return row ? { conversationId, providerId: row.provider_id, model: row.model } : null;
  }

  // ---- answers ----

  /** Saves the user's message under the branch on screen, then streams the answer to it. */
  async send(conversationId: number, content: string, opts: ReplyOptions = {}): Promise<Message> {
    const link = this.requireLink(conversationId);
    if (content.trim() === '') throw new RemoteError('invalid-message', 'The message is empty');
    this.requireIdle(conversationId);
    const parentId = this.deps.messages.activeLeaf(conversationId);
    const userId = this.deps.messages.appendMessage({ conversationId, parentId, role: 'user', content });
    return this.answer(link, userId, opts);
  }

  /** A new answer to the same question, as a new branch (the old answer stays, one arrow away). */
  async regenerate(assistantMessageId: number, opts: ReplyOptions = {}): Promise<Message> {
    const old = this.requireAssistant(assistantMessageId);
    if (old.parentId === null) throw new RemoteError('invalid-message', `Message ${assistantMessageId} answers nothing`);
    return this.answer(this.requireLink(old.conversationId), old.parentId, opts);
  }

  /** Sends the history with the partial answer and appends what comes back to that same message. */
  async continue(assistantMessageId: number, opts: ReplyOptions = {}): Promise<Message> {
    const message = this.requireAssistant(assistantMessageId);
    const link = this.requireLink(message.conversationId);
    this.requireIdle(link.conversationId);
    if (this.deps.messages.childrenOf(link.conversationId, message.id).length > 0) {
      throw new RemoteError('invalid-message', `Message ${message.id} has replies after it; only the last answer of a branch can be continued`);
    }
    const history = this.history(link.conversationId, this.deps.messages.pathTo(message.id));
    this.deps.messages.selectBranch(link.conversationId, message.id); // the answer growing is the one on screen
    this.deps.messages.updateMessage(message.id, { status: 'incomplete' });
    return this.stream(link, message.id, { text: message.content, reasoning: message.reasoning }, history, opts);
  }

  /** Appends an empty 'incomplete' answer under `parentId` and streams into it. */
  private answer(link: RemoteLink, parentId: number, opts: ReplyOptions): Promise<Message> {
    this.requireIdle(link.conversationId);
    const history = this.history(link.conversationId, this.deps.messages.pathTo(parentId));
    const id = this.deps.messages.appendMessage({ conversationId: link.conversationId, parentId, role: 'assistant', content: '', status: 'incomplete' });
    return this.stream(link, id, { text: '', reasoning: '' }, history, opts);
  }

  private async stream(link: RemoteLink, messageId: number, before: AnswerSoFar, history: RemoteChatMessage[], opts: ReplyOptions): Promise<Message> {
    this.streaming.add(link.conversationId);
    try {
      return await this.streamInto(link, messageId, before, history, opts);
    } finally {
      this.streaming.delete(link.conversationId);
    }
  }

  private async streamInto(link: RemoteLink, messageId: number, before: AnswerSoFar, history: RemoteChatMessage[], opts: ReplyOptions): Promise<Message> {
    const settings = this.deps.conversations.getConversation(link.conversationId).settings;
    let text = before.text;
    // A partial answer cut off while thinking is sent without its reasoning (servers take none back): the server
    // thinks again from the start, so the new reasoning replaces the old one.
    let reasoning = before.text !== '' ? before.reasoning : '';
    let savedAt = performance.now();
    // Doubling waits (1, 2, 4 ... 30 s): a few saves for a short answer, one per 30 s for a long one, instead of
    // one a second, each rewriting (and re-indexing for search) all of the text so far.
    let interval = this.saveIntervalMs;
    // Saved before the piece is passed on, so whoever shows it can already find it in the store.
    const saveInTime = (): void => {
      if (performance.now() - savedAt < interval) return;
      savedAt = performance.now();
      interval = Math.min(interval * 2, this.maxSaveIntervalMs);
      this.deps.messages.updateMessage(messageId, { content: text, reasoning });
    };
    const onDelta = (delta: string): void => {
      text += delta;
      saveInTime();
      opts.onDelta?.(messageId, delta);
    };
    const onReasoning = (delta: string): void => {
      reasoning += delta;
      saveInTime();
      opts.onReasoning?.(messageId, delta);
    };
    let result: RemoteChatResult;
    try {
      const endpoint = this.endpoint(link.providerId);
      result = await this.client.streamChat(
        endpoint,
        {
          model: link.model,
          messages: history,
          temperature: settings.temperature,
          topP: settings.topP,
          maxTokens: settings.maxTokens,
          ...(settings.seed !== null ? { seed: settings.seed } : {}),
          ...(settings.reasoningEffort !== undefined ? { reasoningEffort: settings.reasoningEffort } : {}),
          ...(settings.thinking !== undefined ? { thinking: settings.thinking } : {}),
        },
        { onDelta, onReasoning, continuing: before.text !== '', ...(opts.signal ? { signal: opts.signal } : {}) },
      );
    } catch (e) {
      throw this.saveFailure(messageId, { text, reasoning }, e);
    }
    return this.deps.messages.updateMessage(messageId, {
      content: text,
      reasoning,
      status: result.aborted ? 'incomplete' : 'complete',
      tokenCount: result.completionTokens ?? null,
      stats: statsOf(result),
    });
  }

  /** Keeps what arrived ('incomplete'; 'error' when nothing did) and returns the error to throw, tagged with the message. */
  private saveFailure(messageId: number, { text, reasoning }: AnswerSoFar, e: unknown): unknown {
    const message = e instanceof Error ? e.message : String(e);
    this.deps.messages.updateMessage(messageId, {
      content: text,
      reasoning,
      status: text === '' && reasoning === '' ? 'error' : 'incomplete',
      stats: { stopReason: 'error', errorMessage: message },
    });
    if (e instanceof RemoteError) e.messageId = messageId;
    return e;
  }

  /** The messages sent: the conversation's system prompt, then the path, without empty or failed ones. */
  private history(conversationId: number, path: readonly Message[]): RemoteChatMessage[] {
    const { systemPrompt } = this.deps.conversations.getConversation(conversationId);
    const out: RemoteChatMessage[] = [];
    if (systemPrompt.trim() !== '' && path[0]?.role !== 'system') out.push({ role: 'system', content: systemPrompt });
    for (const m of path) if (m.content !== '' && m.status !== 'error') out.push({ role: m.role, content: m.content });
    return out;
  }

  private endpoint(providerId: number): RemoteEndpoint {
    const { baseUrl } = this.providers.getProvider(providerId);
    const apiKey = this.providers.apiKey(providerId);
    return apiKey === undefined ? { baseUrl } : { baseUrl, apiKey };
  }

  private requireLink(conversationId: number): RemoteLink {
    const link = this.conversationRemote(conversationId);
    if (!link) throw new RemoteError('not-remote', `Conversation ${conversationId} is not on a remote server (or its provider was removed)`);
    return link;
  }

  /** Whether an answer is streaming into the conversation now. */
  isStreaming(conversationId: number): boolean {
    return this.streaming.has(conversationId);
  }

  private requireIdle(conversationId: number): void {
    if (this.streaming.has(conversationId)) {
      throw new RemoteError('busy', `Conversation ${conversationId} is already receiving an answer; stop it first`);
    }
  }

  private requireAssistant(id: number): Message {
    const m = this.deps.messages.getMessage(id);
    if (m.role !== 'assistant') throw new RemoteError('invalid-message', `Message ${id} is not an answer`);
    return m;
  }
}

function statsOf(r: RemoteChatResult): MessageStats {
  const stopReason: MessageStats['stopReason'] = r.aborted ? 'cancelled' : r.finishReason === 'length' ? 'max-tokens' : 'eos';
  const decodeMs = r.timeToFirstTokenMs === undefined ? undefined : r.totalMs - r.timeToFirstTokenMs;
  const tps = r.completionTokens !== undefined && decodeMs !== undefined && decodeMs > 0 && r.completionTokens > 1
    ? (r.completionTokens - 1) / (decodeMs / 1000)
    : undefined;
  return {
    stopReason,
    ...(r.timeToFirstTokenMs !== undefined ? { timeToFirstTokenMs: r.timeToFirstTokenMs } : {}),
    ...(r.promptTokens !== undefined ? { promptTokens: r.promptTokens } : {}),
    ...(r.completionTokens !== undefined ? { generatedTokens: r.completionTokens } : {}),
    ...(tps !== undefined ? { tokensPerSecond: tps } : {}),
  };
}
