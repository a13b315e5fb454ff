// Choosing the file of a repository: REPO:QUANT matches the quantization in a file's name case-insensitively, as
// `llama-server -hf` and `ollama pull` do. Without a quant: Q4_K_M if there is one, else the smallest file whose
// quantization the engine reads (the probe then checks its header before any large transfer).
import { GgmlType } from '../../gpu/gguf/types';
import { GPU_WEIGHT_TYPES } from '../../gpu/kernels/weights';
import type { HubFile } from './client';
import { HubError } from './errors';

export const DEFAULT_QUANT = 'Q4_K_M';

// Quantization labels as llama.cpp names its files, longest first so Q4_K_M wins over Q4_K.
const QUANT_LABEL = /(?:^|[-_.])((?:IQ\d_(?:XXS|XS|NL|S|M)|I?Q\d_K_(?:XL|S|M|L)|Q\d_K|Q\d_[01]|TQ\d_0|MXFP4(?:_MOE)?|BF16|F16|F32))(?=[-_.]|$)/i;

/** `name-00001-of-00003.gguf`: part 1 of 3 of a split model (llama.cpp's gguf-split naming). */
const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

export interface SplitPart {
  /** The path without `-0000k-of-0000N.gguf`. */
  readonly base: string;
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

export function splitPart(path: string): SplitPart | null {
  const m = SPLIT.exec(path);
  return m ? { base: m[1]!, index: Number(m[2]), count: Number(m[3]) } : null;
}

/** The path of part `index` of `count` (1-based), as gguf-split names it. */
export const splitPartPath = (base: string, index: number, count: number): string =>
  `${base}-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`;

/** One model of a repository: a single GGUF file, or every part of a split one (`path` is the first part). */
export interface HubModelFiles {
  readonly path: string;
  /** Bytes of every part together. */
  readonly size: number;
  /** In order; one entry for a single file. */
  readonly parts: readonly HubFile[];
}

/** The quantization label in a file name (upper case), or null. */
export function quantOfFileName(path: string): string | null {
  const name = path.split('/').pop()!.replace(/\.gguf$/i, '');
  const m = QUANT_LABEL.exec(name);
  return m ? m[1]!.toUpperCase() : null;
}

/** A split part's path as the model's own name (`m-Q4_K_M-00001-of-00002.gguf` -> `m-Q4_K_M.gguf`). */
export const modelName = (path: string): string => path.replace(SPLIT, '$1.gguf');

/** The tensor type holding most weights of a file with this label (Q4_K_M -> Q4_K). */
function mainTensorType(label: string): number | undefined {
  const base = label.replace(/_(?:XL|S|M|L)$/, '').replace(/^I(?=Q\d_K)/, '');
  const key = base === 'MXFP4_MOE' ? 'MXFP4' : base;
  return (GgmlType as unknown as Record<string, number | undefined>)[key];
}

/** Does the engine read the weights of a file with this label? (Mixed files are checked in full by the probe.) */
export function engineReadsQuant(label: string): boolean {
  const type = mainTensorType(label);
  return type !== undefined && GPU_WEIGHT_TYPES.has(type);
}

/** The GGUF models of a repository; a split model only when every one of its parts is there. */
export function ggufModels(files: readonly HubFile[]): HubModelFiles[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const models: HubModelFiles[] = [];
  for (const f of files) {
    if (!/\.gguf$/i.test(f.path)) continue;
    const split = splitPart(f.path);
    if (!split) {
      models.push({ path: f.path, size: f.size, parts: [f] });
      continue;
    }
    if (split.index !== 1) continue;
    const parts = Array.from({ length: split.count }, (_, i) => byPath.get(splitPartPath(split.base, i + 1, split.count)));
    if (parts.every((p) => p !== undefined)) models.push({ path: f.path, size: parts.reduce((n, p) => n + p.size, 0), parts });
  }
  return models;
}

/**
 * The files to try, best first: `name` exactly, else the one matching `quant`, else Q4_K_M, else every file whose
 * quantization the engine may read (an unlabelled one too: its header decides), smallest first. Throws a HubError
 * naming what the repository has when nothing matches.
 */
export function candidateFiles(repo: string, files: readonly HubFile[], choice: { quant?: string; name?: string } = {}): HubModelFiles[] {
  const gguf = ggufModels(files);
  const have = (): string => {
    const labels = [...new Set(gguf.map((f) => quantOfFileName(modelName(f.path))).filter((q): q is string => q !== null))];
    return labels.length ? `it has ${labels.join(', ')}` : `its GGUF files are ${gguf.map((f) => f.path).join(', ') || 'none'}`;
  };
  if (choice.name !== undefined) {
    const f = files.find((x) => x.path === choice.name) ?? files.find((x) => x.path.split('/').pop() === choice.name);
    if (!f) throw new HubError('not-found', `${repo} has no file ${choice.name}`);
    const split = splitPart(f.path);
    const model = gguf.find((m) => m.path === (split ? splitPartPath(split.base, 1, split.count) : f.path));
    if (!model) throw new HubError('not-found', split ? `${repo} does not have every part of the split model ${f.path}` : `${f.path} is not a GGUF file`);
    return [model];
  }
  if (gguf.length === 0) {
    const split = files.some((f) => SPLIT.test(f.path));
    throw new HubError('not-found', split ? `${repo} only has split GGUF files with parts missing` : `${repo} has no GGUF file`);
  }
  const bySize = [...gguf].sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : 1));
  if (choice.quant !== undefined) {
    const want = choice.quant.toUpperCase();
    const f = bySize.find((x) => quantOfFileName(modelName(x.path)) === want);
    if (!f) throw new HubError('not-found', `${repo} has no ${choice.quant} file (${have()})`);
    return [f];
  }
  const preferred = bySize.find((x) => quantOfFileName(modelName(x.path)) === DEFAULT_QUANT);
  if (preferred) return [preferred];
  const readable = bySize.filter((x) => {
    const q = quantOfFileName(modelName(x.path));
    return q === null || engineReadsQuant(q);
  });
  if (readable.length === 0) throw new HubError('unsupported-model', `${repo} has no file in a quantization the engine reads (${have()})`);
  return readable;
}
