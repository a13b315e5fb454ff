// The engine's TuningStore in the worker: kernel choices kept by main (SQLite app_state) through the store calls.
// A store that fails never fails a load: a choice that cannot be read is measured, one that cannot be kept is
// measured again at the next load.
import type { TuningStore } from '../../../gpu/tuning/tuning-store';
import type { TuningStoreMethod } from './protocol';

/** What it needs of StoreProxy: one store verb through the UI thread. */
export interface TuningCalls {
  call<T>(method: TuningStoreMethod, payload?: unknown): Promise<T>;
}

export function tuningStoreOver(store: TuningCalls, warn: (message: string) => void = (m) => console.warn(`KVChat: ${m}`)): TuningStore {
  return {
    get: async (key) => {
      try {
        return (await store.call<string | null>('getKernelTuning', { key })) ?? undefined;
      } catch (e) {
        warn(`could not read a kernel tuning choice, measuring instead: ${(e as Error).message}`);
        return undefined;
      }
    },
    set: async (key, variant) => {
      try {
        await store.call('setKernelTuning', { key, variant });
      } catch (e) {
        warn(`could not keep a kernel tuning choice: ${(e as Error).message}`);
      }
    },
  };
}
