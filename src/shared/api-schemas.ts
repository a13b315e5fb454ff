// The payload schema of every invoke channel: exact shapes (unknown keys are refused), bounded strings and numbers.
// They are the contract's single source: src/shared/api.ts derives every request type from them, and main parses
// every payload with them (src/main/api-schemas.ts) before any handler sees it.
import { z } from 'zod';
import type { StoredKvBlock } from '../gpu/kv/cache';
import type { EventMethod, KvChatApi } from './api';

export const LIMITS = {
  title: 200,
  providerName: 200,
  baseUrl: 2048,
  apiKey: 4096,
  remoteModel: 500,
  modelName: 200,
  /** Characters in one message: a long pasted document, not an unbounded one. */
  content: 1_000_000,
  systemPrompt: 100_000,
  query: 500,
  path: 4096,
  searchResults: 200,
  errorMessage: 2000,
  /** Block hashes in one KV call: a 128K-token conversation has 8192 blocks. */
  kvHashes: 16_384,
  /** Blocks written in one call (the engine persists in batches). */
  kvBlocks: 4096,
  /** Bytes of one KV block (a large model's 16 tokens in f32: well under this). */
  kvBlockBytes: 64 * 2 ** 20,
  /** Tokens in one conversation's history. */
  kvTokens: 4 * 2 ** 20,
  /** Characters of an imported conversation file: its KV blocks in base64 make it large (V8's string limit is ~512 MiB). */
  conversationImportChars: 500 * 2 ** 20,
  hubQuery: 200,
  hubPath: 1000,
  hubToken: 4096,
  /** Characters of a kernel tuning key (adapter description and model shapes) or of an adapter description. */
  tuningKey: 2000,
} as const;

const rowId = z.int().min(1);
const modelId = z.uuid({ message: 'must be a model id' });
const title = z.string().trim().min(1, 'must not be empty').max(LIMITS.title);
export const messageRole = z.enum(['system', 'user', 'assistant']);
export const messageStatus = z.enum(['complete', 'incomplete', 'error']);
const content = z.string().max(LIMITS.content);
const tokenCount = z.int().min(0).nullable();

/** A conversation's sampling and context settings, every one present (a request sends any subset). */
export const fullGenerationSettings = z.strictObject({
  temperature: z.number().min(0).max(5),
  topP: z.number().gt(0).max(1),
  /** 0: no top-k cut. */
  topK: z.int().min(0).max(100_000),
  minP: z.number().min(0).max(1),
  repeatPenalty: z.number().min(0.5).max(3),
  /** Tokens per answer. */
  maxTokens: z.int().min(1).max(1_000_000),
  /** null: a fresh random seed per answer. */
  seed: z.int().min(0).max(2 ** 32 - 1).nullable(),
  contextPolicy: z.enum(['stop', 'truncate-middle', 'rolling-window']),
  /** false: a model whose template has a thinking switch (Qwen3's enable_thinking) answers without reasoning. Absent: on. */
  thinking: z.boolean().optional(),
  /** gpt-oss's reasoning effort (its template's reasoning_effort), for a template that reads it. Absent: its default (medium). */
  reasoningEffort: z.enum(['low', 'medium', 'high']).optional(),
});

export const generationSettings = fullGenerationSettings.partial();

/** How an answer was produced; every field optional (a user message has none). */
export const messageStats = z.strictObject({
  tokensPerSecond: z.number().min(0).optional(),
  /** Milliseconds from send to the first token. */
  timeToFirstTokenMs: z.number().min(0).optional(),
  promptTokens: z.int().min(0).optional(),
  generatedTokens: z.int().min(0).optional(),
  /** Where the conversation's KV cache came from when this answer started. */
  resumeSource: z.enum(['gpu', 'ram', 'disk', 'prefill']).optional(),
  /** Tokens recomputed by prefill on resume. */
  recomputedTokens: z.int().min(0).optional(),
  /** 'context': the conversation reached the model's context under the 'stop' policy. */
  stopReason: z.enum(['eos', 'max-tokens', 'cancelled', 'context', 'error']).optional(),
  /** Tokens of the conversation left out of the model's view to fit its context (the overflow policy). */
  droppedTokens: z.int().min(0).optional(),
  errorMessage: z.string().max(LIMITS.errorMessage).optional(),
});

