// Where tuned kernel choices are kept: a key-value store the caller provides (the app's SQLite settings, a JSON
// file for the CLI), keyed by what makes a measurement valid elsewhere: the device, the kernels' version and the
// model's shapes.

/**
 * Bump when a kernel family's variants or their code change: older choices are then measured again.
 * 2: matvec wide loads (`.v4`), prefill GEMM tiles.
 */
export const KERNEL_VARIANTS_VERSION = 2;

/** A persistent string map; the engine never knows what backs it. */
export interface TuningStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export interface TuningKeyParts {
  /** Vendor / architecture / description as the adapter reports them (GpuContext.adapterDescription). */
  readonly adapter: string;
  /** The kernel family tuned (`matvec`). */
  readonly kernel: string;
  /** The shapes measured, e.g. `llama q8_0:576x1536,q8_0:1536x576`. */
  readonly modelShape: string;
  readonly version?: number;
}

export function tuningKey(p: TuningKeyParts): string {
  return `kernel-variant/v${p.version ?? KERNEL_VARIANTS_VERSION}/${p.kernel}/${p.adapter}/${p.modelShape}`;
}

/** A store in memory (tests, and a session that must not persist). */
export function memoryTuningStore(): TuningStore & { readonly entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    get: (key) => Promise.resolve(entries.get(key)),
    set: (key, value) => {
      entries.set(key, value);
      return Promise.resolve();
    },
  };
}

/** Whether `key` (a tuningKey) holds a choice measured on `adapter`, whatever its kernel, version or model shape. */
export function isTuningKeyOf(key: string, adapter: string): boolean {
  const m = /^kernel-variant\/v\d+\/[^/]+\//.exec(key);
  return m !== null && key.startsWith(`${adapter}/`, m[0].length);
}

/** Where a choice came from: the store, a fresh measurement, or the fixed rule (nothing stored or measured). */
export type ChoiceSource = 'stored' | 'measured' | 'default';

/** What a caller of a tuned kernel family decides: where choices are kept, and whether to measure. */
export type KeepOptions = Pick<StoredChoice<unknown>, 'store' | 'retune' | 'measure'>;

/** How a tuned kernel family's choice is kept: parsed from and written to the store's string values. */
export interface StoredChoice<V> {
  readonly store: TuningStore;
  readonly key: string;
  /** The stored value as a choice; undefined when it no longer parses (then it is measured again). */
  readonly parse: (stored: string) => V | undefined;
  readonly serialize: (choice: V) => string;
  /** The fixed rule's choice, kept without measuring when `measure` is false. */
  readonly fallback: V;
  /** Measure again even when a choice is stored (the app's re-tune setting, the CLI's --tune). */
  readonly retune?: boolean;
  /** With nothing stored: measure now (default) or keep the fixed rule. */
  readonly measure?: boolean;
}

/**
 * The stored choice for `c.key`, or (none stored, or `retune`) a fresh measurement, stored unless it failed (a
 * failed measurement is not kept: the next load tries again).
 */
export async function storedOrMeasured<V, R extends { readonly error?: unknown }>(
  c: StoredChoice<V>,
  measure: () => Promise<R>,
  chosen: (result: R) => V,
): Promise<{ readonly choice: V; readonly source: ChoiceSource; readonly result?: R }> {
  const stored = await c.store.get(c.key);
  const storedChoice = stored !== undefined ? c.parse(stored) : undefined;
  if (storedChoice !== undefined && !c.retune) return { choice: storedChoice, source: 'stored' };
  if (c.measure === false) return { choice: c.fallback, source: 'default' };
  const result = await measure();
  if (!result.error) await c.store.set(c.key, c.serialize(chosen(result)));
  return { choice: chosen(result), source: 'measured', result };
}
