// A GGUF ByteSource over a file handle: the header and each tensor are read as needed, never the whole file.
import { open, type FileHandle } from 'node:fs/promises';
import { GgufFile, type ByteSource } from '../gpu/gguf/reader';

export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

export async function fileSource(path: string): Promise<FileSource> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
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
