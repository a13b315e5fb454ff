// The typed contract between the renderer and main: one named method per operation, one channel each.
// The preload implements `KvChatApi` with ipcRenderer.invoke; main validates every payload (src/main/api-schemas.ts)
// and answers with an ApiResult. The renderer gets no file system access and no SQL: only these verbs.

export interface AppInfo {
  readonly name: string;
  readonly version: string;
  readonly platform: string;
  readonly electron: string;
  readonly chrome: string;
}

/** An error that crossed the IPC boundary: a stable code and a message a user can read. */
export interface ApiError {
  readonly code: string;
  readonly message: string;
}

export type ApiResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

// ---- Models ----

/** What the library learned from a model's GGUF header when it was imported. */
export interface ModelDetails {
  readonly displayName: string;
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly ffnDim: number;
  readonly vocabSize: number;
  readonly ropeBase: number;
  readonly tiedEmbeddings: boolean;
  readonly hasChatTemplate: boolean;
  readonly ggufVersion: number;
  readonly tensorCount: number;
}

export interface ModelInfo {
  /** A UUID; also the host of the model's URL, `kvchat-model://<id>`. */
  readonly id: string;
  readonly name: string;
  /** Where the file is: the user's own file (storedInPlace) or the copy in the app's models folder. */
  readonly path: string;
  /** SHA-256 of the whole file, hex. */
  readonly fingerprint: string;
  /** Bytes. */
  readonly size: number;
  readonly architecture: string;
  readonly parameterCount: number;
  /** `Q4_0`, `Q4_K_M`, `F16`, ... */
  readonly quantization: string;
  /** Tokens. */
  readonly contextLength: number;
  readonly details: ModelDetails;
  readonly storedInPlace: boolean;
  /** Milliseconds since the epoch. */
  readonly addedAt: number;
  /** False when the file went missing or changed since import: such a model is never loaded. */
  readonly available: boolean;
}

export interface ModelImportOptions {
  /** Copy the file into the app's models folder (true) or reference it where it is (false). */
  readonly copy: boolean;
}

