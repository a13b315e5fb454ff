// Hostile GGUF headers in files much larger than their header (a sparse 3 GiB file costs nothing on disk): every
// length a header claims fits in the file, so only the reader's own bounds (MAX_HEADER_BYTES, MAX_NAME_BYTES)
// keep it from reading and allocating gigabytes. A fast-check property mutates the shared models' headers inside
// such a file: typed errors only, and no read larger than the header bound.
import { execFile } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { openGgufFile } from '../../src/node/file-source';
import { GgufError } from '../../src/gpu/gguf/errors';
import { MAX_HEADER_BYTES, readGgufHeader, type ByteSource } from '../../src/gpu/gguf/reader';
import { modelPath } from '../helpers/shared';
import { walkGguf } from './writer';

const ROOT = resolve(__dirname, '../..');
const SPARSE_SIZE = 3 * 2 ** 30;
const dir = mkdtempSync(join(tmpdir(), 'kvchat-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A v3 header whose one metadata string claims `length` bytes, in a sparse file of `size` bytes. */
function sparseFileClaimingString(length: bigint, size = SPARSE_SIZE): string {
  const key = Buffer.from('general.name');
  const head = Buffer.alloc(4 + 4 + 8 + 8 + 8 + key.length + 4 + 8);
  let at = head.write('GGUF', 0, 'latin1');
  at = head.writeUInt32LE(3, at);
  at = head.writeBigUInt64LE(0n, at); // tensors
  at = head.writeBigUInt64LE(1n, at); // metadata entries
  at = head.writeBigUInt64LE(BigInt(key.length), at);
  at += key.copy(head, at);
  at = head.writeUInt32LE(8, at); // STRING
  head.writeBigUInt64LE(length, at);
  const path = join(dir, `claims-${length}.gguf`);
  const fd = openSync(path, 'w');
  writeSync(fd, head);
  ftruncateSync(fd, size);
  closeSync(fd);
  return path;
}

const memory = (): number => process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed;

describe('hostile GGUF headers in a sparse 3 GiB file', () => {
  it('a 3e9-byte string length: GgufError corrupt in milliseconds, no large allocation', async () => {
    const path = sparseFileClaimingString(3_000_000_000n);
    const before = memory();
    const t0 = performance.now();
    const err = await openGgufFile(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(GgufError);
    expect((err as GgufError).code).toBe('corrupt');
    expect((err as GgufError).message).toMatch(/general\.name claims 3000000000 bytes/);
    expect(ms).toBeLessThan(500);
    expect(memory() - before).toBeLessThan(32 * 2 ** 20);
  });

  it('a metadata key name past 64 KiB is corrupt before it is read', async () => {
    const path = join(dir, 'long-key.gguf');
    const head = Buffer.alloc(32);
    head.write('GGUF', 0, 'latin1');
    head.writeUInt32LE(3, 4);
    head.writeBigUInt64LE(0n, 8);
    head.writeBigUInt64LE(1n, 16);
    head.writeBigUInt64LE(100_000_000n, 24);
    const fd = openSync(path, 'w');
    writeSync(fd, head);
    ftruncateSync(fd, SPARSE_SIZE);
    closeSync(fd);
    await expect(openGgufFile(path)).rejects.toMatchObject({ name: 'GgufError', code: 'corrupt', message: expect.stringMatching(/metadata key 0 claims 100000000 bytes/) });
  });

  it('`generate` on such a file exits with an error message, not a native abort', async () => {
    const path = sparseFileClaimingString(3_000_000_000n);
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/generate.ts', '--model', path, '--prompt', 'hi'], { cwd: ROOT }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; signal: string | null; stderr: string }) => ({ code: e.code, signal: e.signal, stderr: e.stderr }),
    );
    expect(r).toMatchObject({ code: 1 });
    expect(r.stderr).toMatch(/general\.name claims 3000000000 bytes/);
  });
});

/** The bytes of `real` followed by zeros up to `size`, as a sparse file reads; records the largest read. */
function sparseSource(real: Uint8Array, size: number): ByteSource & { largestRead: number } {
  const s = {
    size,
    largestRead: 0,
    read: async (offset: number, length: number): Promise<Uint8Array> => {
      s.largestRead = Math.max(s.largestRead, length);
      if (length > MAX_HEADER_BYTES) throw new Error(`a read of ${length} bytes, past the header bound`);
      const out = new Uint8Array(length);
      if (offset < real.byteLength) out.set(real.subarray(offset, Math.min(real.byteLength, offset + length)));
      return out;
    },
  };
  return s;
}

describe('fast-check: mutated headers of the shared models in a file far larger than the header', () => {
  for (const name of ['stories260K.gguf', 'TinyStories-656K-Q4_0.gguf']) {
    it(`${name}: only GgufErrors, reads never past the header bound`, async () => {
      const bytes = new Uint8Array(readFileSync(modelPath(name)));
      const { fields, headerEnd } = walkGguf(bytes, 16);
      const structural = fields.filter((f) => f.kind !== 'value');
      const header = bytes.slice(0, headerEnd + 64);
      // Lengths and counts an attacker would pick: just past the bound, near the file size, 2^31 and 2^32 edges.
      const claims = fc.oneof(
        fc.constantFrom(2n ** 31n, 2n ** 32n + 7n, 3_000_000_000n, BigInt(MAX_HEADER_BYTES) + 1n, BigInt(SPARSE_SIZE) - 100n, 2n ** 63n),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: 0n, max: 4096n }),
      );
      let typed = 0;
      await fc.assert(
        fc.asyncProperty(fc.nat(structural.length - 1), claims, fc.array(fc.tuple(fc.nat(headerEnd - 1), fc.nat(255)), { maxLength: 3 }), async (which, claim, pokes) => {
          const mutated = header.slice();
          const view = new DataView(mutated.buffer);
          const field = structural[which]!;
          if (field.size === 8) view.setBigUint64(field.at, claim, true);
          else view.setUint32(field.at, Number(claim & 0xffffffffn), true);
          for (const [at, value] of pokes) if (at >= 8) mutated[at] = value;
          const source = sparseSource(mutated, SPARSE_SIZE);
          try {
            await readGgufHeader(source);
          } catch (e) {
            if (!(e instanceof GgufError)) throw new Error(`${field.kind} at ${field.at} = ${claim}: ${String(e)}`, { cause: e });
            typed++;
          }
          expect(source.largestRead).toBeLessThanOrEqual(MAX_HEADER_BYTES);
        }),
        { numRuns: 200, seed: 0x6a09e667 },
      );
      expect(typed).toBeGreaterThan(100);
    });
  }
});
