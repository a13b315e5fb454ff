// The typed contract between the renderer and main: one named method per operation, one channel each.
// The preload implements `KvChatApi` with ipcRenderer.invoke; main validates every payload and answers with an
// ApiResult. The renderer gets no file system access and no SQL: only these verbs. Every request type is derived
// from its zod schema (./api-schemas.ts), the one main parses with, so the two cannot drift; what main answers
// with is declared here.
import type { z } from 'zod';
import type { StoredKvBlock } from '../gpu/kv/cache';
import type { FitModel } from './model-fit';
import type { ApiPayload, ApiRequest, fullGenerationSettings, messageRole, messageStats, messageStatus, ReadonlyDeep } from './api-schemas';

export type { ApiMethod, ApiRequest } from './api-schemas';

export interface AppInfo {
  readonly name: string;
  readonly version: string;
  readonly platform: string;
  readonly electron: string;
  readonly chrome: string;
  /** Bytes of system memory (os.totalmem), for the fit estimate; absent where unknown. */
  readonly memoryBytes?: number;
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
  /** Deleting the model deletes its file: a copy in the models folder or a download; otherwise it is only unregistered. */
  readonly deletesFile: boolean;
  /** Milliseconds since the epoch. */
  readonly addedAt: number;
  /** False when the file went missing or changed since import: such a model is never loaded. */
  readonly available: boolean;
}

/** `copy`: copy the file into the app's models folder (true) or reference it where it is (false). */
export type ModelImportOptions = ApiRequest<'pickAndImportModel'>;

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

/** The app a model found on disk was downloaded with (findLocalModels). */
export type LocalModelSource = 'lm-studio' | 'ollama' | 'hugging-face' | 'llama.cpp';

/** Why a model found on disk cannot be added: a part of a split model is missing, not runnable by this engine, or not a readable GGUF. */
export interface LocalModelProblem {
  readonly kind: 'split' | 'unsupported' | 'unreadable';
  readonly message: string;
}

/** A GGUF file another app already downloaded, which the library can register in place (addLocalModel). */
export interface LocalModelCandidate {
  /** The file (an Ollama blob, a Hugging Face snapshot link; the first part of a split model). */
  readonly path: string;
  /** Bytes, all parts together. */
  readonly size: number;
  readonly source: LocalModelSource;
  /** As the app names it: `llama3.2:3b` (Ollama), `org/repo/file` (Hugging Face), the file name otherwise. */
  readonly name: string;
  /** From the GGUF header; null when it could not be read. */
  readonly architecture: string | null;
  readonly quantization: string | null;
  /** Files the model is split into; 1 for a single file. */
  readonly parts: number;
  /** null: the engine can run it. */
  readonly problem: LocalModelProblem | null;
  /** The library model that already has this file (same path, or the same bytes), or null. */
  readonly registeredId: string | null;
}

/** A folder of GGUF models the user linked: its models are registered in place, and it is scanned again at each start. */
export interface LinkedFolder {
  readonly path: string;
  /** Library models whose file lies in it. */
  readonly models: number;
}