export interface ModelImportProgress {
  readonly phase: 'fingerprint' | 'copy' | 'verify';
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface ModelVerification {
  readonly model: ModelInfo;
  /** null when the file is as imported; otherwise why the model is now unavailable. */
  readonly problem: null | 'missing' | 'changed';
}

export const MODEL_URL_SCHEME = 'kvchat-model';
export const modelUrl = (id: string): string => `${MODEL_URL_SCHEME}://${id}`;

// ---- Conversations and messages ----

/**
 * When a conversation outgrows the model's context (as LM Studio offers): stop there; drop the oldest turns but keep
 * the system prompt (truncate-middle); or keep only the latest turns (rolling-window). Never silent: an answer
 * records the tokens dropped, or that it stopped at the limit.
 */
export type ContextOverflowPolicy = 'stop' | 'truncate-middle' | 'rolling-window';

export interface GenerationSettings {
  readonly temperature: number;
  readonly topP: number;
  /** 0: no top-k cut. */
  readonly topK: number;
  readonly minP: number;
  readonly repeatPenalty: number;
  /** Tokens per answer. */
  readonly maxTokens: number;
  /** null: a fresh random seed per answer. */
  readonly seed: number | null;
  readonly contextPolicy: ContextOverflowPolicy;
}

export const DEFAULT_GENERATION_SETTINGS: GenerationSettings = {
  temperature: 0.8,
  topP: 0.95,
  topK: 40,
  minP: 0.05,
  repeatPenalty: 1.1,
  maxTokens: 512,
  seed: null,
  contextPolicy: 'truncate-middle',
};

export interface Conversation {
  readonly id: number;
  readonly title: string;
  readonly modelId: string | null;
  readonly systemPrompt: string;
  readonly settings: GenerationSettings;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type MessageRole = 'system' | 'user' | 'assistant';
export type MessageStatus = 'complete' | 'incomplete' | 'error';

/** How an answer was produced; every field optional (a user message has none). */
export interface MessageStats {
  readonly tokensPerSecond?: number;
  /** Milliseconds from send to the first token. */
  readonly timeToFirstTokenMs?: number;
  readonly promptTokens?: number;
  readonly generatedTokens?: number;
  /** Where the conversation's KV cache came from when this answer started. */
  readonly resumeSource?: 'gpu' | 'ram' | 'disk' | 'prefill';
  /** Tokens recomputed by prefill on resume. */
  readonly recomputedTokens?: number;
  /** 'context': the conversation reached the model's context under the 'stop' policy. */
  readonly stopReason?: 'eos' | 'max-tokens' | 'cancelled' | 'context' | 'error';
  /** Tokens of the conversation left out of the model's view to fit its context (the overflow policy). */
  readonly droppedTokens?: number;
  readonly errorMessage?: string;
}

export interface Message {
  readonly id: number;
  readonly conversationId: number;
  /** null for a first message; edits and regenerations are siblings under the same parent. */
  readonly parentId: number | null;
  readonly role: MessageRole;
  readonly content: string;
  readonly tokenCount: number | null;
  readonly stats: MessageStats;
  readonly status: MessageStatus;
  readonly createdAt: number;
}

/** A message on the active path, with the ids of its siblings (itself included, oldest first) for "< 2/3 >". */
export interface ThreadMessage extends Message {
  readonly siblingIds: readonly number[];
}

/** The active branch of a conversation, root first. */
export interface ConversationThread {
  readonly conversationId: number;
  readonly activeLeafId: number | null;
  readonly messages: readonly ThreadMessage[];
}

/** A piece of a search snippet; `match` pieces are the words that matched. */
export interface SnippetPart {
  readonly text: string;
  readonly match: boolean;
}

export interface SearchHit {
  readonly conversationId: number;
  readonly conversationTitle: string;
  /** null when the conversation's title matched. */
  readonly messageId: number | null;
  readonly role: MessageRole | null;
  readonly snippet: readonly SnippetPart[];
  readonly createdAt: number;
}

// ---- Payloads (validated in main by src/main/api-schemas.ts) ----

export interface CreateConversationRequest {
  readonly title?: string;
  readonly modelId?: string | null;
  readonly systemPrompt?: string;
  readonly settings?: Partial<GenerationSettings>;
}

export interface UpdateConversationSettingsRequest {
  readonly id: number;
  readonly settings?: Partial<GenerationSettings>;
  readonly systemPrompt?: string;
  readonly modelId?: string | null;
}

export interface AppendMessageRequest {
  readonly conversationId: number;
  readonly parentId: number | null;
  readonly role: MessageRole;
  readonly content: string;
  readonly status?: MessageStatus;
  readonly tokenCount?: number | null;
  readonly stats?: MessageStats;
}

export interface UpdateMessageRequest {
  readonly id: number;
  readonly content?: string;
  readonly status?: MessageStatus;
  readonly tokenCount?: number | null;
  readonly stats?: MessageStats;
}

// ---- KV cache persistence (the SQLite tier; bytes cross as Uint8Array, never as JSON arrays) ----

/** One persisted KV block: 16 tokens of K and V for every layer, named by its chained content hash. */
export interface KvBlockRecord {
  readonly hash: string;
  readonly modelFingerprint: string;
  /** Engine-defined layout (dtype, layers, heads...), checked before the bytes are used. */
  readonly layout: Readonly<Record<string, unknown>>;
  readonly checksum: string;
  readonly bytes: Uint8Array;
}

/** A conversation's exact token history as the engine last computed it. */
export interface ConversationKv {
  readonly modelFingerprint: string;
  /** u32 little-endian token ids. */
  readonly tokens: Uint8Array;
  /** How many leading tokens had K/V computed (the rest were pending). */
  readonly computed: number;
}

export interface SaveConversationKvRequest extends ConversationKv {
  readonly conversationId: number;
  /** Logical block i -> the hash of a stored block. */
  readonly blockHashes: readonly string[];
}

export interface KvUsage {
  readonly blocks: number;
  readonly bytes: number;
}

/** u32 token ids <-> their little-endian bytes (the wire and storage form of a token history). */
export function tokensToBytes(tokens: readonly number[]): Uint8Array {
  const out = new Uint8Array(tokens.length * 4);
  const view = new DataView(out.buffer);
  tokens.forEach((t, i) => view.setUint32(i * 4, t, true));
  return out;
}

export function bytesToTokens(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.byteLength; i += 4) out.push(view.getUint32(i, true));
  return out;
}

// ---- Remote OpenAI-compatible servers (the API key goes in, never comes back out) ----

export interface RemoteProviderInfo {
  readonly id: number;
  readonly name: string;
  /** Normalized (no trailing slash; `/v1` optional). */
  readonly baseUrl: string;
  /** Whether a key is stored; the key itself stays in main. */
  readonly hasApiKey: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface RemoteModelInfo {
  readonly id: string;
  readonly ownedBy?: string;
}

/** Which remote model a conversation talks to. */
export interface ConversationRemote {
  readonly conversationId: number;
  readonly providerId: number;
  readonly model: string;
}

export interface AddRemoteProviderRequest {
  readonly name: string;
  readonly baseUrl: string;
  /** Omitted or empty: the server needs no key. */
  readonly apiKey?: string;
  /** The user confirmed sending the key over plain http:// to another machine (else refused: 'insecure-key'). */
  readonly allowInsecureKey?: boolean;
}

export interface UpdateRemoteProviderRequest {
  readonly id: number;
  readonly name?: string;
  /** Another origin (scheme, host, port) drops the stored key, unless a new one comes with it. */
  readonly baseUrl?: string;
  /** A string replaces the key, '' or null removes it, omitted keeps it. */
  readonly apiKey?: string | null;
  /** The user confirmed sending the key over plain http:// to another machine (else refused: 'insecure-key'). */
  readonly allowInsecureKey?: boolean;
}

export interface CreateRemoteConversationRequest {
  readonly providerId: number;
  readonly model: string;
  readonly title?: string;
  readonly systemPrompt?: string;
}

/** A piece of a remote answer as it streams; `requestId` is the caller's, `messageId` the answer being written. */
export interface RemoteDelta {
  readonly requestId: string;
  readonly messageId: number;
  readonly text: string;
}

export interface KvChatApi {
  getAppInfo(): Promise<ApiResult<AppInfo>>;

