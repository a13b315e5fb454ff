// Model files for the library tests: temp copies of the shared models and deliberately broken ones.
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { sharedModel } from '../../helpers/temp';

export const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

export function copyOf(name: string, dir: string, as = name): string {
  const to = join(dir, as);
  copyFileSync(sharedModel(name), to);
  chmodSync(to, 0o644); // the shared models are read-only; tests modify their copies
  return to;
}

export function truncatedCopy(name: string, dir: string, bytes: number): string {
  const to = join(dir, `truncated-${bytes}-${name}`);
  writeFileSync(to, readFileSync(sharedModel(name)).subarray(0, bytes));
  return to;
}

/** The model with the value of general.architecture rewritten in place (same length, so the file stays valid). */
export function withArchitecture(name: string, dir: string, architecture: string): string {
  const bytes = Buffer.from(readFileSync(sharedModel(name)));
  const key = Buffer.from('general.architecture');
  const at = bytes.indexOf(key);
  if (at < 0) throw new Error(`${name} has no general.architecture`);
  const valueLength = at + key.length + 4; // after the u32 value type
  const length = Number(bytes.readBigUInt64LE(valueLength));
  if (length !== architecture.length) throw new Error(`architecture must be ${length} bytes long`);
  bytes.write(architecture, valueLength + 8, 'utf8');
  const to = join(dir, `${architecture}.gguf`);
  writeFileSync(to, bytes);
  return to;
}
