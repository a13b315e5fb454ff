export type TokenizerErrorCode = 'unsupported-tokenizer' | 'bad-token-id';

/** A tokenizer the engine cannot build, or a token id outside the vocabulary. */
export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;

  constructor(code: TokenizerErrorCode, message: string) {
    super(message);
    this.name = 'TokenizerError';
    this.code = code;
  }
}

export type ChatTemplateErrorCode = 'template-parse' | 'template-render';

/** The model's Jinja chat template could not be parsed or rendered; `message` carries the engine's reason. */
export class ChatTemplateError extends Error {
  readonly code: ChatTemplateErrorCode;

  constructor(code: ChatTemplateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChatTemplateError';
    this.code = code;
  }
}
