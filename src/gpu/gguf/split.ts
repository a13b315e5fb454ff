// Split models as llama.cpp's gguf-split writes them: parts `<name>-00001-of-0000N.gguf` … `-0000N-of-0000N.gguf`,
// each a whole GGUF with its own header and tensor data. The first part holds the model's metadata; every part
// holds `split.no` (0-based), `split.count` and `split.tensors.count` and the infos of its own tensors. Opened
// here as one GgufFile whose tensors are read from the part that holds them.
import { GgufError } from './errors';
import { optionalNumber } from './metadata';
import { GgufFile, MAX_HEADER_BYTES, readGgufHeader, type ByteSource, type GgufPart } from './reader';
import type { GgufHeader } from './types';

export const SPLIT_NO = 'split.no';
export const SPLIT_COUNT = 'split.count';
export const SPLIT_TENSORS_COUNT = 'split.tensors.count';
/** gguf-split numbers parts with five digits; a header claiming more parts than that is no real model. */
export const MAX_SPLIT_PARTS = 99999;

/** `name-00002-of-00003.gguf`: the name's stem, the 1-based part index and the count. */
const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** How to reach the other parts of a split model, given the first. */
export interface SplitPartLocator {
  /** What a user recognises part `index` (1-based) of `count` by: its file name or URL. */
  name(index: number, count: number): string;
  open(index: number, count: number): Promise<ByteSource>;
}

/** The part count a header declares: 1 for a file without split keys. */
export function splitCountOf(header: GgufHeader): number {
  const count = optionalNumber(header.metadata, SPLIT_COUNT) ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_SPLIT_PARTS) {
    throw new GgufError('corrupt', `${SPLIT_COUNT} is ${count}; 1 to ${MAX_SPLIT_PARTS} parts are possible`);
  }
  return count;
}

/**
 * The path (or URL path) of part `index` of `count`, from the path of any part named as gguf-split names them, or
 * null when `path` is not so named.
 */
export function splitPartPathOf(path: string, index: number, count: number): string | null {
  const m = SPLIT_NAME.exec(path);
  if (!m || Number(m[3]) !== count) return null;
  return `${m[1]}-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`;
}

/**
 * The URL of part `index` of a split model whose first part is at `url`: by name when the URL's path is a
 * gguf-split file name (a plain file server), else the same URL with `?part=<index>` (the app's model protocol,
 * which serves a model's parts by index).
 */
export function splitPartUrl(url: string, index: number, count: number): string {
  const u = new URL(url);
  const byName = splitPartPathOf(u.pathname, index, count);
  if (byName !== null) u.pathname = byName;
  else u.searchParams.set('part', String(index));
  return u.toString();
}

/** Checks that part `index` (1-based) of `count` says it is that part. */
function checkPartKeys(header: GgufHeader, index: number, count: number, name: string): void {
  const no = optionalNumber(header.metadata, SPLIT_NO);
  const declared = optionalNumber(header.metadata, SPLIT_COUNT);
  if (no !== index - 1 || declared !== count) {
    const is = no === undefined || declared === undefined ? 'has no split keys' : `says it is part ${no + 1} of ${declared}`;
    throw new GgufError('missing-part', `${name} should be part ${index} of ${count} of the split model but ${is}`);
  }
}

/** Every tensor once across the parts, and as many as split.tensors.count says. */
function checkTensors(headers: readonly GgufHeader[], names: readonly string[]): void {
  const seen = new Map<string, number>();
  headers.forEach((h, i) => {
    for (const t of h.tensors) {
      const other = seen.get(t.name);
      if (other !== undefined) throw new GgufError('corrupt', `tensor ${t.name} is in both ${names[other]} and ${names[i]}`);
      seen.set(t.name, i);
    }
  });
  for (const [i, h] of headers.entries()) {
    const declared = optionalNumber(h.metadata, SPLIT_TENSORS_COUNT);
    if (declared !== undefined && declared !== seen.size) {
      throw new GgufError('corrupt', `${names[i]} says the split model has ${declared} tensors (${SPLIT_TENSORS_COUNT}) but its parts hold ${seen.size}`);
    }
  }
}

/**
 * The model of a split model's part headers, in order (`names` as the user knows the parts): the first part's
 * metadata with every part's tensors, after the checks openGgufModel makes. One header without split keys is
 * returned as it is.
 */
export function mergeSplitHeaders(headers: readonly GgufHeader[], names: readonly string[]): GgufHeader {
  const count = splitCountOf(headers[0]!);
  if (count === 1 && headers.length === 1) return headers[0]!;
  if (count !== headers.length) {
    throw new GgufError('missing-part', `${names[0]} is the first of ${count} parts of a split model, but ${headers.length} parts were given`);
  }
  headers.forEach((h, i) => checkPartKeys(h, i + 1, count, names[i]!));
  checkTensors(headers, names);
  return { ...headers[0]!, tensors: headers.flatMap((h) => h.tensors) };
}

/**
 * The model whose first part (or only file) is `first`: a single GgufFile, or, when its header declares a split
 * model, one over every part, opened through `locator` in order and checked (each part's split.no and split.count,
 * every tensor in exactly one part, split.tensors.count). Header reads stay bounded: at most MAX_HEADER_BYTES for
 * all the parts' headers together (beyond the one that crosses it). The caller closes what `locator` opened.
 */
export async function openGgufModel(first: ByteSource, locator: SplitPartLocator): Promise<GgufFile> {
  const head = await readGgufHeader(first);
  const count = splitCountOf(head);
  const firstName = locator.name(1, count);
  if (count === 1) {
    const no = optionalNumber(head.metadata, SPLIT_NO);
    if (no !== undefined && no !== 0) throw new GgufError('missing-part', `${firstName} says it is part ${no + 1} of 1`);
    return new GgufFile(head, first);
  }
  checkPartKeys(head, 1, count, firstName);
  const parts: GgufPart[] = [{ header: head, source: first }];
  const names = [firstName];
  let headerBytes = head.dataOffset;
  for (let i = 2; i <= count; i++) {
    if (headerBytes > MAX_HEADER_BYTES) {
      throw new GgufError('corrupt', `the headers of the first ${i - 1} of ${count} parts already exceed ${MAX_HEADER_BYTES / 2 ** 20} MiB`);
    }
    const name = locator.name(i, count);
    let source: ByteSource;
    try {
      source = await locator.open(i, count);
    } catch (e) {
      throw new GgufError('missing-part', `part ${i} of ${count} of the split model, ${name}, cannot be opened: ${(e as Error).message}`);
    }
    let header: GgufHeader;
    try {
      header = await readGgufHeader(source);
    } catch (e) {
      if (e instanceof GgufError) throw new GgufError(e.code, `${name} (part ${i} of ${count}): ${e.message}`);
      throw e;
    }
    checkPartKeys(header, i, count, name);
    parts.push({ header, source });
    names.push(name);
    headerBytes += header.dataOffset;
  }
  return new GgufFile(mergeSplitHeaders(parts.map((p) => p.header), names), first, parts);
}
