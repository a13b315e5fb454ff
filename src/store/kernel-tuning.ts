// Kernel variants measured on this computer's GPU (src/gpu/tuning), kept in app_state under their tuning keys
// (`kernel-variant/v<version>/<kernel>/<adapter>/<model shape>`): later loads of the same model shape on the same
// device and kernel version reuse them without timing; "Re-tune kernels" clears one device's.
import type Database from 'better-sqlite3';
import { isTuningKeyOf, type TuningStore } from '../gpu/tuning/tuning-store';

const PREFIX = 'kernel-variant/';

export class KernelTuningRepository {
  constructor(private readonly db: Database.Database) {}

  /** The stored variant name for `key`, or undefined. */
  get(key: string): string | undefined {
    if (!key.startsWith(PREFIX)) return undefined;
    return this.db.prepare('SELECT value FROM app_state WHERE key = ?').pluck().get(key) as string | undefined;
  }

  set(key: string, variant: string): void {
    if (!key.startsWith(PREFIX)) throw new Error(`not a kernel tuning key: ${key}`);
    this.db.prepare('INSERT OR REPLACE INTO app_state (key, value) VALUES (?, ?)').run(key, variant);
  }

  /** Forgets every choice measured on `adapter` (all kernels, versions and model shapes); returns how many. */
  clearAdapter(adapter: string): number {
    const keys = (this.db.prepare("SELECT key FROM app_state WHERE key LIKE 'kernel-variant/%'").pluck().all() as string[]).filter((k) => isTuningKeyOf(k, adapter));
    const drop = this.db.prepare('DELETE FROM app_state WHERE key = ?');
    this.db.transaction(() => keys.forEach((k) => drop.run(k)))();
    return keys.length;
  }

  /** The same rows as the engine's TuningStore (Node callers: tests, a future CLI over the app's database). */
  asTuningStore(): TuningStore {
    return {
      get: (key) => Promise.resolve(this.get(key)),
      set: (key, value) => Promise.resolve(this.set(key, value)),
    };
  }
}
