// A split model in the library and on the model protocol: one fingerprint over its parts, each part served by
// index, a missing or changed part makes the model unavailable, and a missing part is named at import and open.
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../src/gpu/gguf/errors';
import { ModelLibraryError } from '../../src/main/models/errors';
import { ModelLibrary } from '../../src/main/models/library';
import { splitFingerprint } from '../../src/node/model-fingerprint';
import { handleModelRequest } from '../../src/main/models/model-protocol';
import { openGgufFile } from '../../src/node/file-source';
import { modelUrl } from '../../src/shared/api';
import { writeSplitParts } from '../helpers/split-parts';
import { tempDb, tempDir } from '../helpers/temp';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as Error);
}

describe('split models in the library', () => {
  it('names the model by a SHA-256 over its parts’ SHA-256s and serves each part by index', async () => {
    const { paths, parts } = writeSplitParts(tempDir());
    const { db, dir } = tempDb();
    const library = new ModelLibrary(db, join(dir, 'models'));
    const m = await library.importModel(paths[0]!, { copy: false });
    expect(m.fingerprint).toBe(splitFingerprint(parts.map(sha256)));
    expect(m.size).toBe(parts.reduce((n, p) => n + p.byteLength, 0));
    expect(m.name).toBe('tiny-Q8_0-00001-of-00003');

    const get = (url: string, range?: string) => handleModelRequest(library, { url, headers: range ? { Range: range } : {} });
    for (let k = 1; k <= 3; k++) {
      const r = await get(k === 1 ? modelUrl(m.id) : `${modelUrl(m.id)}?part=${k}`, 'bytes=0-');
      expect(r.status).toBe(206);
      expect(r.headers['Content-Range']).toBe(`bytes 0-${parts[k - 1]!.byteLength - 1}/${parts[k - 1]!.byteLength}`);
      expect(r.headers.ETag).toBe(`"${m.fingerprint}-${k}"`);
      expect(Buffer.from(await new Response(r.body).arrayBuffer()).equals(Buffer.from(parts[k - 1]!))).toBe(true);
    }
    expect((await get(`${modelUrl(m.id)}?part=4`)).status).toBe(404);
    expect((await get(`${modelUrl(m.id)}?part=0`)).status).toBe(400);
    expect((await get(`${modelUrl(m.id)}?part=x`)).status).toBe(400);

    rmSync(paths[2]!);
    expect((await get(`${modelUrl(m.id)}?part=2`)).status).toBe(410);
    expect((await library.verifyModel(m.id)).problem).toBe('missing');
  });

  it('refuses to import, and to open, a split model with a part missing, naming the part', async () => {
    const { paths } = writeSplitParts(tempDir());
    rmSync(paths[1]!);
    const { db, dir } = tempDb();
    const library = new ModelLibrary(db, join(dir, 'models'));
    const e = await rejection(library.importModel(paths[0]!, { copy: false }));
    expect(e).toBeInstanceOf(ModelLibraryError);
    expect(e.message).toMatch(/tiny-Q8_0-00002-of-00003\.gguf/);
    const open = await rejection(openGgufFile(paths[0]!));
    expect(open).toBeInstanceOf(GgufError);
    expect((open as GgufError).code).toBe('missing-part');
    expect(open.message).toMatch(/part 2 of 3 of the split model, tiny-Q8_0-00002-of-00003\.gguf, cannot be opened: .*ENOENT/);
  });

  it('refuses a later part opened as the model, and a first part renamed so its siblings cannot be found', async () => {
    const { paths, parts } = writeSplitParts(tempDir());
    const later = await rejection(openGgufFile(paths[1]!));
    expect(later.message).toMatch(/should be part 1 of 3 .* says it is part 2 of 3/);
    const renamed = join(tempDir(), 'tiny.gguf');
    writeFileSync(renamed, parts[0]!);
    const e = await rejection(openGgufFile(renamed));
    expect(e.message).toMatch(/tiny\.gguf is the first of 3 parts .* does not end in -00001-of-00003\.gguf/);
  });
});