/** What one scan of a linked folder did. */
export interface LinkedFolderScan {
  readonly folder: string;
  /** Registered in place by this scan. */
  readonly added: readonly ModelInfo[];
  /** Models of the folder the library already had (or the user deleted from it: those stay out). */
  readonly known: number;
  /** Files that are no model the engine runs, or could not be registered, and why. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

export const MODEL_URL_SCHEME = 'kvchat-model';
export const modelUrl = (id: string): string => `${MODEL_URL_SCHEME}://${id}`;

// ---- Conversations and messages ----

/** A conversation's sampling and context settings (the schema's fields, documented there). */
export type GenerationSettings = ReadonlyDeep<z.output<typeof fullGenerationSettings>>;

/**
 * When a conversation outgrows the model's context (as LM Studio offers): stop there; drop the oldest turns but keep
 * the system prompt (truncate-middle); or keep only the latest turns (rolling-window). Never silent: an answer
 * records the tokens dropped, or that it stopped at the limit.
 */
export type ContextOverflowPolicy = GenerationSettings['contextPolicy'];

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
  /** Shown at the top of the list, under "Pinned". */
  readonly pinned: boolean;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type MessageRole = z.output<typeof messageRole>;
export type MessageStatus = z.output<typeof messageStatus>;

/** How an answer was produced; every field optional (a user message has none). Documented in the schema. */
export type MessageStats = ReadonlyDeep<z.output<typeof messageStats>>;

export interface Message {
  readonly id: number;
  readonly conversationId: number;
  /** null for a first message; edits and regenerations are siblings under the same parent. */
  readonly parentId: number | null;
  readonly role: MessageRole;
  readonly content: string;
  /** An answer's reasoning (a `<think>` block, an analysis channel), shown apart from its content; '' if none. */
  readonly reasoning: string;
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

// ---- Payloads (validated in main by their schemas in ./api-schemas.ts) ----

export type CreateConversationRequest = ApiRequest<'createConversation'>;
export type UpdateConversationSettingsRequest = ApiRequest<'updateConversationSettings'>;
export type AppendMessageRequest = ApiRequest<'appendMessage'>;
export type UpdateMessageRequest = ApiRequest<'updateMessage'>;

// ---- KV cache persistence (the SQLite tier; bytes cross as Uint8Array, never as JSON arrays) ----

/**
 * One persisted KV block: 16 tokens of K and V for every layer, named by its chained content hash. The engine's own
 * type (src/gpu/kv/cache.ts), sent as it is: the putKvBlocks schema is checked against it.
 */
export type { StoredKvBlock };
/** @deprecated The same type as StoredKvBlock; kept for the renderer's engine worker. */
export type KvBlockRecord = StoredKvBlock;

/** A conversation's exact token history as the engine last computed it. */
export interface ConversationKv {
  readonly modelFingerprint: string;
  /** u32 little-endian token ids. */
  readonly tokens: Uint8Array;
  /** How many leading tokens had K/V computed (the rest were pending). */
  readonly computed: number;
  /** Bumped by every save: a save naming an older one as its baseVersion is refused (another writer continued it). */
  readonly version: number;
}

/** What an import made: the new conversation, and which of the file's KV blocks it kept. */
export interface ConversationImport {
  readonly conversation: Conversation;
  /** KV blocks kept: the chat resumes without recomputing them. */
  readonly kvBlocksImported: number;
  /** KV blocks refused (another model, a name its history does not give, a failed checksum): recomputed later. */
  readonly kvBlocksRefused: number;
  /** Why blocks were refused, for the user. */
  readonly kvRefusedReason?: string;
}

/** A ConversationKv, the conversation it belongs to and its block table. */
export type SaveConversationKvRequest = ApiRequest<'saveConversationKv'>;

export interface KvUsage {
  readonly blocks: number;
  readonly bytes: number;
}

/** One conversation's KV on disk. */
export interface ConversationKvStorage {
  readonly conversationId: number;
  readonly title: string;
  readonly blocks: number;
  readonly bytes: number;
  /** Of `bytes`, blocks other conversations name too (counted once in the total). */
  readonly sharedBytes: number;
  /** When its KV was last saved, ms since the epoch. */
  readonly lastUsedAt: number;
}

/** The Storage view: KV on disk against its budget, and the files around it. */
export interface KvStorage {
  /** Every stored block once. */
  readonly totalBytes: number;
  readonly blocks: number;
  /** Most recently used first; least recently used ones lose their KV first. */
  readonly conversations: readonly ConversationKvStorage[];
  readonly budgetBytes: number;
  /** True when no budget was set (min(8 GiB, 10% of the volume) applies). */
  readonly budgetIsDefault: boolean;
  /** The database file with its WAL, in bytes. */
  readonly databaseBytes: number;
  /** The models folder (copied models), in bytes. */
  readonly modelsFolderBytes: number;
  /** Free bytes on the database's volume; null when the OS does not say. */
  readonly freeBytes: number | null;
  /** The last KV write skipped for space (low disk, full database), ms since the epoch; null if none. */
  readonly lastSkip: { readonly reason: 'low-disk' | 'disk-full'; readonly at: number } | null;
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

export type AddRemoteProviderRequest = ApiRequest<'addRemoteProvider'>;
export type UpdateRemoteProviderRequest = ApiRequest<'updateRemoteProvider'>;
export type CreateRemoteConversationRequest = ApiRequest<'createRemoteConversation'>;

/**
 * A piece of a remote answer as it streams; `requestId` is the caller's, `messageId` the answer being written.
 * A piece of the model's reasoning comes as `reasoning`, with `text` ''.
 */
export interface RemoteDelta {
  readonly requestId: string;
  readonly messageId: number;
  readonly text: string;
  readonly reasoning?: string;
}

// ---- The Hugging Face Hub: browse, check, download (no traffic unless the user opens Discover or downloads) ----

/** A GGUF repository found by a search. */
export interface HubRepository {
  /** owner/name */
  readonly id: string;
  readonly downloads: number;
  readonly likes: number;
  /** ISO date of the last change, when the Hub says. */
  readonly updatedAt: string | null;
}

/** One model file of a repository; split files (`-00001-of-0000N.gguf`) are one entry, `file` naming the first part. */
export interface HubModelFile {
  readonly file: string;
  /** Bytes, every part together. */
  readonly size: number;
  /** 1 unless split. */
  readonly parts: number;
  /** False where the name's quantization is one the engine cannot read (the header check decides for the rest). */
  readonly engineReadsQuant: boolean;
  /** Why it cannot be downloaded without a header check (split files); null otherwise. */
  readonly problem: string | null;
}

/** A repository's GGUF files grouped by quantization (`Q4_K_M`, `Q8_0`, ...; 'other' for unlabelled names). */
export interface HubQuantGroup {
  readonly quant: string;
  readonly files: readonly HubModelFile[];
}

export interface HubRepositoryFiles {
  readonly repo: string;
  readonly groups: readonly HubQuantGroup[];
}

/** The GGUF header of a Hub file, read with Range requests before any download: can the engine run it? */
export interface HubFileCheck {
  readonly repo: string;
  readonly file: string;
  readonly supported: boolean;
  /** Why not ("architecture gemma3 is not supported yet"); null when supported. */
  readonly reason: string | null;
  readonly architecture: string | null;
  readonly contextLength: number | null;
  /** Tensor count by type name. */
  readonly tensorTypes: Readonly<Record<string, number>>;
  readonly tokenizer: string | null;
  readonly fileSize: number;
  /** The sizes the fit estimate needs (src/shared/model-fit.ts); null when the header does not describe a model. */
  readonly shape: FitModel | null;
}

/** A well-known chat model the engine runs, shown first in Discover (resources/curated-models.json). */
export interface CuratedModel {
  readonly repo: string;
  readonly file: string;
  readonly name: string;
  /** general.architecture of the file: one the engine runs. */
  readonly architecture: string;
  /** Why it is on the list. */
  readonly why: string;
  /** Bytes, as listed (the Hub's file tree has the exact size). */
  readonly size: number;
}

export type DownloadState = 'queued' | 'running' | 'paused' | 'failed' | 'done';

export interface ModelDownload {
  readonly id: number;
  readonly repo: string;
  readonly revision: string;
  readonly file: string;
  readonly path: string;
  readonly state: DownloadState;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** 0 unless running. */
  readonly bytesPerSecond: number;
  /** Seconds left at the current speed; null unless running with a known speed. */
  readonly etaSeconds: number | null;
  readonly error: string | null;
  /** The library model it became, once done. */
  readonly modelId: string | null;
}

/** `progress` while bytes arrive; `state` on every change of state; `removed` after a cancel. */
export type DownloadEvent =
  | { readonly kind: 'progress' | 'state'; readonly download: ModelDownload }
  | { readonly kind: 'removed'; readonly id: number };

/** The Hub endpoint and whether a token is stored (the token itself never leaves main). */
export interface HubSettings {
  /** The endpoint in use: the setting, else HF_ENDPOINT, else https://huggingface.co. */
  readonly endpoint: string;
  /** The user's setting; null: none. */
  readonly endpointSetting: string | null;
  readonly hasToken: boolean;
  /** False where the OS has no keychain to encrypt a token with: one cannot be stored. */
  readonly canStoreToken: boolean;
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
  renameModel(request: ApiRequest<'renameModel'>): Promise<ApiResult<ModelInfo>>;
  /** `confirm` must be true: the UI asks the user first. Removes the model's persisted KV blocks too. */
  deleteModel(request: ApiRequest<'deleteModel'>): Promise<ApiResult<void>>;
  verifyModel(request: ApiRequest<'verifyModel'>): Promise<ApiResult<ModelVerification>>;
  /** GGUF models LM Studio, Ollama, the Hugging Face cache and llama.cpp already keep on this computer. */
  findLocalModels(): Promise<ApiResult<LocalModelCandidate[]>>;
  /** Registers in place (no copy) a model the last findLocalModels listed; main refuses any other path. */
  addLocalModel(request: ApiRequest<'addLocalModel'>): Promise<ApiResult<ModelInfo>>;
  /**
   * Opens the OS folder dialog in main, links the chosen folder and registers its GGUF models in place (no copy);
   * null when the user cancels. Linked folders are scanned again at every start.
   */
  linkModelFolder(): Promise<ApiResult<LinkedFolderScan | null>>;
  listLinkedFolders(): Promise<ApiResult<LinkedFolder[]>>;
  /** Stops scanning the folder; its models stay in the library until deleted. */
  unlinkModelFolder(request: ApiRequest<'unlinkModelFolder'>): Promise<ApiResult<void>>;

