// Flash-decode tilings for tests that cannot afford every one the tuner may offer (lavapipe compiles each pipeline
// in seconds).
import type { DecodeTiling } from '../../src/gpu/kernels/attention-decode';

/**
 * The first tiling (the fixed rule), then the fewest further ones that together take every threads-per-key,
 * heads-per-workgroup and keys-per-phase value among `all`: each value is checked, at a few pipelines a shape instead
 * of up to 40. The tuner gates every candidate by the same exactness check on the device before timing it, so a
 * combination left out here can never be chosen inexact.
 */
export function coveringTilings(all: readonly DecodeTiling[]): DecodeTiling[] {
  const values = (t: DecodeTiling): string[] => [`l${t.lanes}`, `h${t.headTile}`, `k${t.keysPerPhase}`];
  const missing = new Set(all.flatMap(values));
  const out: DecodeTiling[] = [];
  for (const t of all) {
    if (out.length > 0 && !values(t).some((v) => missing.has(v))) continue;
    out.push(t);
    for (const v of values(t)) missing.delete(v);
    if (missing.size === 0) break;
  }
  return out;
}
