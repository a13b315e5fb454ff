// Every payload the renderer sends is parsed here before any handler sees it: exact shapes (unknown keys are
// refused), bounded strings and numbers. A malformed payload becomes an ApiInputError a user can read.
import { z } from 'zod';
import type { KvChatApi } from '../shared/api';

export const LIMITS = {
  title: 200,
  modelName: 200,
  /** Characters in one message: a long pasted document, not an unbounded one. */
  content: 1_000_000,
  systemPrompt: 100_000,
  query: 500,
  path: 4096,
  searchResults: 200,
  errorMessage: 2000,
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
  })
  .partial();

export const messageStats = z.strictObject({
  tokensPerSecond: z.number().min(0).optional(),
  timeToFirstTokenMs: z.number().min(0).optional(),
  promptTokens: z.int().min(0).optional(),
  generatedTokens: z.int().min(0).optional(),
  resumeSource: z.enum(['gpu', 'ram', 'disk', 'prefill']).optional(),
  recomputedTokens: z.int().min(0).optional(),
  stopReason: z.enum(['eos', 'max-tokens', 'cancelled', 'error']).optional(),
  errorMessage: z.string().max(LIMITS.errorMessage).optional(),
});

// An absolute path, as the OS dialog or webUtils.getPathForFile gives it; never relative, never with NUL.
const absolutePath = z
  .string()
  .min(1)
  .max(LIMITS.path)
  .refine((p) => !p.includes('\0') && (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\')), 'must be an absolute file path');

const noPayload = z.undefined({ message: 'takes no payload' });

/** The payload schema of every invoke channel (`on...` event channels carry no request). */
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
} as const satisfies Record<Exclude<keyof KvChatApi, 'onModelImportProgress'>, z.ZodType>;

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
