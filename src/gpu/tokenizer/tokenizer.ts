// The tokenizer built from a model's GGUF metadata: SentencePiece-style ("llama") or byte-level BPE ("gpt2").
import { GgufError } from '../gguf/errors';
import { optionalBool, optionalString, type Metadata } from '../gguf/metadata';
import { bpeTokenizeWord, MergeRanks } from './bpe';
import { cleanUpSpaces, concatBytes, renderPiece, stripLeadingSpace, type VocabKind } from './decode';
import { TokenizerError } from './errors';
import { preTokenize, preTokenizerFor, type PreTokenizer } from './pretokenize';
import { partitionSpecial, type Fragment } from './special';
import { spmTokenize } from './spm';
import { readVocab, TokenAttr, type Vocab } from './vocab';

export interface EncodeOptions {
  /** Prepend BOS; defaults to the model's `tokenizer.ggml.add_bos_token` (llama.cpp's add_special). */
  addBos?: boolean;
  /** Append EOS; defaults to the model's `tokenizer.ggml.add_eos_token`. */
  addEos?: boolean;
  /** Match control tokens such as `<|im_start|>` in the text; off for text a user typed. */
  parseSpecial?: boolean;
}

export interface PieceOptions {
  /** Render control and unknown tokens as their text instead of nothing. */
  special?: boolean;
}

export interface DecodeOptions extends PieceOptions {
  /**
   * The ids continue earlier text (a prompt), so the first token keeps its leading space. Without it the first
   * token loses the space a SentencePiece tokenizer prepends, as in llama.cpp's detokenize.
   */
  continuation?: boolean;
  /** Apply llama.cpp's clean_up_tokenization_spaces where the vocabulary asks for it (GPT-2 style BPE). */
  cleanSpaces?: boolean;
}

interface TextEncoderModel {
  readonly kind: VocabKind;
  /** Tokenizes the text fragments between special tokens. */
  encodeFragments(fragments: readonly Fragment[], out: number[]): void;
}

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Encoder = new TextEncoder();
const SURROGATE = /\p{Surrogate}/u;
const NO_BYTES = new Uint8Array(0);

/** Lone UTF-16 surrogates become U+FFFD, as they would in the UTF-8 text llama.cpp receives. */
function wellFormed(text: string): string {
  return SURROGATE.test(text) ? utf8Decoder.decode(utf8Encoder.encode(text)) : text;
}

class SpmModel implements TextEncoderModel {
  readonly kind = 'spm';

  constructor(
    private readonly vocab: Vocab,
    private readonly addSpacePrefix: boolean,
  ) {}

  encodeFragments(fragments: readonly Fragment[], out: number[]): void {
    let afterSpecial = true;
    for (const f of fragments) {
      if ('token' in f) {
        out.push(f.token);
        afterSpecial = true;
        continue;
      }
      const text = (this.addSpacePrefix && afterSpecial ? ' ' : '') + f.text;
      spmTokenize(this.vocab, text.replaceAll(' ', '\u2581'), out);
      afterSpecial = false;
    }
  }
}

class BpeModel implements TextEncoderModel {
  readonly kind = 'bpe';

  constructor(
    private readonly vocab: Vocab,
    private readonly ranks: MergeRanks,
    private readonly preTokenizer: PreTokenizer,
  ) {}

  encodeFragments(fragments: readonly Fragment[], out: number[]): void {
    for (const f of fragments) {
      if ('token' in f) {
        out.push(f.token);
        continue;
      }
      for (const word of preTokenize(f.text, this.preTokenizer)) {
        bpeTokenizeWord(this.vocab, this.ranks, word, this.preTokenizer.ignoreMerges, out);
      }
    }
  }
}

export interface TokenizerFlags {
  readonly addBosDefault: boolean;
  readonly addEosDefault: boolean;
  readonly addSpacePrefix: boolean;
  readonly cleanSpaces: boolean;
}

export class Tokenizer {
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  /** End of turn (`<|eot_id|>`, `<|im_end|>`, ...) where the model has one. */
  readonly eot: number | undefined;
  readonly endOfGeneration: ReadonlySet<number>;
  readonly addBosDefault: boolean;
  readonly addEosDefault: boolean;
  readonly addSpacePrefix: boolean;
  private readonly cleanSpaces: boolean;
  private readonly pieces: (Uint8Array | undefined)[];

  constructor(
    private readonly vocab: Vocab,
    private readonly model: TextEncoderModel,
    flags: TokenizerFlags,
    /** Things the user may want to know, e.g. an unknown pre-tokenizer replaced by GPT-2's. */
    readonly warnings: readonly string[] = [],
  ) {
    this.vocabSize = vocab.texts.length;
    this.bos = vocab.bos;
    this.eos = vocab.eos;
    this.eot = vocab.eot;
    this.endOfGeneration = vocab.endOfGeneration;
    this.addBosDefault = flags.addBosDefault && vocab.bos !== undefined;
    this.addEosDefault = flags.addEosDefault && vocab.eos !== undefined;
    this.addSpacePrefix = flags.addSpacePrefix;
    this.cleanSpaces = flags.cleanSpaces;
    this.pieces = new Array<Uint8Array | undefined>(this.vocabSize);
  }