  listConversations(): Promise<ApiResult<Conversation[]>>;
  createConversation(request: CreateConversationRequest): Promise<ApiResult<Conversation>>;
  renameConversation(request: ApiRequest<'renameConversation'>): Promise<ApiResult<Conversation>>;
  deleteConversation(request: ApiRequest<'deleteConversation'>): Promise<ApiResult<void>>;
  /** The conversation (every branch, settings, system prompt) as JSON, optionally with its KV blocks, or as Markdown. */
  exportConversation(request: ApiRequest<'exportConversation'>): Promise<ApiResult<string>>;
  /** Imports an exported JSON document as a new conversation; its KV blocks are kept only if they verify. */
  importConversation(request: ApiRequest<'importConversation'>): Promise<ApiResult<ConversationImport>>;
  updateConversationSettings(request: UpdateConversationSettingsRequest): Promise<ApiResult<Conversation>>;
  /** Pins the conversation to the top of the list, or unpins it. */
  setConversationPinned(request: ApiRequest<'setConversationPinned'>): Promise<ApiResult<Conversation>>;

  getMessages(request: ApiRequest<'getMessages'>): Promise<ApiResult<ConversationThread>>;
  /** Makes the newest leaf under `messageId` the active branch. */
  selectBranch(request: ApiRequest<'selectBranch'>): Promise<ApiResult<ConversationThread>>;
  /** Returns the new message's id once it is on disk. */
  appendMessage(request: AppendMessageRequest): Promise<ApiResult<number>>;
  updateMessage(request: UpdateMessageRequest): Promise<ApiResult<Message>>;
  searchMessages(request: ApiRequest<'searchMessages'>): Promise<ApiResult<SearchHit[]>>;

