// Flash-decode tilings for tests that cannot afford every one the tuner may offer (lavapipe compiles each pipeline
// in seconds).
import { decodeTilingCandidates, type DecodeTiling } from '../../src/gpu/kernels/attention-decode';
import { decodeDims, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import type { KernelContext } from '../../src/gpu/kernels/context';

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

/** Every tiling the tuner may offer for `shape` on `ctx`'s device (the fixed rule first). */
export function offeredTilings(ctx: KernelContext, shape: PagedAttentionShape): DecodeTiling[] {
  const limits = { software: ctx.caps.softwareAdapter, maxShared: ctx.caps.maxComputeWorkgroupStorageSize, maxInvocations: ctx.caps.maxComputeInvocationsPerWorkgroup };
  return decodeTilingCandidates(decodeDims(shape), limits);
}

/** The tilings a test checks: a covering set of the offered ones, or every one with KVCHAT_EVERY_TILING=1. */
export function testedTilings(offered: readonly DecodeTiling[]): DecodeTiling[] {
  return process.env.KVCHAT_EVERY_TILING === '1' ? [...offered] : coveringTilings(offered);
}
