// Every payload the renderer sends is parsed here before any handler sees it: exact shapes (unknown keys are
// refused), bounded strings and numbers. A malformed payload becomes an ApiInputError a user can read.
import { z } from 'zod';
import type { EventMethod, KvChatApi } from '../shared/api';

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
} as const;

const rowId = z.int().min(1);
const modelId = z.uuid({ message: 'must be a model id' });
const title = z.string().trim().min(1, 'must not be empty').max(LIMITS.title);
const role = z.enum(['system', 'user', 'assistant']);
const status = z.enum(['complete', 'incomplete', 'error']);
const content = z.string().max(LIMITS.content);
const tokenCount = z.int().min(0).nullable();

export const generationSettings = z
  .strictObject({
    temperature: z.number().min(0).max(5),
    topP: z.number().gt(0).max(1),
    topK: z.int().min(0).max(100_000),
    minP: z.number().min(0).max(1),
    repeatPenalty: z.number().min(0.5).max(3),
    maxTokens: z.int().min(1).max(1_000_000),
    seed: z.int().min(0).max(2 ** 32 - 1).nullable(),
    contextPolicy: z.enum(['stop', 'truncate-middle', 'rolling-window']),
  })
  .partial();

export const messageStats = z.strictObject({
  tokensPerSecond: z.number().min(0).optional(),
  timeToFirstTokenMs: z.number().min(0).optional(),
  promptTokens: z.int().min(0).optional(),
  generatedTokens: z.int().min(0).optional(),
  resumeSource: z.enum(['gpu', 'ram', 'disk', 'prefill']).optional(),
  recomputedTokens: z.int().min(0).optional(),
  stopReason: z.enum(['eos', 'max-tokens', 'cancelled', 'context', 'error']).optional(),
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
const bytes = (max: number) =>
  z.instanceof(Uint8Array, { message: 'must be bytes (Uint8Array)' }).refine((b) => b.byteLength <= max, `must be at most ${max} bytes`);
const kvBlock = z.strictObject({
  hash: blockHash,
  modelFingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 fingerprint'),
  layout: z.record(z.string(), z.unknown()),
  checksum: z.string().min(1).max(128),
  bytes: bytes(LIMITS.kvBlockBytes),
});

// Remote providers: the URL's own rules (http/https, no credentials) are checked by normalizeBaseUrl in the service.
const providerName = z.string().trim().min(1, 'must not be empty').max(LIMITS.providerName);
const baseUrl = z.string().trim().min(1, 'must not be empty').max(LIMITS.baseUrl);
const apiKey = z.string().max(LIMITS.apiKey).refine((k) => !/[\r\n\0]/.test(k), 'must be one line');
const remoteModel = z.string().trim().min(1, 'must not be empty').max(LIMITS.remoteModel);
/** The caller's name for a streaming request (to match its deltas and to stop it). */
const requestId = z.string().regex(/^[\w-]{1,100}$/, 'must be 1 to 100 letters, digits, - or _');

const noPayload = z.undefined({ message: 'takes no payload' });

/** The payload schema of every invoke channel (`on...` event channels carry no request). */
const tokenId = z.int().min(0).max(2 ** 31 - 1);
const bridgeId = z.int().min(1);

/** What the renderer sends back over the local server's bridge. */
const bridgeReply = z.discriminatedUnion('type', [
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

export const API_SCHEMAS = {
  getAppInfo: noPayload,
  listModels: noPayload,
  pickAndImportModel: z.strictObject({ copy: z.boolean() }),
  // On the wire the preload has already turned the dropped File into its path.
  importDroppedModel: z.strictObject({ path: absolutePath, copy: z.boolean() }),
  renameModel: z.strictObject({ id: modelId, name: z.string().trim().min(1, 'must not be empty').max(LIMITS.modelName) }),
  deleteModel: z.strictObject({ id: modelId, confirm: z.literal(true, { message: 'must be true: ask the user first' }) }),
  verifyModel: z.strictObject({ id: modelId }),
  listConversations: noPayload,
  createConversation: z.strictObject({
    title: title.optional(),
    modelId: modelId.nullable().optional(),
    systemPrompt: z.string().max(LIMITS.systemPrompt).optional(),
    settings: generationSettings.optional(),
  }),
  renameConversation: z.strictObject({ id: rowId, title }),
  deleteConversation: z.strictObject({ id: rowId }),
  updateConversationSettings: z.strictObject({
    id: rowId,
    settings: generationSettings.optional(),
    systemPrompt: z.string().max(LIMITS.systemPrompt).optional(),
    modelId: modelId.nullable().optional(),
  }),
  getMessages: z.strictObject({ conversationId: rowId }),
  selectBranch: z.strictObject({ conversationId: rowId, messageId: rowId }),
  appendMessage: z.strictObject({
    conversationId: rowId,
    parentId: rowId.nullable(),
    role,
    content,
    status: status.optional(),
    tokenCount: tokenCount.optional(),
    stats: messageStats.optional(),
  }),
  updateMessage: z.strictObject({
    id: rowId,
    content: content.optional(),
    status: status.optional(),
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
    modelFingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 fingerprint'),
    tokens: bytes(LIMITS.kvTokens * 4).refine((b) => b.byteLength % 4 === 0, 'must hold whole u32 token ids'),
    computed: z.int().min(0),
    blockHashes: z.array(blockHash).max(LIMITS.kvHashes),
  }),
  getKvUsage: noPayload,
  listRemoteProviders: noPayload,
  addRemoteProvider: z.strictObject({ name: providerName, baseUrl, apiKey: apiKey.optional(), allowInsecureKey: z.boolean().optional() }),
  updateRemoteProvider: z.strictObject({
    id: rowId,
    name: providerName.optional(),
    baseUrl: baseUrl.optional(),
    apiKey: apiKey.nullable().optional(),
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
} as const satisfies Record<Exclude<keyof KvChatApi, EventMethod>, z.ZodType>;

export type ApiMethod = keyof typeof API_SCHEMAS;
export type ApiPayload<M extends ApiMethod> = z.output<(typeof API_SCHEMAS)[M]>;

/** A payload that failed validation: code 'invalid-request', and which field was wrong and why. */
export class ApiInputError extends Error {
  readonly code = 'invalid-request';

  constructor(message: string) {
    super(message);
    this.name = 'ApiInputError';
  }
}

function describeIssues(method: string, error: z.ZodError): string {
  const issues = error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  const text = `Invalid request to ${method}: ${issues.join('; ')}`;
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

export function parsePayload<M extends ApiMethod>(method: M, raw: unknown): ApiPayload<M> {
  const schema: z.ZodType = API_SCHEMAS[method];
  const result = schema.safeParse(raw);
  if (!result.success) throw new ApiInputError(describeIssues(method, result.error));
  return result.data as ApiPayload<M>;
}