  listModels(): Promise<ApiResult<ModelInfo[]>>;
  /** Opens the OS file dialog in main; null when the user cancels. */
  pickAndImportModel(options: ModelImportOptions): Promise<ApiResult<ModelInfo | null>>;
  /** A file dropped on the window; the preload turns it into a path (webUtils.getPathForFile). */
  importDroppedModel(file: File, options: ModelImportOptions): Promise<ApiResult<ModelInfo>>;
  /** Progress of the import in flight; returns the unsubscribe function. */
  onModelImportProgress(listener: (progress: ModelImportProgress) => void): () => void;
  /**
   * A model file opened from the OS (a double-clicked .gguf, a launch argument) that main has imported into the
   * library; returns the unsubscribe function. Failures main reports itself, in a dialog.
   */
  onModelOpened(listener: (model: ModelInfo) => void): () => void;
  renameModel(request: { readonly id: string; readonly name: string }): Promise<ApiResult<ModelInfo>>;
  /** `confirm` must be true: the UI asks the user first. Removes the model's persisted KV blocks too. */
  deleteModel(request: { readonly id: string; readonly confirm: true }): Promise<ApiResult<void>>;
  verifyModel(request: { readonly id: string }): Promise<ApiResult<ModelVerification>>;

  listConversations(): Promise<ApiResult<Conversation[]>>;
  createConversation(request: CreateConversationRequest): Promise<ApiResult<Conversation>>;
  renameConversation(request: { readonly id: number; readonly title: string }): Promise<ApiResult<Conversation>>;
  deleteConversation(request: { readonly id: number }): Promise<ApiResult<void>>;
  updateConversationSettings(request: UpdateConversationSettingsRequest): Promise<ApiResult<Conversation>>;

