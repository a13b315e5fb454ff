// Kernel variants measured on this device, kept in SQLite (app_state): a round trip through the engine's TuningStore,
// kept across a reopen, and "Re-tune kernels" forgetting one device's choices (every kernel, version and model
// shape) while other devices' and other app state stay.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database';
import { KernelTuningRepository } from '../../src/store/kernel-tuning';
import { isTuningKeyOf, tuningKey } from '../../src/gpu/tuning/tuning-store';
import { closeLater, tempDb } from '../helpers/temp';

// Adapter descriptions hold slashes (`vendor / architecture / description`), as model shapes may (`9/3x64`).
const NVIDIA = 'nvidia / ampere / NVIDIA GeForce RTX 3060';
const INTEL = 'intel / gen-12lp / Intel(R) Iris(R) Xe Graphics';
const key = (adapter: string, kernel: string, modelShape: string, version?: number): string => tuningKey({ adapter, kernel, modelShape, ...(version ? { version } : {}) });

describe('kernel tuning store', () => {
  it('round-trips choices through the TuningStore and keeps them across a reopen', async () => {
    const { db, file } = tempDb();
    const store = new KernelTuningRepository(db).asTuningStore();
    const k = key(NVIDIA, 'matvec', 'llama q4_0:576x576,q4_0:1536x576');
    expect(await store.get(k)).toBeUndefined();
    await store.set(k, 'tpr8.wg64.wg');
    await store.set(k, 'tpr4.wg64.sg'); // a re-tune replaces the choice
    expect(await store.get(k)).toBe('tpr4.wg64.sg');
    db.close();
    const again = new KernelTuningRepository(closeLater(openDatabase(file)));
    expect(again.get(k)).toBe('tpr4.wg64.sg');
  });

  it('forgets one device\'s choices, every kernel, version and shape, and nothing else', () => {
    const { db } = tempDb();
    const repo = new KernelTuningRepository(db);
    const mine = [key(NVIDIA, 'matvec', 'llama q8_0:576x576'), key(NVIDIA, 'flash-decode-split', '9/3x64 f16 ctx2048'), key(NVIDIA, 'gemm', 'llama q8_0:576x576', 2)];
    const other = [key(INTEL, 'matvec', 'llama q8_0:576x576'), key(`${NVIDIA} Ti`, 'matvec', 'llama q8_0:576x576')];
    for (const k of [...mine, ...other]) repo.set(k, 'kps512');
    db.prepare("INSERT INTO app_state (key, value) VALUES ('bundled-model-offered', '1')").run();
    expect(repo.clearAdapter(NVIDIA)).toBe(3);
    expect(mine.map((k) => repo.get(k))).toEqual([undefined, undefined, undefined]);
    expect(other.map((k) => repo.get(k))).toEqual(['kps512', 'kps512']);
    expect(db.prepare("SELECT value FROM app_state WHERE key = 'bundled-model-offered'").pluck().get()).toBe('1');
    expect(repo.clearAdapter(NVIDIA)).toBe(0);
  });

  it('refuses keys that are not tuning keys: app state is not reachable through it', () => {
    const { db } = tempDb();
    const repo = new KernelTuningRepository(db);
    db.prepare("INSERT INTO app_state (key, value) VALUES ('hub.token', 'secret')").run();
    expect(repo.get('hub.token')).toBeUndefined();
    expect(() => repo.set('hub.token', 'x')).toThrow(/not a kernel tuning key/);
    expect(isTuningKeyOf('kernel-variant/v1/matvec/a / b / c/llama', 'a / b / c')).toBe(true);
    expect(isTuningKeyOf('kernel-variant/v1/matvec/a / b / cd/llama', 'a / b / c')).toBe(false);
  });
});
