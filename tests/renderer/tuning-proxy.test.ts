// The worker's TuningStore over main's store calls: choices read and kept through 'getKernelTuning' /
// 'setKernelTuning', and a failing store never fails a load (a read failure measures, a write failure is dropped).
import { describe, expect, it } from 'vitest';
import { tuningStoreOver, type TuningCalls } from '../../src/renderer/src/engine/tuning-proxy';

function fakeMain(fail = false): TuningCalls & { readonly rows: Map<string, string>; readonly calls: string[] } {
  const rows = new Map<string, string>();
  const calls: string[] = [];
  return {
    rows,
    calls,
    call: <T>(method: string, payload?: unknown): Promise<T> => {
      calls.push(method);
      if (fail) return Promise.reject(new Error('database is locked'));
      const p = payload as { key: string; variant?: string };
      if (method === 'setKernelTuning') rows.set(p.key, p.variant!);
      return Promise.resolve((method === 'getKernelTuning' ? (rows.get(p.key) ?? null) : undefined) as T);
    },
  };
}

describe('the worker\'s tuning store', () => {
  it('reads and keeps choices through main; null (none kept) reads as undefined', async () => {
    const main = fakeMain();
    const store = tuningStoreOver(main);
    expect(await store.get('kernel-variant/v1/matvec/dev/llama')).toBeUndefined();
    await store.set('kernel-variant/v1/matvec/dev/llama', 'tpr8.wg64.wg');
    expect(await store.get('kernel-variant/v1/matvec/dev/llama')).toBe('tpr8.wg64.wg');
    expect(main.calls).toEqual(['getKernelTuning', 'setKernelTuning', 'getKernelTuning']);
  });

  it('a failing store reads as nothing kept and drops writes, with a warning each', async () => {
    const warnings: string[] = [];
    const store = tuningStoreOver(fakeMain(true), (m) => warnings.push(m));
    expect(await store.get('kernel-variant/v1/matvec/dev/llama')).toBeUndefined();
    await expect(store.set('kernel-variant/v1/matvec/dev/llama', 'tpr8.wg64.wg')).resolves.toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining('database is locked'), expect.stringContaining('database is locked')]);
  });
});
