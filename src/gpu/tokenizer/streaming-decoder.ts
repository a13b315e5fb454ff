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
