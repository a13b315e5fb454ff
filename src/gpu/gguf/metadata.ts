// Typed access to GGUF metadata: a missing or mistyped key is a GgufError naming the key.
import { GgufError } from './errors';
import type { GgufValue } from './types';

export type Metadata = ReadonlyMap<string, GgufValue>;

function describe(v: GgufValue): string {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return 'an array';
  return `${typeof v} ${String(v).slice(0, 40)}`;
}

export function optionalNumber(meta: Metadata, key: string): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') throw new GgufError('corrupt', `metadata ${key} is ${v}, too large`);
  throw new GgufError('corrupt', `metadata ${key} should be a number but is ${describe(v)}`);
}

export function requireNumber(meta: Metadata, key: string): number {
  const v = optionalNumber(meta, key);
  if (v === undefined) throw new GgufError('missing-key', `the model's metadata has no ${key}`);
  return v;
}

/** A positive whole number, such as a dimension or a count. */
export function requireCount(meta: Metadata, key: string): number {
  const v = requireNumber(meta, key);
  if (!Number.isInteger(v) || v < 1) throw new GgufError('corrupt', `metadata ${key} is ${v}; a positive whole number is required`);
  return v;
}

export function optionalString(meta: Metadata, key: string): string | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new GgufError('corrupt', `metadata ${key} should be a string but is ${describe(v)}`);
  return v;
}

export function requireString(meta: Metadata, key: string): string {
  const v = optionalString(meta, key);
  if (v === undefined) throw new GgufError('missing-key', `the model's metadata has no ${key}`);
  return v;
}

export function optionalBool(meta: Metadata, key: string): boolean | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  throw new GgufError('corrupt', `metadata ${key} should be a boolean but is ${describe(v)}`);
}
