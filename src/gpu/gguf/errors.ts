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
  | 'bad-shape';

/** The only error the GGUF reader and model loader throw for bad files; `code` says what is wrong. */
export class GgufError extends Error {
  readonly code: GgufErrorCode;

  constructor(code: GgufErrorCode, message: string) {
    super(message);
    this.name = 'GgufError';
    this.code = code;
  }
}
