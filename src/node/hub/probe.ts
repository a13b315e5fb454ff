// Before any large transfer: read the GGUF header of a remote file with HTTP Range requests (growing the range until
// the header parses, never fetching a byte twice) and say whether the engine can run it: architecture, the type of
// every tensor the forward pass reads, tokenizer, context length. Nothing past the header is read.
import { GgufError } from '../../gpu/gguf/errors';
import { httpSource } from '../../gpu/gguf/http-source';
import { readGgufHeader, type ByteSource } from '../../gpu/gguf/reader';
import { mergeSplitHeaders } from '../../gpu/gguf/split';
import { ggmlTypeName, type GgufHeader, type GgufTensorInfo } from '../../gpu/gguf/types';
import { GPU_WEIGHT_TYPES } from '../../gpu/kernels/weights';
import { kvKinds } from '../../gpu/kv/layout';
import { expectedTensorShapes, readModelConfig, SUPPORTED_ARCHITECTURES } from '../../gpu/model/config';
import { mlaKvRow } from '../../gpu/model/deepseek2';
import { tokenizerFromGguf } from '../../gpu/tokenizer';
import { HubError } from './errors';

export interface ModelProbe {
  readonly supported: boolean;
  /** Why the engine cannot run it ("architecture phi3 is not supported yet"); absent when supported. */
  readonly reason?: string;
  readonly architecture: string | null;
  readonly contextLength: number | null;
  /** Tensor count by type name, over every tensor of the file. */
  readonly tensorTypes: Readonly<Record<string, number>>;
  /** tokenizer.ggml.model ("llama", "gpt2"), or null. */
  readonly tokenizer: string | null;
  /** Bytes before the tensor data. */
  readonly headerBytes: number;
  /** Bytes fetched to learn all this. */
  readonly bytesRead: number;
  readonly fileSize: number;
  /** What the fit estimate needs (src/shared/model-fit.ts); null when the header does not describe a model we read. */
  readonly shape: ModelShape | null;
}

/** The sizes that decide whether a model fits a device. */
export interface ModelShape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** 1 under multi-head latent attention (one cached row a token is both K and V), else 2 (FitModel's kvKinds). */
  readonly kvKinds: 1 | 2;
  readonly dim: number;
  readonly vocabSize: number;
  /** Bytes of every tensor together, as stored. */
  readonly weightsBytes: number;
  /** Bytes of the largest tensor (the engine splits it across buffers where it must). */
  readonly largestTensorBytes: number;
  /** Bytes of the largest piece one buffer holds whole: a matrix row, an expert, a vector as f32 (model-fit.ts). */
  readonly largestUnitBytes: number;
}

/**
 * The piece of a tensor the engine uploads whole: an expert of a 3-D expert tensor (uploadExperts), a row of a
 * matrix (uploadWeight splits between rows), a vector dequantized to f32.
 */
export function unsplittableBytes(t: GgufTensorInfo): number {
  if (t.dims.length >= 3) return t.byteSize / t.dims[2]!;
  if (t.dims.length === 2) return t.byteSize / Math.max(1, t.dims[1]!);
  return t.elementCount * 4;
}

function shapeOf(header: GgufHeader): ModelShape | null {
  try {
    const c = readModelConfig(header);
    const sizes = header.tensors.map((t) => t.byteSize);
    return {
      layers: c.nLayers, kvHeads: c.nKvHeads, headDim: c.headDim, kvKinds: kvKinds({ latentDim: mlaKvRow(c)?.latentDim }), dim: c.dim, vocabSize: c.vocabSize,
      weightsBytes: sizes.reduce((a, b) => a + b, 0), largestTensorBytes: Math.max(0, ...sizes),
      largestUnitBytes: Math.max(0, ...header.tensors.map(unsplittableBytes)),
    };
  } catch {
    return null;
  }
}

/** The first read: most headers of small models fit; larger ones grow from here (1 MiB, 2 MiB... of prefix). */
const FIRST_READ = 256 * 1024;

/** Reads of [0, n) served from the bytes already fetched; only the missing tail is requested. */
function growingPrefix(source: ByteSource): ByteSource & { readonly fetched: () => number } {
  let prefix = new Uint8Array(0);
  return {
    size: source.size,
    fetched: () => prefix.byteLength,
    async read(offset, length) {
      if (offset !== 0) return source.read(offset, length);
      if (length > prefix.byteLength) {
        const tail = await source.read(prefix.byteLength, length - prefix.byteLength);
        const grown = new Uint8Array(length);
        grown.set(prefix);
        grown.set(tail, prefix.byteLength);
        prefix = grown;
      }
      return prefix.subarray(0, length);
    },
  };
}

function typeCounts(header: GgufHeader): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of header.tensors) counts[ggmlTypeName(t.type)] = (counts[ggmlTypeName(t.type)] ?? 0) + 1;
  return counts;
}

