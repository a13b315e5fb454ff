// putBlocks checksums only the blocks it inserts: a block already stored (content-addressed: same name, same bytes)
// has its use time refreshed and its bytes are never hashed again. A given checksum (an imported block's) is still
// checked, and a block that vanished between the lookup and the write is checksummed and stored after all.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { blockChecksum } from '../../src/store/block-checksum';
import { KvBlockStore, type KvBlock } from '../../src/store/kv-store';
import { tempDb } from '../helpers/temp';

vi.mock('../../src/store/block-checksum', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/store/block-checksum')>();
  return { ...real, blockChecksum: vi.fn(real.blockChecksum) };
});

const checksum = vi.mocked(blockChecksum);
const { blockChecksum: realChecksum } = await vi.importActual<typeof import('../../src/store/block-checksum')>('../../src/store/block-checksum');
const bytesOf = (fill: number): Uint8Array => new Uint8Array(2048).fill(fill);
const block = (hash: string, fill: number): KvBlock => ({ hash, modelFingerprint: 'model-a', layout: { key: 'f16:test' }, bytes: bytesOf(fill) });
/** The real xxHash64, not counted by the spy. */
const sumOf = (fill: number): string => realChecksum(bytesOf(fill));

function setup() {
  const { db } = tempDb();
  const kv = new KvBlockStore(db);
  const rows = () =>
    db.prepare('SELECT hash, checksum, last_used_at AS used FROM kv_blocks ORDER BY hash').all() as { hash: string; checksum: string; used: number }[];
  const age = () => db.prepare('UPDATE kv_blocks SET last_used_at = 1').run();
  return { db, kv, rows, age };
}

beforeEach(() => {
  checksum.mockClear();
});

describe('KvBlockStore.putBlocks checksums', () => {
  it('checksums each new block once and no block that is already stored, whose use time it refreshes', () => {
    const { kv, rows, age } = setup();
    kv.putBlocks([block('a', 1), block('b', 2), block('c', 3)]);
    expect(checksum).toHaveBeenCalledTimes(3);
    expect(rows().map((r) => r.checksum)).toEqual([sumOf(1), sumOf(2), sumOf(3)]);

    age();
    checksum.mockClear();
    kv.putBlocks([block('a', 1), block('b', 2), block('c', 3)]);
    expect(checksum).not.toHaveBeenCalled();
    expect(rows().every((r) => r.used > 1)).toBe(true);

    age();
    checksum.mockClear();
    kv.putBlocks([block('a', 9), block('d', 4), block('b', 2), block('d', 4)]); // 'a' keeps its first bytes; 'd' twice
    expect(checksum).toHaveBeenCalledTimes(1);
    expect([...checksum.mock.calls[0]![0]]).toEqual([...bytesOf(4)]);
    expect(rows()).toEqual([
      { hash: 'a', checksum: sumOf(1), used: expect.any(Number) },
      { hash: 'b', checksum: sumOf(2), used: expect.any(Number) },
      { hash: 'c', checksum: sumOf(3), used: 1 }, // not in this batch
      { hash: 'd', checksum: sumOf(4), used: expect.any(Number) },
    ]);
    expect(rows().filter((r) => r.used > 1).map((r) => r.hash)).toEqual(['a', 'b', 'd']);
    expect([...kv.getBlocks(['a']).get('a')!.bytes]).toEqual([...bytesOf(1)]);
    expect(kv.lastRefused).toBe(0);
  });

  it('still checks a given checksum of a stored block (an import), refusing one that does not match', () => {
    const { kv } = setup();
    kv.putBlocks([block('a', 1), block('b', 2)]);
    checksum.mockClear();
    kv.putBlocks([{ ...block('a', 1), checksum: sumOf(1) }, { ...block('b', 2), checksum: sumOf(7) }]);
    expect(checksum).toHaveBeenCalledTimes(2); // the check itself; nothing is inserted
    expect(kv.lastRefused).toBe(1);
    expect(kv.usage().blocks).toBe(2);
  });

  it('a block deleted between the lookup and the write is checksummed and stored again', () => {
    const { db, kv, rows } = setup();
    kv.putBlocks([block('a', 1)]);
    checksum.mockClear();
    // The new block's checksum runs between the lookup of stored names and the write: another process drops 'a' then.
    checksum.mockImplementationOnce((b) => {
      db.prepare("DELETE FROM kv_blocks WHERE hash = 'a'").run();
      return realChecksum(b);
    });
    kv.putBlocks([block('a', 1), block('n', 5)]);
    expect(checksum).toHaveBeenCalledTimes(2); // 'n' as new, then 'a' once found gone
    expect(rows().map((r) => [r.hash, r.checksum])).toEqual([
      ['a', sumOf(1)],
      ['n', sumOf(5)],
    ]);
  });
});