  getMessages(request: { readonly conversationId: number }): Promise<ApiResult<ConversationThread>>;
  /** Makes the newest leaf under `messageId` the active branch. */
  selectBranch(request: { readonly conversationId: number; readonly messageId: number }): Promise<ApiResult<ConversationThread>>;
  /** Returns the new message's id once it is on disk. */
  appendMessage(request: AppendMessageRequest): Promise<ApiResult<number>>;
  updateMessage(request: UpdateMessageRequest): Promise<ApiResult<Message>>;
  searchMessages(request: { readonly query: string; readonly limit?: number }): Promise<ApiResult<SearchHit[]>>;

  /** Where the engine fetches the model's bytes with Range requests (`kvchat-model://<id>` in the app). */
  getModelUrl(request: { readonly id: string }): Promise<ApiResult<string>>;
  /** The stored blocks among `hashes`; absent ones are simply missing. */
  getKvBlocks(request: { readonly hashes: readonly string[] }): Promise<ApiResult<KvBlockRecord[]>>;
  /** Which of `hashes` are stored, without their bytes. */
  getStoredKvHashes(request: { readonly hashes: readonly string[] }): Promise<ApiResult<string[]>>;
  putKvBlocks(request: { readonly blocks: readonly KvBlockRecord[] }): Promise<ApiResult<void>>;
  /** null when the conversation never ran through the engine. */
  getConversationKv(request: { readonly conversationId: number }): Promise<ApiResult<ConversationKv | null>>;
  saveConversationKv(request: SaveConversationKvRequest): Promise<ApiResult<void>>;
  getKvUsage(): Promise<ApiResult<KvUsage>>;

  listRemoteProviders(): Promise<ApiResult<RemoteProviderInfo[]>>;
  addRemoteProvider(request: AddRemoteProviderRequest): Promise<ApiResult<RemoteProviderInfo>>;
  updateRemoteProvider(request: UpdateRemoteProviderRequest): Promise<ApiResult<RemoteProviderInfo>>;
  removeRemoteProvider(request: { readonly id: number }): Promise<ApiResult<void>>;
  /** The provider's models (its GET /v1/models). */
  listRemoteModels(request: { readonly providerId: number }): Promise<ApiResult<RemoteModelInfo[]>>;
  createRemoteConversation(request: CreateRemoteConversationRequest): Promise<ApiResult<Conversation>>;
  /** null for a local conversation. */
  getConversationRemote(request: { readonly conversationId: number }): Promise<ApiResult<ConversationRemote | null>>;
  /**
   * Saves the user's message, streams the answer (as `onRemoteDelta` events tagged with `requestId`) and resolves
   * with the saved answer: 'complete', or 'incomplete' when stopped. A failure keeps the part received.
   */
  remoteSend(request: { readonly conversationId: number; readonly content: string; readonly requestId: string }): Promise<ApiResult<Message>>;
  /** Appends to a partial answer (the last of its branch). */
  remoteContinue(request: { readonly messageId: number; readonly requestId: string }): Promise<ApiResult<Message>>;
  /** A new answer to the same question, as a new branch. */
  remoteRegenerate(request: { readonly messageId: number; readonly requestId: string }): Promise<ApiResult<Message>>;
  /** Stops the request `requestId` (false when none is running); its answer so far is kept as 'incomplete'. */
  remoteStop(request: { readonly requestId: string }): Promise<ApiResult<boolean>>;
  /** Remote answers as they stream; returns the unsubscribe function. */
  onRemoteDelta(listener: (delta: RemoteDelta) => void): () => void;

