// Every failure a client can see, as OpenAI's error object ({error: {message, type, param, code}}) with its HTTP
// status. Handlers throw ApiError; the router turns anything else into a 500 server_error.

export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';

export interface OpenAiErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: ApiErrorType;
    readonly param: string | null;
    readonly code: string | null;
  };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType,
    readonly code: string | null,
    readonly param: string | null = null,
    /** Response headers the status calls for (Allow on a 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, code: string, param: string | null = null): ApiError =>
  new ApiError(400, message, 'invalid_request_error', code, param);

export const unauthorized = (): ApiError =>
  new ApiError(401, 'Missing or incorrect API key: send it as "Authorization: Bearer <key>".', 'authentication_error', 'invalid_api_key');

export const modelNotFound = (model: string, served: string): ApiError =>
  new ApiError(404, `The model '${model}' does not exist; this server serves '${served}'.`, 'invalid_request_error', 'model_not_found', 'model');

export const routeNotFound = (method: string, path: string): ApiError =>
  new ApiError(404, `Invalid URL (${method} ${path}).`, 'invalid_request_error', 'unknown_url');

export const methodNotAllowed = (method: string, path: string, allowed: readonly string[]): ApiError =>
  new ApiError(405, `${method} is not allowed on ${path}; use ${allowed.join(' or ')}.`, 'invalid_request_error', 'method_not_allowed', null, { allow: allowed.join(', ') });

export const bodyTooLarge = (limit: number): ApiError =>
  new ApiError(413, `The request body exceeds this server's limit of ${limit} bytes.`, 'invalid_request_error', 'request_too_large');

/** 429: the admission queue is full; the client should come back after `retryAfterS` seconds. */
export const tooManyRequests = (message: string, retryAfterS: number): ApiError =>
  new ApiError(429, message, 'rate_limit_error', 'rate_limit_exceeded', null, { 'retry-after': String(retryAfterS) });

/** 503: the server cannot take the request now (waited too long for room, shutting down, no model loaded yet). */
export const serviceUnavailable = (message: string, code: string, retryAfterS?: number): ApiError =>
  new ApiError(503, message, 'server_error', code, null, retryAfterS === undefined ? {} : { 'retry-after': String(retryAfterS) });

export const contextLengthExceeded = (message: string, param: string): ApiError => badRequest(message, 'context_length_exceeded', param);

/** Any error as an ApiError: unexpected ones become a 500 whose message still says what went wrong. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ApiError(500, `The server failed to process the request: ${message}`, 'server_error', null);
}
