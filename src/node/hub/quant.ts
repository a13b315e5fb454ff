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

/** Split files (`-00001-of-00003.gguf`) are not supported: one model, one file. */
const SPLIT = /-\d{5}-of-\d{5}\.gguf$/i;

/** The quantization label in a file name (upper case), or null. */
export function quantOfFileName(path: string): string | null {
  const name = path.split('/').pop()!.replace(/\.gguf$/i, '');
  const m = QUANT_LABEL.exec(name);
  return m ? m[1]!.toUpperCase() : null;
}

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

export const ggufFiles = (files: readonly HubFile[]): HubFile[] => files.filter((f) => /\.gguf$/i.test(f.path) && !SPLIT.test(f.path));

/**
 * The files to try, best first: `name` exactly, else the one matching `quant`, else Q4_K_M, else every file whose
 * quantization the engine may read (an unlabelled one too: its header decides), smallest first. Throws a HubError
 * naming what the repository has when nothing matches.
 */
export function candidateFiles(repo: string, files: readonly HubFile[], choice: { quant?: string; name?: string } = {}): HubFile[] {
  const gguf = ggufFiles(files);
  const have = (): string => {
    const labels = [...new Set(gguf.map((f) => quantOfFileName(f.path)).filter((q): q is string => q !== null))];
    return labels.length ? `it has ${labels.join(', ')}` : `its GGUF files are ${gguf.map((f) => f.path).join(', ') || 'none'}`;
  };
  if (choice.name !== undefined) {
    const f = files.find((x) => x.path === choice.name) ?? files.find((x) => x.path.split('/').pop() === choice.name);
    if (!f) throw new HubError('not-found', `${repo} has no file ${choice.name}`);
    if (SPLIT.test(f.path)) throw new HubError('unsupported-model', `${f.path} is one part of a split model; split GGUF files are not supported yet`);
    return [f];
  }
  if (gguf.length === 0) {
    const split = files.some((f) => SPLIT.test(f.path));
    throw new HubError('not-found', split ? `${repo} only has split GGUF files, which are not supported yet` : `${repo} has no GGUF file`);
  }
  const bySize = [...gguf].sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : 1));
  if (choice.quant !== undefined) {
    const want = choice.quant.toUpperCase();
    const f = bySize.find((x) => quantOfFileName(x.path) === want);
    if (!f) throw new HubError('not-found', `${repo} has no ${choice.quant} file (${have()})`);
    return [f];
  }
  const preferred = bySize.find((x) => quantOfFileName(x.path) === DEFAULT_QUANT);
  if (preferred) return [preferred];
  const readable = bySize.filter((x) => {
    const q = quantOfFileName(x.path);
    return q === null || engineReadsQuant(q);
  });
  if (readable.length === 0) throw new HubError('unsupported-model', `${repo} has no file in a quantization the engine reads (${have()})`);
  return readable;
}
