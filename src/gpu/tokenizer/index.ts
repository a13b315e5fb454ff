export { tokenizerFromGguf, Tokenizer } from './tokenizer';
export type { DecodeOptions, EncodeOptions, PieceOptions } from './tokenizer';
export { continuesPrompt, StreamingDecoder } from './streaming-decoder';
export type { StreamingDecodeOptions } from './streaming-decoder';
export { renderChatTemplate, chatFormatOf } from './chat-template';
export type { ChatFormat, ChatMessage, ChatRole, RenderOptions } from './chat-template';
export { encodeChat } from './encode-chat';
export type { EncodeChatOptions } from './encode-chat';
export { ChatTemplateError, TokenizerError } from './errors';
