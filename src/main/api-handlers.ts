// The logic behind every API channel, as plain functions of already-validated payloads: testable without
// Electron. ipc.ts only checks the sender, and calls `invokeApi` (which parses the payload, then the handler).
import { lstat, readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  bytesToTokens,
  modelUrl,
  tokensToBytes,
  type ApiError,
  type ApiResult,
  type AppInfo,
  type KvChatApi,
  type LinkedFolderScan,
  type LocalModelCandidate,
  type Message,
  type ModelImportProgress,
  type RemoteDelta,
  type RemoteProviderInfo,
  type BridgeToRenderer,
  type StoredKvBlock,
  type KvStorage,
} from '../shared/api';
import { BridgeChannel, LocalServerService } from './local-server';
import { GgufError } from '../gpu/gguf/errors';
import { ApiInputError, parsePayload, type ApiMethod, type ApiPayload } from './api-schemas';
import { ModelLibraryError } from './models/errors';
import { ModelDownloads } from './models/downloads';
import { HubService } from './models/hub-service';
import { HubError } from '../node/hub/errors';
import { ModelLibrary, type UnregisteredCopiesOutcome } from './models/library';
import { findLocalModels, type LocalModelsPlace } from './models/local-models';
import { LinkedFolderError, LinkedFolders } from './models/linked-folders';
import type { ModelsFolderSweep } from './models/models-folder';
import { ConversationRepository } from '../store/conversations';
import type { Db } from '../store/database';
import { openDatabaseOrSetAside, type DamagedDatabase, type SetAsideDatabase } from '../store/damaged-database';
import { StoreError } from '../store/errors';
import { kvBudgetFor, volumeSpace, type KvBudget } from '../store/kv-budget';
import { ConversationTransfer } from '../store/conversation-transfer';
import { KvBlockStore, type KvBlockRow } from '../store/kv-store';
import { KernelTuningRepository } from '../store/kernel-tuning';
import { ensureIncrementalVacuum, type VacuumConversion } from '../store/vacuum';
import { MessageRepository } from '../store/messages';
import { MessageSearch } from '../store/search';
import { RemoteError, RemoteService, type RemoteProvider, type ReplyOptions, type SecretCipher } from './remote';

export interface ApiServices {
  readonly appInfo: () => AppInfo;
  readonly library: ModelLibrary;
  readonly conversations: ConversationRepository;
  readonly messages: MessageRepository;
  readonly search: MessageSearch;
  readonly kv: KvBlockStore;
  /** Kernel variants measured on this device (absent in hosts that keep no database of their own). */
  readonly kernelTuning?: KernelTuningRepository;
  /** Conversation export and import (absent in hosts that keep no database of their own). */
  readonly transfer?: ConversationTransfer;
  /** The database file and the models folder, whose sizes the Storage view shows. */
  readonly storagePaths?: { readonly databaseFile: string; readonly modelsDir: string };
  /** Remote OpenAI-compatible servers (providers, remote conversations, streamed answers). */
  readonly remote: RemoteService;
  /** The URL the renderer's engine reads a model from; default `kvchat-model://<id>` (a test host serves HTTP). */
  readonly modelUrl?: (id: string) => string;
  /** Opens the OS open-file dialog for a model; null when the user cancels. */
  readonly pickModelFile: () => Promise<string | null>;
  /** Opens the OS folder dialog (Link a folder); null when the user cancels. Absent: linking is not offered. */
  readonly pickModelFolder?: () => Promise<string | null>;
  /** Folders of models linked in place, scanned again at every start. */
  readonly linkedFolders?: LinkedFolders;
  /** Where findLocalModels looks (other apps' model folders); default this user's home, OS and environment. */
  readonly localModelsPlace?: LocalModelsPlace;
  /** The local OpenAI-compatible server (off by default) and its bridge to the renderer's engine. */
  readonly localServer?: LocalServerService;
  readonly bridgeChannel?: BridgeChannel;
  /** The Hub (Discover: search, files, header checks, settings) and the download queue it feeds the library from. */
  readonly hub?: HubService;
  readonly downloads?: ModelDownloads;
}