  // Local OpenAI-compatible server (off by default): main serves HTTP, the renderer's engine generates.
  getLocalServer(): Promise<ApiResult<LocalServerInfo>>;
  setLocalServer(request: { readonly enabled: boolean; readonly port: number; readonly apiKey?: string }): Promise<ApiResult<LocalServerInfo>>;
  /** The renderer's side of the bridge: the loaded model, and token/done/error answers to main's requests. */
  serverBridgeReply(message: BridgeFromRenderer): Promise<ApiResult<void>>;
  /** Main's generate/abort requests for the renderer's engine; returns the unsubscribe function. */
  onServerBridge(listener: (message: BridgeToRenderer) => void): () => void;
}

// ---- The local server's bridge between main (HTTP) and the renderer's engine worker ----

export interface LocalServerInfo {
  readonly enabled: boolean;
  /** `http://127.0.0.1:port/v1` while it listens; null when off or while no model is loaded. */
  readonly url: string | null;
  readonly port: number;
  readonly hasApiKey: boolean;
  /** Why it is not listening although enabled (no model loaded, port in use). */
  readonly problem: string | null;
}

export interface BridgeSampling {
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly minP?: number;
  readonly repetitionPenalty?: number;
  readonly repetitionWindow?: number;
  readonly seed?: number;
}

export interface BridgeGenerateOptions {
  readonly maxNewTokens: number;
  readonly sampling: BridgeSampling;
  readonly stopTokens: readonly number[];
}

export type BridgeToRenderer =
  | { readonly type: 'generate'; readonly id: number; readonly tokens: readonly number[]; readonly options: BridgeGenerateOptions }
  | { readonly type: 'abort'; readonly id: number };

export interface BridgeResult {
  readonly tokens: number[];
  readonly stopReason: 'eos' | 'max-tokens' | 'context' | 'aborted';
  readonly promptTokens: number;
  readonly cachedTokens: number;
}

export type BridgeFromRenderer =
  /** The model now loaded in the engine (modelId null: none, or it is loading). */
  | { readonly type: 'model'; readonly modelId: string | null; readonly contextLength: number; readonly kvBlocks: number }
  | { readonly type: 'token'; readonly id: number; readonly token: number }
  | { readonly type: 'done'; readonly id: number; readonly result: BridgeResult }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/** The API's event subscriptions: no request, a channel main sends on. */
export const EVENT_METHODS = ['onModelImportProgress', 'onModelOpened', 'onRemoteDelta', 'onServerBridge'] as const;
export type EventMethod = (typeof EVENT_METHODS)[number];

/** The single channel table: every API method's IPC channel (an event channel for `on...` methods). */
export const CHANNELS = {
  getAppInfo: 'app:get-info',
  listModels: 'models:list',
  pickAndImportModel: 'models:pick-and-import',
  importDroppedModel: 'models:import-dropped',
  onModelImportProgress: 'models:import-progress',
  onModelOpened: 'models:opened',
  renameModel: 'models:rename',
  deleteModel: 'models:delete',
  verifyModel: 'models:verify',
  listConversations: 'conversations:list',
  createConversation: 'conversations:create',
  renameConversation: 'conversations:rename',
  deleteConversation: 'conversations:delete',
  updateConversationSettings: 'conversations:update-settings',
  getMessages: 'messages:get',
  selectBranch: 'messages:select-branch',
  appendMessage: 'messages:append',
  updateMessage: 'messages:update',
  searchMessages: 'messages:search',
  getModelUrl: 'models:url',
  getKvBlocks: 'kv:get-blocks',
  getStoredKvHashes: 'kv:stored-hashes',
  putKvBlocks: 'kv:put-blocks',
  getConversationKv: 'kv:get-conversation',
  saveConversationKv: 'kv:save-conversation',
  getKvUsage: 'kv:usage',
  listRemoteProviders: 'remote:list-providers',
  addRemoteProvider: 'remote:add-provider',
  updateRemoteProvider: 'remote:update-provider',
  removeRemoteProvider: 'remote:remove-provider',
  listRemoteModels: 'remote:list-models',
  createRemoteConversation: 'remote:create-conversation',
  getConversationRemote: 'remote:get-conversation',
  remoteSend: 'remote:send',
  remoteContinue: 'remote:continue',
  remoteRegenerate: 'remote:regenerate',
  remoteStop: 'remote:stop',
  onRemoteDelta: 'remote:delta',
  getLocalServer: 'local-server:get',
  setLocalServer: 'local-server:set',
  serverBridgeReply: 'local-server:reply',
  onServerBridge: 'local-server:bridge',
} as const satisfies Record<keyof KvChatApi, string>;
