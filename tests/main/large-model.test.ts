// A 1 GiB model file (stories260K padded with a sparse hole, so it costs no disk): importing fingerprints it in
// chunks and serving a range streams it, without ever holding the file in memory.
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelUrl } from '../../src/shared/api';
import { ModelLibrary } from '../../src/main/models/library';
import { handleModelRequest } from '../../src/main/models/model-protocol';
import { copyOf } from './helpers/model-files';
import { tempDb } from '../helpers/temp';

const GiB = 1 << 30;

describe('a 1 GiB model', () => {
  it('is fingerprinted and served in chunks, never read whole', async () => {
    const { db, dir } = tempDb();
    const path = copyOf('stories260K.gguf', dir, 'big.gguf');
    truncateSync(path, GiB);
    const library = new ModelLibrary(db, join(dir, 'models'));
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    let calls = 0;
    const m = await library.importModel(path, {
      copy: false,
      onProgress: () => {
        calls++;
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      },
    });
    expect(m.size).toBe(GiB);
    expect(calls).toBeGreaterThanOrEqual(GiB / (4 << 20));
    expect(rssPeak - rssBefore).toBeLessThan(256 << 20);

    const r = await handleModelRequest(library, { url: modelUrl(m.id), headers: { Range: `bytes=${GiB - 16}-` } });
    expect(r.status).toBe(206);
    expect(new Uint8Array(await new Response(r.body).arrayBuffer())).toEqual(new Uint8Array(16));
    const whole = await handleModelRequest(library, { url: modelUrl(m.id), headers: {} });
    expect(whole.headers['Content-Length']).toBe(String(GiB));
    await whole.body!.cancel();
  });
});
