// Incremental detokenization for streaming generated text: a token may carry part of a UTF-8 character (byte
// fallback, byte-level BPE), so bytes of an unfinished character wait until the character is complete.
import type { DecodeOptions, Tokenizer } from './tokenizer';

export type StreamingDecodeOptions = Omit<DecodeOptions, 'cleanSpaces'>;

export class StreamingDecoder {
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  private first: boolean;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly opts: StreamingDecodeOptions = {},
  ) {
    this.first = !opts.continuation;
  }

  /** The text that token `id` completes; '' while a character is still unfinished. */
  push(id: number): string {
    const piece = this.first ? this.tokenizer.firstPiece(id, this.opts) : this.tokenizer.tokenToPiece(id, this.opts);
    this.first = false;
    return this.utf8.decode(piece, { stream: true });
  }

  /** Ends the stream: bytes of a character that never completed come out as U+FFFD. */
  flush(): string {
    return this.utf8.decode();
  }
}

/**
 * Whether generated text continues text of the prompt (keeping its first token's leading space) or starts a text
 * of its own: after a prompt of BOS alone, llama2.c's decoder drops the first piece's leading space.
 */
export function continuesPrompt(prompt: readonly number[], bos: number | undefined): boolean {
  return prompt.some((t) => t !== bos);
}
