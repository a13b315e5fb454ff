export type GgufErrorCode =
  | 'bad-magic'
  | 'unsupported-version'
  | 'truncated'
  | 'corrupt'
  | 'out-of-bounds'
  | 'unsupported-tensor-type'
  | 'unknown-architecture'
  | 'missing-key'
  | 'missing-tensor'
  | 'bad-shape'
  /** A part of a split model (`-0000k-of-0000N.gguf`) is absent, unreadable or not the part it should be. */
  | 'missing-part';

/** The only error the GGUF reader and model loader throw for bad files; `code` says what is wrong. */
export class GgufError extends Error {
  readonly code: GgufErrorCode;

  constructor(code: GgufErrorCode, message: string) {
    super(message);
    this.name = 'GgufError';
    this.code = code;
  }
}
