// A GGUF ByteSource over a file handle: the header and each tensor are read as needed, never the whole file; and
// a model opened from its file, or from the first part of a split model with its sibling parts.
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GgufError } from '../gpu/gguf/errors';
import type { GgufFile, ByteSource } from '../gpu/gguf/reader';
import { openGgufModel, splitPartPathOf } from '../gpu/gguf/split';

/** One fs read at most: Node asserts (and aborts the process) on a read length that is not an int32. */
const MAX_READ_CHUNK = 2 ** 30;

export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

export async function fileSource(path: string): Promise<FileSource> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${path}: a read of ${length} bytes at ${offset} is outside the ${size}-byte file`);
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, Math.min(length - done, MAX_READ_CHUNK), offset + done);
        if (bytesRead === 0) throw new Error(`${path}: unexpected end of file at byte ${offset + done}`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

/**
 * Opens the model at `path`: a GGUF file, or the first part of a split model (`<name>-00001-of-0000N.gguf`), whose
 * other parts are found beside it by name. `close` closes every part.
 */
export async function openGgufFile(path: string): Promise<{ file: GgufFile; close: () => Promise<void> }> {
  const opened: FileSource[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(opened.map((s) => s.close()));
  };
  try {
    const first = await fileSource(path);
    opened.push(first);
    const file = await openGgufModel(first, {
      name: (index, count) => basename(index === 1 ? path : partPath(path, index, count)),
      open: async (index, count) => {
        const source = await fileSource(partPath(path, index, count));
        opened.push(source);
        return source;
      },
    });
    // The library and the model protocol find a split model's parts by name: the name and the header must agree.
    const named = /-00001-of-(\d{5})\.gguf$/i.exec(basename(path));
    if (named && Number(named[1]) > 1 && file.parts.length !== Number(named[1])) {
      throw new GgufError('missing-part', `${basename(path)} is named as part 1 of ${Number(named[1])} of a split model, but its header has no split keys`);
    }
    return { file, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Part `index` of `count` beside the first part at `path`, named as gguf-split names parts. */
function partPath(path: string, index: number, count: number): string {
  const name = splitPartPathOf(basename(path), index, count);
  if (name === null) {
    throw new GgufError('missing-part', `${basename(path)} is the first of ${count} parts of a split model, but its name does not end in -00001-of-${String(count).padStart(5, '0')}.gguf, so the other parts cannot be found`);
  }
  return join(dirname(path), name);
}
