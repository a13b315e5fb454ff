// Remote OpenAI-compatible servers, main process only (the API key never reaches the renderer). The API layer
// constructs one RemoteService over the store and Electron's safeStorage:
//   new RemoteService({ db, conversations, messages, cipher: electronSafeStorageCipher(safeStorage) })
export { RemoteService } from './service';
export type { NewRemoteConversation, RemoteLink, RemoteServiceDeps, ReplyOptions } from './service';
export { ProviderRepository } from './providers';
export type { NewRemoteProvider, RemoteProvider, RemoteProviderChanges } from './providers';
export { OpenAiRemoteClient, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_RESPONSE_LIMITS, DEFAULT_RETRY_POLICY } from './client';
export type {
  RemoteChatMessage,
  RemoteClientOptions,
  RemoteChatRequest,
  RemoteChatResult,
  RemoteEndpoint,
  RemoteModel,
  ResponseLimits,
  RetryPolicy,
} from './client';
export { electronSafeStorageCipher } from './cipher';
export type { SafeStorageLike, SecretCipher } from './cipher';
export { RemoteError } from './errors';
export type { RemoteErrorCode } from './errors';
export { isLoopbackHost, normalizeBaseUrl, sendsKeyInClear } from './url';
export { DEFAULT_MAX_SSE_LINE, SseParser, SseTooLongError } from './sse';
export type { SseEvent } from './sse';
export { retryAfterMs } from './retry-after';