  /** Where the engine fetches the model's bytes with Range requests (`kvchat-model://<id>` in the app). */
  getModelUrl(request: ApiRequest<'getModelUrl'>): Promise<ApiResult<string>>;
  /** The stored blocks among `hashes`; absent ones are simply missing. */
  getKvBlocks(request: ApiRequest<'getKvBlocks'>): Promise<ApiResult<StoredKvBlock[]>>;
  /** Which of `hashes` are stored, without their bytes. */
  getStoredKvHashes(request: ApiRequest<'getStoredKvHashes'>): Promise<ApiResult<string[]>>;
  putKvBlocks(request: ApiRequest<'putKvBlocks'>): Promise<ApiResult<void>>;
  /** null when the conversation never ran through the engine. */
  getConversationKv(request: ApiRequest<'getConversationKv'>): Promise<ApiResult<ConversationKv | null>>;
  /** Returns the history's new version; refused ('kv-conversation-changed') when another writer saved since baseVersion. */
  saveConversationKv(request: SaveConversationKvRequest): Promise<ApiResult<number>>;
  getKvUsage(): Promise<ApiResult<KvUsage>>;
  getKvStorage(): Promise<ApiResult<KvStorage>>;
  /** Sets the KV disk budget (null: the default) and enforces it at once. */
  setKvBudget(request: ApiRequest<'setKvBudget'>): Promise<ApiResult<KvStorage>>;
  /** Drops the conversation's KV blocks (not its messages); it resumes by recomputing. Returns the bytes freed. */
  forgetConversationKv(request: ApiRequest<'forgetConversationKv'>): Promise<ApiResult<number>>;
  /** A kernel variant measured on this device for a model shape (src/gpu/tuning's key); null when none is kept. */
  getKernelTuning(request: ApiRequest<'getKernelTuning'>): Promise<ApiResult<string | null>>;
  setKernelTuning(request: ApiRequest<'setKernelTuning'>): Promise<ApiResult<void>>;
  /** Forgets every kernel choice measured on `adapter`: the next model load measures again. Returns how many. */
  clearKernelTuning(request: ApiRequest<'clearKernelTuning'>): Promise<ApiResult<number>>;