/** Why the engine cannot run a file with this header, or null. */
export function unsupportedReason(header: GgufHeader): string | null {
  const arch = header.metadata.get('general.architecture');
  if (typeof arch === 'string' && !SUPPORTED_ARCHITECTURES.includes(arch)) {
    return `architecture ${arch} is not supported yet (the engine runs ${SUPPORTED_ARCHITECTURES.join(', ')})`;
  }
  try {
    const config = readModelConfig(header);
    const byName = new Map(header.tensors.map((t) => [t.name, t]));
    const unreadable = new Set<string>();
    for (const name of expectedTensorShapes(config).keys()) {
      const type = byName.get(name)!.type;
      if (!GPU_WEIGHT_TYPES.has(type)) unreadable.add(ggmlTypeName(type));
    }
    if (unreadable.size > 0) {
      return `tensor type ${[...unreadable].join(', ')} is not supported yet (the engine reads ${[...GPU_WEIGHT_TYPES].map(ggmlTypeName).join(', ')})`;
    }
    tokenizerFromGguf(header.metadata);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface ProbeOptions {
  readonly fetch?: typeof fetch;
  readonly firstRead?: number;
}

type RemoteHeader = { readonly header: GgufHeader; readonly bytesRead: number; readonly fileSize: number } | { readonly failure: ModelProbe };

async function readRemoteHeader(url: string, options: ProbeOptions): Promise<RemoteHeader> {
  let source: ReturnType<typeof growingPrefix>;
  try {
    source = growingPrefix(await httpSource(url, options.fetch ? { fetch: options.fetch } : {}));
  } catch (e) {
    throw new HubError('network', `Cannot read the header of ${url}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const header = await readGgufHeader(source, Math.min(source.size, options.firstRead ?? FIRST_READ));
    return { header, bytesRead: source.fetched() + 1, fileSize: source.size }; // + the 1-byte request that learnt the size
  } catch (e) {
    if (!(e instanceof GgufError)) throw new HubError('network', `Cannot read the header of ${url}: ${(e as Error).message}`, { cause: e });
    return {
      failure: {
        supported: false, reason: `not a usable GGUF file: ${e.message}`, architecture: null, contextLength: null,
        tensorTypes: {}, tokenizer: null, headerBytes: 0, bytesRead: source.fetched(), fileSize: source.size, shape: null,
      },
    };
  }
}

function judge(header: GgufHeader, bytesRead: number, fileSize: number): ModelProbe {
  const arch = header.metadata.get('general.architecture');
  const architecture = typeof arch === 'string' ? arch : null;
  const context = architecture ? header.metadata.get(`${architecture}.context_length`) : undefined;
  const tokenizer = header.metadata.get('tokenizer.ggml.model');
  const reason = unsupportedReason(header);
  return {
    supported: reason === null,
    ...(reason === null ? {} : { reason }),
    architecture,
    contextLength: typeof context === 'number' ? context : null,
    tensorTypes: typeCounts(header),
    tokenizer: typeof tokenizer === 'string' ? tokenizer : null,
    headerBytes: header.dataOffset,
    bytesRead,
    fileSize,
    shape: shapeOf(header),
  };
}

/** Reads the header of the GGUF file at `url` (Range requests; redirects followed) and judges it. */
export async function probeRemoteGguf(url: string, options: ProbeOptions = {}): Promise<ModelProbe> {
  const r = await readRemoteHeader(url, options);
  return 'failure' in r ? r.failure : judge(r.header, r.bytesRead, r.fileSize);
}

/**
 * Judges a split model (gguf-split: the first part holds the metadata, each part the infos of its own tensors) by
 * the headers of all its parts, in order: the model is the first part's metadata with every part's tensors.
 */
export async function probeRemoteGgufParts(urls: readonly string[], options: ProbeOptions = {}): Promise<ModelProbe> {
  if (urls.length === 1) return probeRemoteGguf(urls[0]!, options);
  const heads: { header: GgufHeader; bytesRead: number; fileSize: number }[] = [];
  for (const url of urls) {
    const r = await readRemoteHeader(url, options);
    if ('failure' in r) return r.failure;
    heads.push(r);
  }
  const bytesRead = heads.reduce((n, h) => n + h.bytesRead, 0);
  const fileSize = heads.reduce((n, h) => n + h.fileSize, 0);
  let merged: GgufHeader;
  try {
    // The checks the engine makes when it opens the parts: each part's split.no and split.count, every tensor once.
    merged = mergeSplitHeaders(heads.map((h) => h.header), urls.map((u) => u.split('/').pop()!));
  } catch (e) {
    if (!(e instanceof GgufError)) throw e;
    return {
      supported: false, reason: `not a usable split GGUF model: ${e.message}`, architecture: null, contextLength: null,
      tensorTypes: {}, tokenizer: null, headerBytes: 0, bytesRead, fileSize, shape: null,
    };
  }
  return judge(merged, bytesRead, fileSize);
}