export interface OpenServicesOptions {
  /** The SQLite file (created on first start). */
  readonly databaseFile: string;
  /** Where copied models go. */
  readonly modelsDir: string;
  /** better_sqlite3.node built for the running Electron, when it is not the one in node_modules. */
  readonly nativeBinding?: string;
  readonly appInfo: () => AppInfo;
  readonly pickModelFile: () => Promise<string | null>;
  /** Opens the OS folder dialog for "Link a folder"; null when the user cancels. */
  readonly pickModelFolder?: () => Promise<string | null>;
  /** Encrypts remote API keys at rest: Electron's safeStorage in the app, a node:crypto cipher in tests. */
  readonly cipher: SecretCipher;
  /**
   * Asked when the database is damaged: true keeps it aside and starts with a fresh one. Without it, or on
   * false, opening fails with a 'database-damaged' StoreError and the file is left as it was.
   */
  readonly startFreshOnDamage?: (damaged: DamagedDatabase) => boolean;
  /** Where Hub downloads go (`<dir>/<owner>/<name>/<file>`); default `downloads` beside the models folder. */
  readonly downloadsDir?: string;
  /** HF_ENDPOINT and the like; process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
}

/** What the start found and repaired: a damaged database kept aside, leftovers of interrupted imports. */
export interface StartRecovery {
  /** The damaged database moved aside (the services run on a fresh one), or null. */
  readonly databaseSetAside: SetAsideDatabase | null;
  readonly modelsFolder: ModelsFolderSweep;
  /** Settles once finished copies without a row are registered again (fingerprinting them takes a while). */
  readonly unregisteredCopies: Promise<UnregisteredCopiesOutcome>;
  /** Settles once the linked folders are scanned again (new files registered in place); never rejects. */
  readonly linkedFolders: Promise<LinkedFolderScan[]>;
  /** The KV clean-up: unnamed blocks dropped, the budget enforced, the file switched to incremental vacuum. */
  readonly kv: KvStartupCleanUp;
}

export interface KvStartupCleanUp {
  readonly vacuum: VacuumConversion;
  /** What failed, if anything (the app starts anyway; the next start tries again). */
  readonly problem: string | null;
}

/**
 * KV blocks no conversation names (those of deleted conversations, and RAM-tier spills of the last session) are
 * dropped at start, before any engine can be between storing a block and naming it in a block table; then the
 * budget is enforced and an older file is switched to incremental vacuum (bounded). Never throws.
 */
function cleanUpKvAtStart(kv: KvBlockStore, db: Db): KvStartupCleanUp {
  let problem: string | null = null;
  try {
    kv.garbageCollect();
    kv.budget?.enforce();
  } catch (e) {
    problem = `KV clean-up at start failed: ${(e as Error).message}`;
    console.warn(`KVChat: ${problem}`);
  }
  const vacuum = ensureIncrementalVacuum(db);
  if (vacuum.outcome === 'failed') console.warn(`KVChat: could not switch the database to incremental vacuum: ${vacuum.message}`);
  return { vacuum, problem };
}

/** Opens (and migrates) the database, cleans what a crash left, and builds every service on it. */
export function openApiServices(o: OpenServicesOptions): ApiServices & { readonly db: Db; readonly recovery: StartRecovery } {
  const { db, setAside } = openDatabaseOrSetAside(o.databaseFile, {
    ...(o.nativeBinding ? { nativeBinding: o.nativeBinding } : {}),
    startFresh: o.startFreshOnDamage ?? (() => false),
  });
  const kv = new KvBlockStore(db, { budget: kvBudgetFor(db, o.databaseFile) });
  const kvStartup = cleanUpKvAtStart(kv, db);
  const conversations = new ConversationRepository(db);
  const messages = new MessageRepository(db);
  const library = new ModelLibrary(db, o.modelsDir);
  // Before any handler exists, so no import of this session can be mistaken for a leftover.
  const modelsFolder = library.sweepModelsFolder();
  const unregisteredCopies = library.registerUnregisteredCopies(modelsFolder.unregisteredCopies);
  void unregisteredCopies.then(({ failed }) => failed.forEach((f) => console.warn(`KVChat: kept ${f.path}, an unregistered model copy that could not be read: ${f.message}`)));
  const linkedFolders = new LinkedFolders(db, library);
  const linkedScans = unregisteredCopies
    .then(() => linkedFolders.rescanAll())
    .catch((e: unknown) => {
      console.warn(`KVChat: scanning the linked model folders failed: ${(e as Error).message}`);
      return [];
    });
  const bridgeChannel = new BridgeChannel();
  const hub = new HubService({ db, cipher: o.cipher, ...(o.env ? { env: o.env } : {}) });
  // Not started here: the caller starts the queue (and with it any transfer the last session left) once it listens.
  const downloads = new ModelDownloads({
    db,
    library,
    downloadsDir: o.downloadsDir ?? join(dirname(o.modelsDir), 'downloads'),
    endpointSetting: () => hub.endpointSetting() ?? o.env?.HF_ENDPOINT,
    token: () => hub.token(),
  });
  return {
    hub,
    downloads,
    db,
    recovery: { databaseSetAside: setAside, modelsFolder, unregisteredCopies, linkedFolders: linkedScans, kv: kvStartup },
    bridgeChannel,
    localServer: new LocalServerService({ transport: bridgeChannel, modelFile: (id) => library.servedFile(id) }),
    appInfo: o.appInfo,
    pickModelFile: o.pickModelFile,
    ...(o.pickModelFolder ? { pickModelFolder: o.pickModelFolder } : {}),
    linkedFolders,
    library,
    conversations,
    messages,
    search: new MessageSearch(db),
    kv,
    transfer: new ConversationTransfer(db),
    kernelTuning: new KernelTuningRepository(db),
    storagePaths: { databaseFile: o.databaseFile, modelsDir: o.modelsDir },
    remote: new RemoteService({ db, conversations, messages, cipher: o.cipher }),
  };
}

/** What a handler may need about the call itself. */
export interface CallContext {
  readonly onImportProgress?: (progress: ModelImportProgress) => void;
  /** Where a remote answer's pieces go as they stream (to the window that asked). */
  readonly onRemoteDelta?: (delta: RemoteDelta) => void;
  /** How to reach the calling renderer with local-server bridge requests. */
  readonly onServerBridge?: (message: BridgeToRenderer) => void;
}

/** The value an API method resolves to on success. */
export type ApiValue<M extends ApiMethod> = Awaited<ReturnType<KvChatApi[M]>> extends ApiResult<infer T> ? T : never;

export type ApiHandlers = {
  readonly [M in ApiMethod]: (payload: ApiPayload<M>, context: CallContext) => ApiValue<M> | Promise<ApiValue<M>>;
};

export function createApiHandlers(s: ApiServices): ApiHandlers {
  /** Remote requests streaming now, by the caller's requestId: remoteStop aborts them. */
  const running = new Map<string, AbortController>();
  const streamRemote = async (requestId: string, ctx: CallContext, run: (opts: ReplyOptions) => Promise<Message>): Promise<Message> => {
    if (running.has(requestId)) throw new ApiInputError(`Invalid request: request ${requestId} is already running`);
    const controller = new AbortController();
    running.set(requestId, controller);
    try {
      const onDelta = ctx.onRemoteDelta;
      return await run({
        signal: controller.signal,
        ...(onDelta
          ? {
              onDelta: (messageId: number, text: string) => onDelta({ requestId, messageId, text }),
              onReasoning: (messageId: number, reasoning: string) => onDelta({ requestId, messageId, text: '', reasoning }),
            }
          : {}),
      });
    } finally {
      running.delete(requestId);
    }
  };
  const importFrom = (path: string, copy: boolean, ctx: CallContext, name?: string) =>
    s.library.importModel(path, { copy, ...(name !== undefined ? { name } : {}), ...(ctx.onImportProgress ? { onProgress: ctx.onImportProgress } : {}) });
  /** The last findLocalModels answer, by path: addLocalModel registers only these (never a path of the renderer's). */
  let localModels = new Map<string, LocalModelCandidate>();
  return {
    getAppInfo: () => s.appInfo(),

    listModels: () => s.library.listModels(),
    pickAndImportModel: async ({ copy }, ctx) => {
      const path = await s.pickModelFile();
      return path === null ? null : importFrom(path, copy, ctx);
    },
    importDroppedModel: ({ path, copy }, ctx) => importFrom(path, copy, ctx),
    renameModel: ({ id, name }) => s.library.renameModel(id, name),
    deleteModel: async ({ id, confirm }) => {
      const { path } = s.library.getModel(id);
      await s.library.deleteModel(id, { confirm });
      s.linkedFolders?.modelDeleted(path); // a linked folder's next scan leaves it out
    },
    verifyModel: ({ id }) => s.library.verifyModel(id),
    findLocalModels: async () => {
      const place = s.localModelsPlace ?? { home: homedir(), platform: process.platform, env: process.env };
      const found = await findLocalModels(place, { registered: s.library.listModels(), recorded: s.library.recordedFileStats() });
      localModels = new Map(found.map((c) => [c.path, c]));
      return found;
    },
    linkModelFolder: async (_none, ctx) => {
      if (!s.pickModelFolder || !s.linkedFolders) throw new ApiInputError('Linking a folder is not available here');
      const folder = await s.pickModelFolder();
      return folder === null ? null : s.linkedFolders.link(folder, ctx.onImportProgress);
    },
    listLinkedFolders: () => s.linkedFolders?.list() ?? [],
    unlinkModelFolder: ({ path }) => {
      if (!s.linkedFolders) throw new ApiInputError('Linking a folder is not available here');
      s.linkedFolders.unlink(path);
    },
    addLocalModel: ({ path }, ctx) => {
      const candidate = localModels.get(path);
      if (!candidate) throw new ApiInputError(`Invalid request to addLocalModel: ${path} is not a model found on this computer; search again`);
      if (candidate.problem) throw new ModelLibraryError('invalid-model', `${candidate.name} cannot be added: ${candidate.problem.message}`);
      return importFrom(path, false, ctx, candidate.name);
    },

    listConversations: () => s.conversations.listConversations(),
    createConversation: (request) => s.conversations.createConversation(request),
    renameConversation: ({ id, title }) => s.conversations.renameConversation(id, title),
    deleteConversation: ({ id }) => s.conversations.deleteConversation(id),
    exportConversation: ({ id, format, includeKv }) => transferOf(s).exportText(id, format, includeKv !== undefined ? { includeKv } : {}),
    importConversation: ({ text }) => transferOf(s).importText(text),
    updateConversationSettings: ({ id, ...changes }) => s.conversations.updateSettings(id, changes),
    setConversationPinned: ({ id, pinned }) => s.conversations.setPinned(id, pinned),

    getMessages: ({ conversationId }) => s.messages.thread(conversationId),
    selectBranch: ({ conversationId, messageId }) => s.messages.selectBranch(conversationId, messageId),
    appendMessage: (request) => s.messages.appendMessage(request),
    updateMessage: ({ id, ...changes }) => s.messages.updateMessage(id, changes),
    searchMessages: ({ query, limit }) => s.search.searchMessages(query, limit),

    getModelUrl: async ({ id }) => {
      await s.library.servedFile(id); // a clear error for an unknown or unavailable model
      return (s.modelUrl ?? modelUrl)(id);
    },
    getKvBlocks: ({ hashes }) => [...s.kv.getBlocks(hashes).values()].map(toKvRecord),
    getStoredKvHashes: ({ hashes }) => [...s.kv.storedHashes(hashes)],
    putKvBlocks: ({ blocks }) => s.kv.putBlocks(blocks),
    getConversationKv: ({ conversationId }) => {
      s.conversations.getConversation(conversationId); // unknown conversation: a typed not-found error
      const kv = s.kv.conversationTokens(conversationId);
      return kv ? { modelFingerprint: kv.modelFingerprint, tokens: tokensToBytes(kv.tokens), computed: kv.computed, version: kv.version } : null;
    },
    saveConversationKv: ({ conversationId, modelFingerprint, tokens, computed, blockHashes, baseVersion }) => {
      const ids = bytesToTokens(tokens);
      if (computed > ids.length) throw new ApiInputError(`Invalid request to saveConversationKv: computed (${computed}) exceeds the ${ids.length} tokens`);
      return s.kv.saveConversationKv(conversationId, { modelFingerprint, tokens: ids, computed, blockHashes, ...(baseVersion !== undefined ? { baseVersion } : {}) });
    },
    getKvUsage: () => s.kv.usage(),
    getKvStorage: () => kvStorage(s),
    setKvBudget: ({ bytes }) => {
      const budget = kvBudgetOf(s);
      if (!budget.setting) throw new ApiInputError('The KV budget is fixed in this build');
      budget.setting.write(bytes);
      budget.enforce();
      return kvStorage(s);
    },
    forgetConversationKv: ({ conversationId }) => {
      s.conversations.getConversation(conversationId); // unknown conversation: a typed not-found error
      return kvBudgetOf(s).forgetConversation(conversationId);
    },
    getKernelTuning: ({ key }) => kernelTuningOf(s).get(key) ?? null,
    setKernelTuning: ({ key, variant }) => kernelTuningOf(s).set(key, variant),
    clearKernelTuning: ({ adapter }) => kernelTuningOf(s).clearAdapter(adapter),

    listRemoteProviders: () => s.remote.listProviders().map(toProviderInfo),
    addRemoteProvider: (request) => toProviderInfo(s.remote.addProvider(request)),
    updateRemoteProvider: ({ id, ...changes }) => toProviderInfo(s.remote.updateProvider(id, changes)),
    removeRemoteProvider: ({ id }) => s.remote.removeProvider(id),
    listRemoteModels: async ({ providerId }) => (await s.remote.listModels(providerId)).map((m) => ({ id: m.id, ...(m.ownedBy !== undefined ? { ownedBy: m.ownedBy } : {}) })),
    createRemoteConversation: (request) => s.remote.createConversation(request),
    getConversationRemote: ({ conversationId }) => {
      s.conversations.getConversation(conversationId); // unknown conversation: a typed not-found error
      return s.remote.conversationRemote(conversationId);
    },
    remoteSend: ({ conversationId, content, requestId }, ctx) => streamRemote(requestId, ctx, (o) => s.remote.send(conversationId, content, o)),
    remoteContinue: ({ messageId, requestId }, ctx) => streamRemote(requestId, ctx, (o) => s.remote.continue(messageId, o)),
    remoteRegenerate: ({ messageId, requestId }, ctx) => streamRemote(requestId, ctx, (o) => s.remote.regenerate(messageId, o)),
    remoteStop: ({ requestId }) => {
      const controller = running.get(requestId);
      controller?.abort();
      return controller !== undefined;
    },

    getLocalServer: () => localServerOf(s).info(),
    setLocalServer: (request) => localServerOf(s).set(request),
    serverBridgeReply: (message, ctx) => {
      s.bridgeChannel?.deliver(message, ctx.onServerBridge);
    },

    listCuratedModels: () => hubOf(s).curated(),
    searchHub: ({ query, limit }) => hubOf(s).search(query, limit),
    listHubFiles: ({ repo }) => hubOf(s).files(repo),
    probeHubFile: ({ repo, file }) => hubOf(s).probe(repo, file),
    startDownload: ({ repo, file }) => downloadsOf(s).add({ repo, file }),
    pauseDownload: async ({ id }) => {
      await downloadsOf(s).pause(id);
      return downloadsOf(s).get(id);
    },
    resumeDownload: ({ id }) => {
      downloadsOf(s).resume(id);
      return downloadsOf(s).get(id);
    },
    cancelDownload: ({ id }) => downloadsOf(s).cancel(id),
    listDownloads: () => downloadsOf(s).list(),
    getHubSettings: () => hubOf(s).settings(),
    setHubSettings: (changes) => hubOf(s).setSettings(changes),
  };
}

function kernelTuningOf(s: ApiServices): KernelTuningRepository {
  if (!s.kernelTuning) throw new ApiInputError('Kernel tuning is not kept in this build');
  return s.kernelTuning;
}

function kvBudgetOf(s: ApiServices): KvBudget {
  if (!s.kv.budget) throw new ApiInputError('The KV budget is not available in this build');
  return s.kv.budget;
}

/** Bytes of the files under `path` (a file or a folder, not following links); 0 where it does not exist. */
async function bytesUnder(path: string): Promise<number> {
  const st = await lstat(path).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  const entries = await readdir(path).catch(() => [] as string[]);
  let total = 0;
  for (const e of entries) total += await bytesUnder(join(path, e));
  return total;
}

async function kvStorage(s: ApiServices): Promise<KvStorage> {
  const budget = kvBudgetOf(s);
  const usage = budget.usage();
  const paths = s.storagePaths;
  const databaseBytes = paths ? (await Promise.all(['', '-wal', '-shm'].map((x) => bytesUnder(paths.databaseFile + x)))).reduce((a, b) => a + b, 0) : 0;
  const skip = s.kv.lastSkip;
  return {
    totalBytes: usage.totalBytes,
    blocks: usage.blocks,
    conversations: usage.conversations,
    budgetBytes: budget.budgetBytes,
    budgetIsDefault: budget.setting?.read() === undefined,
    databaseBytes,
    modelsFolderBytes: paths ? await bytesUnder(paths.modelsDir) : 0,
    freeBytes: paths ? (volumeSpace(dirname(paths.databaseFile))?.freeBytes ?? null) : null,
    lastSkip: skip ? { reason: skip.reason, at: skip.at } : null,
  };
}

function hubOf(s: ApiServices): HubService {
  if (!s.hub) throw new ApiInputError('The Hub is not available in this build');
  return s.hub;
}

function downloadsOf(s: ApiServices): ModelDownloads {
  if (!s.downloads) throw new ApiInputError('Downloads are not available in this build');
  return s.downloads;
}

function localServerOf(s: ApiServices): LocalServerService {
  if (!s.localServer) throw new ApiInputError('The local server is not available in this build');
  return s.localServer;
}

/** Only the fields the API promises (the provider row never carries the key, but say so by construction). */
function toProviderInfo(p: RemoteProvider): RemoteProviderInfo {
  return { id: p.id, name: p.name, baseUrl: p.baseUrl, hasApiKey: p.hasApiKey, createdAt: p.createdAt, updatedAt: p.updatedAt };
}

function transferOf(s: ApiServices): ConversationTransfer {
  if (!s.transfer) throw new ApiInputError('Conversation export and import are not available here');
  return s.transfer;
}

/** Only the fields the API promises, with the bytes as a plain Uint8Array view (not a Node Buffer). */
function toKvRecord(b: KvBlockRow): StoredKvBlock {
  return { hash: b.hash, modelFingerprint: b.modelFingerprint, layout: b.layout, checksum: b.checksum, bytes: new Uint8Array(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength) };
}

const USER_FACING = [StoreError, ModelLibraryError, ApiInputError, GgufError, RemoteError, HubError, LinkedFolderError];

/** Our typed errors cross with their code and message; anything else is an internal error, logged here. */
export function toApiError(e: unknown): { readonly ok: false; readonly error: ApiError } {
  if (USER_FACING.some((type) => e instanceof type)) {
    const err = e as Error & { code: string };
    return { ok: false, error: { code: err.code, message: err.message } };
  }
  console.error('KVChat API: unexpected error', e);
  const message = e instanceof Error ? e.message : String(e);
  return { ok: false, error: { code: 'internal', message: `Something went wrong inside KVChat: ${message}` } };
}

/** Validates `raw` for `method`, runs its handler, and answers with an ApiResult; never throws. */
export async function invokeApi<M extends ApiMethod>(
  handlers: ApiHandlers,
  method: M,
  raw: unknown,
  context: CallContext = {},
): Promise<ApiResult<ApiValue<M>>> {
  try {
    const payload = parsePayload(method, raw);
    const handler = handlers[method] as (p: ApiPayload<M>, c: CallContext) => ApiValue<M> | Promise<ApiValue<M>>;
    return { ok: true, value: await handler(payload, context) };
  } catch (e) {
    return toApiError(e);
  }
}

/** At most one progress event per `intervalMs`, but always the last of each phase (100% is never dropped). */
export function throttleProgress(send: (p: ModelImportProgress) => void, intervalMs = 100): (p: ModelImportProgress) => void {
  let last = 0;
  let phase: string | undefined;
  return (p) => {
    const t = Date.now();
    if (p.phase !== phase || p.bytesDone >= p.bytesTotal || t - last >= intervalMs) {
      phase = p.phase;
      last = t;
      send(p);
    }
  };
}
