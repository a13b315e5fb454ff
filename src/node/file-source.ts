// A GGUF ByteSource over a file handle: the header and each tensor are read as needed, never the whole file.
import { open, type FileHandle } from 'node:fs/promises';
import { GgufFile, type ByteSource } from '../gpu/gguf/reader';

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

export async function openGgufFile(path: string): Promise<{ file: GgufFile; close: () => Promise<void> }> {
  const source = await fileSource(path);
  try {
    return { file: await GgufFile.open(source), close: () => source.close() };
  } catch (e) {
    await source.close();
    throw e;
  }
}
