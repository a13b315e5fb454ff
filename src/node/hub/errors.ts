// The one error the Hub client, the probe and the downloader throw: `code` says what went wrong, the message says
// it to a user (which repository, which file, what to do).
export type HubErrorCode =
  | 'not-found' // unknown repository, revision or file
  | 'http' // an answer the client cannot use (4xx other than 404, 5xx after every retry)
  | 'network' // no answer after every retry
  | 'bad-response' // JSON of the wrong shape, a Content-Range that does not match the request
  | 'unsupported-model' // the GGUF header says the engine cannot run the file
  | 'no-checksum' // the file has no LFS sha256 to verify against
  | 'checksum-mismatch'
  | 'no-space'
  | 'aborted';

export class HubError extends Error {
  /** The HTTP status behind an `http` or `not-found` error. */
  readonly status: number | undefined;

  constructor(
    readonly code: HubErrorCode,
    message: string,
    options?: { cause?: unknown; readonly status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.status = options?.status;
  }

}