// An absolute path, as the OS dialog or webUtils.getPathForFile gives it; never relative, never with NUL.
const absolutePath = z
  .string()
  .min(1)
  .max(LIMITS.path)
  .refine((p) => !p.includes('\0') && (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\')), 'must be an absolute file path');

const blockHash = z.string().regex(/^[0-9a-f]{8,128}$/, 'must be a hex block hash');
const modelFingerprint = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 fingerprint');
const tuningKey = z.string().max(LIMITS.tuningKey).startsWith('kernel-variant/', 'must be a kernel tuning key');
// Typed as any Uint8Array, not InstanceType's Uint8Array<ArrayBuffer>: a Node Buffer or a view of a shared buffer is one.
const uint8Array = z.instanceof(Uint8Array, { message: 'must be bytes (Uint8Array)' }) as z.ZodType<Uint8Array, Uint8Array>;
const bytes = (max: number) => uint8Array.refine((b) => b.byteLength <= max, `must be at most ${max} bytes`);

/** One persisted KV block on the wire: exactly the engine's StoredKvBlock (src/gpu/kv/cache.ts), checked here. */
export const kvBlock = z.strictObject({
  hash: blockHash,
  modelFingerprint,
  /** Engine-defined layout (dtype, layers, heads...), checked before the bytes are used. */
  layout: z.record(z.string(), z.unknown()),
  /** xxHash64 of the bytes; the store computes it when absent and refuses a block whose checksum does not match. */
  checksum: z.string().min(1).max(128).optional(),
  bytes: bytes(LIMITS.kvBlockBytes),
}) satisfies z.ZodType<StoredKvBlock, StoredKvBlock>;

// Remote providers: the URL's own rules (http/https, no credentials) are checked by normalizeBaseUrl in the service.
const providerName = z.string().trim().min(1, 'must not be empty').max(LIMITS.providerName);
const baseUrl = z.string().trim().min(1, 'must not be empty').max(LIMITS.baseUrl);
const apiKey = z.string().max(LIMITS.apiKey).refine((k) => !/[\r\n\0]/.test(k), 'must be one line');
const remoteModel = z.string().trim().min(1, 'must not be empty').max(LIMITS.remoteModel);
/** The caller's name for a streaming request (to match its deltas and to stop it). */
const requestId = z.string().regex(/^[\w-]{1,100}$/, 'must be 1 to 100 letters, digits, - or _');

// The Hub: owner/name as the Hub spells it; a file path inside the repository, never climbing out of it.
const hubRepo = z.string().regex(/^[\w.-]{1,96}\/[\w.-]{1,96}$/, 'must be owner/name').refine((r) => !r.includes('..'), 'must be owner/name');
const hubFile = z
  .string()
  .min(1)
  .max(LIMITS.hubPath)
  .refine((p) => !p.includes('\0') && !p.startsWith('/') && !p.split('/').includes('..') && /\.gguf$/i.test(p), 'must be a .gguf file of the repository');
const hubToken = z.string().max(LIMITS.hubToken).refine((k) => !/[\r\n\0\s]/.test(k), 'must be one word');

const noPayload = z.undefined({ message: 'takes no payload' });

const tokenId = z.int().min(0).max(2 ** 31 - 1);
const bridgeId = z.int().min(1);

/** What the renderer sends back over the local server's bridge. */
const bridgeReply = z.discriminatedUnion('type', [
  /** The model now loaded in the engine (modelId null: none, or it is loading). */
  z.strictObject({ type: z.literal('model'), modelId: z.string().max(200).nullable(), contextLength: z.int().min(0), kvBlocks: z.int().min(0) }),
  z.strictObject({ type: z.literal('token'), id: bridgeId, token: tokenId }),
  z.strictObject({
    type: z.literal('done'),
    id: bridgeId,
    result: z.strictObject({
      tokens: z.array(tokenId).max(LIMITS.kvTokens),
      stopReason: z.enum(['eos', 'max-tokens', 'context', 'aborted']),
      promptTokens: z.int().min(0),
      cachedTokens: z.int().min(0),
    }),
  }),
  z.strictObject({ type: z.literal('error'), id: bridgeId, message: z.string().max(LIMITS.errorMessage) }),
]);

/** The payload schema of every invoke channel (`on...` event channels carry no request). */
export const API_SCHEMAS = {
  getAppInfo: noPayload,
  listModels: noPayload,
  /** `copy`: copy the file into the app's models folder (true) or reference it where it is (false). */
  pickAndImportModel: z.strictObject({ copy: z.boolean() }),
  // On the wire the preload has already turned the dropped File into its path.
  importDroppedModel: z.strictObject({ path: absolutePath, copy: z.boolean() }),
  renameModel: z.strictObject({ id: modelId, name: z.string().trim().min(1, 'must not be empty').max(LIMITS.modelName) }),
  deleteModel: z.strictObject({ id: modelId, confirm: z.literal(true, { message: 'must be true: ask the user first' }) }),
  verifyModel: z.strictObject({ id: modelId }),
  findLocalModels: noPayload,
  /** A path findLocalModels returned (main checks it is one); registered in place. */
  addLocalModel: z.strictObject({ path: absolutePath }),
  linkModelFolder: noPayload,
  listLinkedFolders: noPayload,
  /** A folder listLinkedFolders returned. */
  unlinkModelFolder: z.strictObject({ path: absolutePath }),
  listConversations: noPayload,
  createConversation: z.strictObject({
    title: title.optional(),
    modelId: modelId.nullable().optional(),
    systemPrompt: z.string().max(LIMITS.systemPrompt).optional(),
    settings: generationSettings.optional(),
  }),
  renameConversation: z.strictObject({ id: rowId, title }),
  deleteConversation: z.strictObject({ id: rowId }),
  /** The conversation as file text: JSON (imports back; optionally with its KV blocks) or Markdown (to read). */
  exportConversation: z.strictObject({ id: rowId, format: z.enum(['json', 'markdown']), includeKv: z.boolean().optional() }),
  /** An exported JSON document's text; always imported as a new conversation. */
  importConversation: z.strictObject({ text: z.string().min(1).max(LIMITS.conversationImportChars) }),
  updateConversationSettings: z.strictObject({
    id: rowId,
    settings: generationSettings.optional(),
    systemPrompt: z.string().max(LIMITS.systemPrompt).optional(),
    modelId: modelId.nullable().optional(),
  }),
  setConversationPinned: z.strictObject({ id: rowId, pinned: z.boolean() }),
  getMessages: z.strictObject({ conversationId: rowId }),
  selectBranch: z.strictObject({ conversationId: rowId, messageId: rowId }),
  appendMessage: z.strictObject({
    conversationId: rowId,
    parentId: rowId.nullable(),
    role: messageRole,
    content,
    reasoning: content.optional(),
    status: messageStatus.optional(),
    tokenCount: tokenCount.optional(),
    stats: messageStats.optional(),
  }),
  updateMessage: z.strictObject({
    id: rowId,
    content: content.optional(),
    reasoning: content.optional(),
    status: messageStatus.optional(),
    tokenCount: tokenCount.optional(),
    stats: messageStats.optional(),
  }),
  searchMessages: z.strictObject({ query: z.string().max(LIMITS.query), limit: z.int().min(1).max(LIMITS.searchResults).optional() }),
  getModelUrl: z.strictObject({ id: modelId }),
  getKvBlocks: z.strictObject({ hashes: z.array(blockHash).max(LIMITS.kvHashes) }),
  getStoredKvHashes: z.strictObject({ hashes: z.array(blockHash).max(LIMITS.kvHashes) }),
  putKvBlocks: z.strictObject({ blocks: z.array(kvBlock).max(LIMITS.kvBlocks) }),
  getConversationKv: z.strictObject({ conversationId: rowId }),
  saveConversationKv: z.strictObject({
    conversationId: rowId,
    modelFingerprint,
    /** u32 little-endian token ids. */
    tokens: bytes(LIMITS.kvTokens * 4).refine((b) => b.byteLength % 4 === 0, 'must hold whole u32 token ids'),
    /** How many leading tokens had K/V computed (the rest were pending). */
    computed: z.int().min(0),
    /** Logical block i -> the hash of a stored block. */
    blockHashes: z.array(blockHash).max(LIMITS.kvHashes),
    /** The history version this save continues (getConversationKv's; 0: never saved); another writer's save since refuses it. */
    baseVersion: z.int().min(0).optional(),
  }),
  getKvUsage: noPayload,
  getKvStorage: noPayload,
  /** The KV disk budget in bytes; null goes back to the default (min(8 GiB, 10% of the volume)). */
  setKvBudget: z.strictObject({ bytes: z.int().min(0).nullable() }),
  forgetConversationKv: z.strictObject({ conversationId: rowId }),
  // Kernel variants measured on this device (src/gpu/tuning): keys are `kernel-variant/v<n>/<kernel>/<adapter>/<shape>`.
  getKernelTuning: z.strictObject({ key: tuningKey }),
  setKernelTuning: z.strictObject({ key: tuningKey, variant: z.string().regex(/^[\w.-]{1,64}$/, 'must be a variant name') }),
  clearKernelTuning: z.strictObject({ adapter: z.string().min(1).max(LIMITS.tuningKey) }),
  listRemoteProviders: noPayload,
  addRemoteProvider: z.strictObject({
    name: providerName,
    baseUrl,
    /** Omitted or empty: the server needs no key. */
    apiKey: apiKey.optional(),
    /** The user confirmed sending the key over plain http:// to another machine (else refused: 'insecure-key'). */
    allowInsecureKey: z.boolean().optional(),
  }),
  updateRemoteProvider: z.strictObject({
    id: rowId,
    name: providerName.optional(),
    /** Another origin (scheme, host, port) drops the stored key, unless a new one comes with it. */
    baseUrl: baseUrl.optional(),
    /** A string replaces the key, '' or null removes it, omitted keeps it. */
    apiKey: apiKey.nullable().optional(),
    /** The user confirmed sending the key over plain http:// to another machine (else refused: 'insecure-key'). */
    allowInsecureKey: z.boolean().optional(),
  }),
  removeRemoteProvider: z.strictObject({ id: rowId }),
  listRemoteModels: z.strictObject({ providerId: rowId }),
  createRemoteConversation: z.strictObject({
    providerId: rowId,
    model: remoteModel,
    title: title.optional(),
    systemPrompt: z.string().max(LIMITS.systemPrompt).optional(),
  }),
  getConversationRemote: z.strictObject({ conversationId: rowId }),
  remoteSend: z.strictObject({ conversationId: rowId, content: content.refine((c) => c.trim() !== '', 'must not be empty'), requestId }),
  remoteContinue: z.strictObject({ messageId: rowId, requestId }),
  remoteRegenerate: z.strictObject({ messageId: rowId, requestId }),
  remoteStop: z.strictObject({ requestId }),

  getLocalServer: noPayload,
  setLocalServer: z.strictObject({
    enabled: z.boolean(),
    port: z.int().min(1024, 'must be 1024-65535').max(65535, 'must be 1024-65535'),
    apiKey: z.string().max(LIMITS.apiKey).optional(),
  }),
  serverBridgeReply: bridgeReply,

  listCuratedModels: noPayload,
  searchHub: z.strictObject({ query: z.string().trim().max(LIMITS.hubQuery), limit: z.int().min(1).max(100).optional() }),
  listHubFiles: z.strictObject({ repo: hubRepo }),
  probeHubFile: z.strictObject({ repo: hubRepo, file: hubFile }),
  startDownload: z.strictObject({ repo: hubRepo, file: hubFile }),
  pauseDownload: z.strictObject({ id: rowId }),
  resumeDownload: z.strictObject({ id: rowId }),
  cancelDownload: z.strictObject({ id: rowId }),
  listDownloads: noPayload,
  getHubSettings: noPayload,
  setHubSettings: z.strictObject({
    /** A URL (http or https), or null / '' for the default (HF_ENDPOINT, else huggingface.co); omitted keeps it. */
    endpoint: z.string().trim().max(LIMITS.baseUrl).nullable().optional(),
    /** A string stores it (encrypted), '' or null removes it, omitted keeps it. */
    token: hubToken.nullable().optional(),
  }),
} as const satisfies Record<Exclude<keyof KvChatApi, EventMethod>, z.ZodType>;

export type ApiMethod = keyof typeof API_SCHEMAS;

/**
 * `T` with every property and array readonly, to the leaves (bytes stay Uint8Array): what a caller may pass, so that
 * its own readonly arrays are accepted. Readonly is a compile-time promise only; nothing is frozen.
 */
export type ReadonlyDeep<T> = unknown extends T
  ? T
  : T extends Uint8Array | string | number | boolean | bigint | symbol | null | undefined
    ? T
    : T extends readonly (infer E)[]
      ? readonly ReadonlyDeep<E>[]
      : { readonly [K in keyof T]: ReadonlyDeep<T[K]> };

/** What the renderer sends to `M`: the schema's input shape. */
export type ApiRequest<M extends ApiMethod> = ReadonlyDeep<z.input<(typeof API_SCHEMAS)[M]>>;

/** What main's handler for `M` receives: the schema's parsed output. */
export type ApiPayload<M extends ApiMethod> = z.output<(typeof API_SCHEMAS)[M]>;