  listRemoteProviders(): Promise<ApiResult<RemoteProviderInfo[]>>;
  addRemoteProvider(request: AddRemoteProviderRequest): Promise<ApiResult<RemoteProviderInfo>>;
  updateRemoteProvider(request: UpdateRemoteProviderRequest): Promise<ApiResult<RemoteProviderInfo>>;
  removeRemoteProvider(request: ApiRequest<'removeRemoteProvider'>): Promise<ApiResult<void>>;
  /** The provider's models (its GET /v1/models). */
  listRemoteModels(request: ApiRequest<'listRemoteModels'>): Promise<ApiResult<RemoteModelInfo[]>>;
  createRemoteConversation(request: CreateRemoteConversationRequest): Promise<ApiResult<Conversation>>;
  /** null for a local conversation. */
  getConversationRemote(request: ApiRequest<'getConversationRemote'>): Promise<ApiResult<ConversationRemote | null>>;
  /**
   * Saves the user's message, streams the answer (as `onRemoteDelta` events tagged with `requestId`) and resolves
   * with the saved answer: 'complete', or 'incomplete' when stopped. A failure keeps the part received.
   */
  remoteSend(request: ApiRequest<'remoteSend'>): Promise<ApiResult<Message>>;
  /** Appends to a partial answer (the last of its branch). */
  remoteContinue(request: ApiRequest<'remoteContinue'>): Promise<ApiResult<Message>>;
  /** A new answer to the same question, as a new branch. */
  remoteRegenerate(request: ApiRequest<'remoteRegenerate'>): Promise<ApiResult<Message>>;
  /** Stops the request `requestId` (false when none is running); its answer so far is kept as 'incomplete'. */
  remoteStop(request: ApiRequest<'remoteStop'>): Promise<ApiResult<boolean>>;
  /** Remote answers as they stream; returns the unsubscribe function. */
  onRemoteDelta(listener: (delta: RemoteDelta) => void): () => void;

  // Local OpenAI-compatible server (off by default): main serves HTTP, the renderer's engine generates.
  getLocalServer(): Promise<ApiResult<LocalServerInfo>>;
  setLocalServer(request: ApiRequest<'setLocalServer'>): Promise<ApiResult<LocalServerInfo>>;
  /** The renderer's side of the bridge: the loaded model, and token/done/error answers to main's requests. */
  serverBridgeReply(message: BridgeFromRenderer): Promise<ApiResult<void>>;
  /** Main's generate/abort requests for the renderer's engine; returns the unsubscribe function. */
  onServerBridge(listener: (message: BridgeToRenderer) => void): () => void;