  get kind(): VocabKind {
    return this.model.kind;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.addBosDefault) && this.bos !== undefined) out.push(this.bos);
    this.model.encodeFragments(partitionSpecial(wellFormed(text), this.vocab, opts.parseSpecial ?? false), out);
    if ((opts.addEos ?? this.addEosDefault) && this.eos !== undefined) out.push(this.eos);
    return out;
  }

  /** The token's text as stored in the vocabulary (`▁Hello`, `ĠHello`, `<|im_end|>`). */
  tokenText(id: number): string {
    this.checkId(id);
    return this.vocab.texts[id]!;
  }

  /** Control and unknown tokens: they decode to nothing unless special pieces are asked for. Checks the id. */
  isControl(id: number): boolean {
    this.checkId(id);
    return (this.vocab.attrs[id]! & (TokenAttr.CONTROL | TokenAttr.UNKNOWN)) !== 0;
  }

  isEndOfGeneration(id: number): boolean {
    return this.endOfGeneration.has(id);
  }

  /**
   * The raw bytes a token stands for, possibly part of a UTF-8 character; shared, so never modify them. Control and
   * unknown tokens give none unless `special`.
   */
  tokenToPiece(id: number, opts: PieceOptions = {}): Uint8Array {
    if (this.isControl(id) && !opts.special) return NO_BYTES;
    let piece = this.pieces[id];
    if (!piece) {
      piece = renderPiece(this.vocab, this.model.kind, id);
      this.pieces[id] = piece;
    }
    return piece;
  }

  /** The piece of a token that opens a text: without the prefix space when the tokenizer adds one. */
  firstPiece(id: number, opts: PieceOptions = {}): Uint8Array {
    const piece = this.tokenToPiece(id, opts);
    return this.addSpacePrefix ? stripLeadingSpace(piece) : piece;
  }

  decodeBytes(ids: readonly number[], opts: DecodeOptions = {}): Uint8Array {
    const parts = ids.map((id, i) =>
      i === 0 && !opts.continuation ? this.firstPiece(id, opts) : this.tokenToPiece(id, opts),
    );
    const bytes = concatBytes(parts);
    return opts.cleanSpaces && this.cleanSpaces ? cleanUpSpaces(bytes) : bytes;
  }

  /** Text of the ids; bytes that are not valid UTF-8 (a cut multi-byte character) become U+FFFD. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return utf8Decoder.decode(this.decodeBytes(ids, opts));
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError('bad-token-id', `token id ${id} is outside the vocabulary of ${this.vocabSize} tokens`);
    }
  }
}

function spmTokenizer(meta: Metadata): Tokenizer {
  const vocab = readVocab(meta, { bos: 1, eos: 2, unk: 0 });
  const addSpacePrefix = optionalBool(meta, 'tokenizer.ggml.add_space_prefix') ?? true;
  return new Tokenizer(vocab, new SpmModel(vocab, addSpacePrefix), {
    addBosDefault: optionalBool(meta, 'tokenizer.ggml.add_bos_token') ?? true,
    addEosDefault: optionalBool(meta, 'tokenizer.ggml.add_eos_token') ?? false,
    addSpacePrefix,
    cleanSpaces: false,
  });
}

function readMerges(meta: Metadata): string[] {
  const merges = meta.get('tokenizer.ggml.merges');
  if (merges === undefined) throw new GgufError('missing-key', "the model's metadata has no tokenizer.ggml.merges");
  if (!Array.isArray(merges) || !merges.every((m) => typeof m === 'string')) {
    throw new GgufError('corrupt', 'metadata tokenizer.ggml.merges should be an array of strings');
  }
  return merges as string[];
}

function bpeTokenizer(meta: Metadata): Tokenizer {
  const vocab = readVocab(meta, { bos: 11, eos: 11, unk: undefined });
  const { preTokenizer, warning } = preTokenizerFor(optionalString(meta, 'tokenizer.ggml.pre'));
  const model = new BpeModel(vocab, new MergeRanks(readMerges(meta)), preTokenizer);
  const flags = {
    addBosDefault: optionalBool(meta, 'tokenizer.ggml.add_bos_token') ?? preTokenizer.addBos,
    addEosDefault: optionalBool(meta, 'tokenizer.ggml.add_eos_token') ?? false,
    addSpacePrefix: optionalBool(meta, 'tokenizer.ggml.add_space_prefix') ?? false,
    cleanSpaces: preTokenizer.cleanSpaces,
  };
  return new Tokenizer(vocab, model, flags, warning ? [warning] : []);
}

/** Builds the model's tokenizer from its GGUF metadata (`tokenizer.ggml.*`). */
export function tokenizerFromGguf(meta: Metadata): Tokenizer {
  const model = optionalString(meta, 'tokenizer.ggml.model');
  if (model === undefined) throw new GgufError('missing-key', "the model's metadata has no tokenizer.ggml.model");
  if (model === 'llama') return spmTokenizer(meta);
  if (model === 'gpt2') return bpeTokenizer(meta);
  throw new TokenizerError('unsupported-tokenizer', `tokenizer "${model}" is not supported (only "llama" and "gpt2")`);
}
