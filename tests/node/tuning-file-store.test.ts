import { readFileSync, writeFileSync } from 'node:fs';
import { platform } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultTuningFile, fileTuningStore } from '../../src/node/tuning-file-store';
import { tempDir } from '../helpers/temp';

describe('the CLI tuning store (a JSON file)', () => {
  it('keeps choices across store instances, creating its folder', async () => {
    const path = join(tempDir(), 'cache', 'kvchat', 'kernel-variants.json');
    await fileTuningStore(path).set('kernel-variant/v1/matvec/dev/llama', 'tpr8.wg64.wg');
    await fileTuningStore(path).set('kernel-variant/v1/flash-decode-split/dev/x', 'kps512');
    const again = fileTuningStore(path);
    expect(await again.get('kernel-variant/v1/matvec/dev/llama')).toBe('tpr8.wg64.wg');
    expect(await again.get('kernel-variant/v1/flash-decode-split/dev/x')).toBe('kps512');
    expect(await again.get('missing')).toBeUndefined();
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')) as object)).toHaveLength(2);
  });

  it('a damaged file reads as empty and is rewritten on the next choice', async () => {
    const path = join(tempDir(), 'kernel-variants.json');
    writeFileSync(path, '{ not json');
    const store = fileTuningStore(path);
    expect(await store.get('k')).toBeUndefined();
    await store.set('k', 'v');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ k: 'v' });
  });

  it.runIf(platform() === 'linux')('lives under XDG_CACHE_HOME, else ~/.cache', () => {
    expect(defaultTuningFile({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/kvchat/kernel-variants.json');
    expect(defaultTuningFile({})).toMatch(/\.cache\/kvchat\/kernel-variants\.json$/);
  });
});
