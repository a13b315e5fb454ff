// Typed errors of the model library. `code` is stable; `message` names the file or model and what to do.
export type ModelLibraryErrorCode =
  | 'file-not-found'
  | 'not-a-file'
  | 'invalid-model'
  | 'file-changed'
  | 'duplicate'
  | 'copy-failed'
  | 'model-not-found'
  | 'model-unavailable'
  | 'invalid-name'
  | 'confirmation-required';

export class ModelLibraryError extends Error {
  readonly code: ModelLibraryErrorCode;

  constructor(code: ModelLibraryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelLibraryError';
    this.code = code;
  }
}
