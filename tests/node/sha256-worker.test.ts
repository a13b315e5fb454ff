// The shared hashing thread: streams hashed side by side keep their own state, a file on disk, ranges of a file
// being written and transferred chunks go into one hash in order, views into a larger buffer are copied (the
// caller's buffer stays usable), and a range that cannot be read fails the digest instead of giving a wrong hash.
import { createHash } from 'node:crypto';
import { appendFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Sha256Worker } from '../../src/node/hub/sha256-worker';
import { tempDir } from '../helpers/temp';

const bytes = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const sha = (...parts: Uint8Array[]): string => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');

describe('Sha256Worker', () => {
  it('hashes two streams at once, a part file then transferred chunks, in order', async () => {
    const part = bytes(3 << 20, 1);
    const rest = [bytes(65536, 2), bytes(1000, 3)];
    const path = join(tempDir(), 'x.part');
    writeFileSync(path, part);
    const a = new Sha256Worker();
    const b = new Sha256Worker();
    try {
      const other = bytes(5000, 9);
      await Promise.all([a.updateFromFile(path), b.update([other.slice()])]);
      await a.update(rest.map((c) => c.slice()));
      expect(await a.digest()).toBe(sha(part, ...rest));
      expect(await b.digest()).toBe(sha(other));
      await b.reset();
      expect(await b.digest()).toBe(sha());
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('hashes ranges of a file as they are written, read back in order, and fails on one the file does not hold', async () => {
    const pieces = [bytes(5 << 20, 1), bytes(1, 2), bytes(70_000, 3)];
    const path = join(tempDir(), 'growing.part');
    writeFileSync(path, new Uint8Array(0));
    const h = new Sha256Worker();
    try {
      let at = 0;
      for (const p of pieces) {
        appendFileSync(path, p);
        h.updateFromFileRange(path, at, at + p.byteLength);
        at += p.byteLength;
      }
      h.updateFromFileRange(path, at, at); // an empty range is nothing to hash
      expect(await h.digest()).toBe(sha(...pieces));

      truncateSync(path, 1000);
      h.updateFromFileRange(path, 500, 2000);
      await expect(h.digest()).rejects.toThrow(/ends at byte 1000, short of the 2000 bytes written/);
      await expect(h.reset()).rejects.toThrow(/short of the 2000 bytes/); // a failed hash stays failed: close it
    } finally {
      await h.close();
    }
  });

  it('copies a view into a larger buffer instead of detaching it', async () => {
    const whole = bytes(4096, 5);
    const view = whole.subarray(100, 200);
    const h = new Sha256Worker();
    try {
      await h.update([view]);
      expect(await h.digest()).toBe(sha(whole.subarray(100, 200)));
      expect(whole.byteLength).toBe(4096); // not detached
    } finally {
      await h.close();
    }
  });

  it('stops reading a file when its signal aborts (a pause while a part file is checked)', async () => {
    const path = join(tempDir(), 'big.part');
    writeFileSync(path, bytes(64 << 20, 7));
    const h = new Sha256Worker();
    const stop = new AbortController();
    stop.abort();
    try {
      await expect(h.updateFromFile(path, undefined, stop.signal)).rejects.toThrow(/cancelled/);
    } finally {
      await h.close();
    }
  });
});
