// Streaming SHA-256 of model files: a multi-GB file is read in 4 MiB chunks, never whole, with progress.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK_BYTES = 4 << 20;

/** bytesDone of bytesTotal, after each chunk. */
export type ByteProgress = (bytesDone: number, bytesTotal: number) => void;

function hashingTap(hash: Hash, total: number, onProgress: ByteProgress | undefined): Transform {
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      done += chunk.byteLength;
      onProgress?.(done, total);
      callback(null, chunk);
    },
  });
}

/** SHA-256 (hex) of the whole file. */
export async function fingerprintFile(path: string, size: number, onProgress?: ByteProgress, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const tap = hashingTap(hash, size, onProgress);
  tap.resume(); // discard the pass-through output
  await pipeline(createReadStream(path, { highWaterMark: CHUNK_BYTES }), tap, signal ? { signal } : {});
  return hash.digest('hex');
}

/**
 * Copies `from` to `to` (created; must not exist), hashing the bytes as they pass: returns the SHA-256 of what was
 * read. The copy is fsynced before returning, so a later crash cannot leave a short file under the final name.
 */
export async function copyWithFingerprint(from: string, to: string, size: number, onProgress?: ByteProgress, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    createReadStream(from, { highWaterMark: CHUNK_BYTES }),
    hashingTap(hash, size, onProgress),
    createWriteStream(to, { flags: 'wx' }),
    signal ? { signal } : {},
  );
  const handle = await open(to, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
