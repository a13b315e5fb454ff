// Typed errors of remote providers. `code` is stable (the UI branches on it); `message` is for the user and never
// holds the API key (only the provider's host is named, never its full URL, which could carry credentials).
export type RemoteErrorCode =
  | 'invalid-url'
  | 'invalid-provider'
  | 'provider-not-found'
  | 'cipher-unavailable'
  | 'not-remote'
  | 'invalid-message'
  | 'busy'
  | 'unreachable'
  | 'unauthorized'
  | 'rate-limited'
  | 'server-error'
  | 'http-error'
  | 'bad-response'
  | 'stream-dropped'
  | 'timeout'
  /** The server sent more than a limit allows (an endless answer, line or model list). */
  | 'too-large'
  /** A key would go over plain http:// to a host that is not this machine, and that was not confirmed. */
  | 'insecure-key';

export class RemoteError extends Error {
  readonly code: RemoteErrorCode;
  /** HTTP status when the server answered one. */
  readonly status: number | undefined;
  /** The assistant message the failure was saved on, when a reply had begun. */
  messageId: number | undefined;

  constructor(code: RemoteErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RemoteError';
    this.code = code;
    this.status = options.status;
  }
}