  // The Hub (Discover): search, a repository's files, the header check; downloads in main, two at a time.
  /** Curated chat models the engine runs; offline (bundled with the app). */
  listCuratedModels(): Promise<ApiResult<CuratedModel[]>>;
  searchHub(request: ApiRequest<'searchHub'>): Promise<ApiResult<HubRepository[]>>;
  listHubFiles(request: ApiRequest<'listHubFiles'>): Promise<ApiResult<HubRepositoryFiles>>;
  /** Reads the file's GGUF header with Range requests (nothing past it) and says whether the engine can run it. */
  probeHubFile(request: ApiRequest<'probeHubFile'>): Promise<ApiResult<HubFileCheck>>;
  /** Checks the header, then queues the file; a model the engine cannot run is refused ('unsupported-model'). */
  startDownload(request: ApiRequest<'startDownload'>): Promise<ApiResult<ModelDownload>>;
  pauseDownload(request: ApiRequest<'pauseDownload'>): Promise<ApiResult<ModelDownload>>;
  resumeDownload(request: ApiRequest<'resumeDownload'>): Promise<ApiResult<ModelDownload>>;
  /** Stops it and deletes its part file. */
  cancelDownload(request: ApiRequest<'cancelDownload'>): Promise<ApiResult<void>>;
  listDownloads(): Promise<ApiResult<ModelDownload[]>>;
  /** Every download's progress and state changes; returns the unsubscribe function. */
  onDownloadProgress(listener: (event: DownloadEvent) => void): () => void;
  getHubSettings(): Promise<ApiResult<HubSettings>>;
  /** `endpoint`: a URL, or null for the default; `token`: a string stores it encrypted, '' or null removes it. */
  setHubSettings(request: ApiRequest<'setHubSettings'>): Promise<ApiResult<HubSettings>>;
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

/**
 * What the renderer sends back over the bridge: the loaded model (modelId null: none, or it is loading), tokens, the
 * end. The schema's parsed shape (mutable `result.tokens`, which main hands on as a GenerateResult's).
 */
export type BridgeFromRenderer = ApiPayload<'serverBridgeReply'>;

export type BridgeResult = Extract<BridgeFromRenderer, { readonly type: 'done' }>['result'];

/** The API's event subscriptions: no request, a channel main sends on. */
export const EVENT_METHODS = ['onModelImportProgress', 'onModelOpened', 'onRemoteDelta', 'onServerBridge', 'onDownloadProgress'] as const;
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
  findLocalModels: 'models:find-local',
  addLocalModel: 'models:add-local',
  linkModelFolder: 'models:link-folder',
  listLinkedFolders: 'models:linked-folders',
  unlinkModelFolder: 'models:unlink-folder',
  listConversations: 'conversations:list',
  createConversation: 'conversations:create',
  renameConversation: 'conversations:rename',
  deleteConversation: 'conversations:delete',
  exportConversation: 'conversations:export',
  importConversation: 'conversations:import',
  updateConversationSettings: 'conversations:update-settings',
  setConversationPinned: 'conversations:set-pinned',
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
  getKvStorage: 'kv:storage',
  setKvBudget: 'kv:set-budget',
  forgetConversationKv: 'kv:forget-conversation',
  getKernelTuning: 'tuning:get',
  setKernelTuning: 'tuning:set',
  clearKernelTuning: 'tuning:clear',
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
  listCuratedModels: 'hub:curated',
  searchHub: 'hub:search',
  listHubFiles: 'hub:files',
  probeHubFile: 'hub:probe',
  startDownload: 'downloads:start',
  pauseDownload: 'downloads:pause',
  resumeDownload: 'downloads:resume',
  cancelDownload: 'downloads:cancel',
  listDownloads: 'downloads:list',
  onDownloadProgress: 'downloads:progress',
  getHubSettings: 'hub:get-settings',
  setHubSettings: 'hub:set-settings',
} as const satisfies Record<keyof KvChatApi, string>;
