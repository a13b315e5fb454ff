// The shared stories260K model split in gguf-split parts on disk. Apart from split-gguf.ts because temp.ts (the
// shared model folder) registers an afterEach clean-up that tests importing split-gguf.ts alone (e2e) must not get.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitGgufBytes } from './split-gguf';
import { sharedModel } from './temp';

/** The shared stories260K model split in 3 parts (`tiny-Q8_0-0000k-of-00003.gguf`) written to `dir`. */
export function writeSplitParts(dir: string): { paths: string[]; parts: Uint8Array[] } {
  const parts = splitGgufBytes(new Uint8Array(readFileSync(sharedModel('stories260K.gguf'))), 3);
  const paths = parts.map((p, i) => {
    const path = join(dir, `tiny-Q8_0-0000${i + 1}-of-00003.gguf`);
    writeFileSync(path, p);
    return path;
  });
  return { paths, parts };
}
