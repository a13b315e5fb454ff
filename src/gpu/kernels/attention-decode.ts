// Flash-decode's tiling (attention-decode.wgsl) and its split-K: threads per key, query heads per workgroup, keys
// per barrier phase, keys per split. Each has a fixed rule a device gets by default; the tuner (src/gpu/tuning)
// times the other candidates on the device and a context then runs with the one it measured fastest and exact.
import type { KernelContext } from './context';

/** A flash-decode workgroup layout the tuner may choose. */
export interface DecodeTiling {
  /** Threads per key in the score phase; the workgroup is 16 * lanes invocations. */
  readonly lanes: number;
  /** Most query heads one workgroup scores (a group past it is split into equal tiles). */
  readonly headTile: number;
  /** Keys per barrier round: one 16-token KV block, or two (half the barriers, twice the workgroup memory). */
  readonly keysPerPhase: 16 | 32;
}

export interface DecodeLayout {
  readonly headTile: number;
  readonly headTiles: number;
  readonly lanes: number; // threads per key in the score phase
  readonly keysPerPhase: number;
  readonly slots: number; // key slots in the value phase
  readonly invocations: number;
  readonly sharedBytes: number;
}

/** What a tiling's layout depends on: `valueWidth` is headDim, or latentDim under MLA; `group` nHeads / nKvHeads. */
export interface DecodeDims {
  readonly headDim: number;
  readonly valueWidth: number;
  readonly group: number;
  readonly mla: boolean;
}

/** The device limits a layout must fit (maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup). */
export interface DecodeLimits {
  readonly software: boolean;
  readonly maxShared: number;
  readonly maxInvocations: number;
}

const THREADS = 128; // target invocations per workgroup on a GPU
const MAX_HEAD_TILE = 8; // query heads per workgroup: registers (acc) and workgroup memory grow with it
// MLA: every query head reads the one latent row, so more heads share each block load, as workgroup memory allows.
const MAX_MLA_HEAD_TILE = 16;
/**
 * Threads per key in the score phase on a CPU Vulkan driver: 2, not 8, so a workgroup is 32 invocations and each of
 * the three barriers per block switches between 4 SIMD chunks instead of 16 (lavapipe, 9 heads / 3 KV heads, head dim
 * 64, f16 KV, medians: 1.66 against 2.78 ms at 512 keys, 6.9 against 11.1 ms at 2048).
 */
const SOFTWARE_LANES = 2;

// The value phase needs 16 * lanes >= valueWidth / 4 threads for one key slot: with fewer (head dim 256 at 2
// software lanes) it had no slot and decode summed no values at all.
const minLanes = (d: DecodeDims): number => Math.ceil(d.valueWidth / 4 / 16);

/** The workgroup layout of `tiling` for `d`; `headTile` is clamped to the group and balanced over equal tiles. */
export function decodeLayoutOf(d: DecodeDims, tiling: DecodeTiling): DecodeLayout {
  const { lanes, keysPerPhase } = tiling;
  const vd4 = d.valueWidth / 4;
  const headTiles = Math.ceil(d.group / Math.min(tiling.headTile, d.group));
  const headTile = Math.ceil(d.group / headTiles);
  const invocations = 16 * lanes;
  const slots = Math.min(keysPerPhase, Math.floor(invocations / vd4));
  // Words: q_s, part_s (padded), score_s + prob_s, alpha_s + max_s, red_s (vec4), l_red_s, tok_s.
  const words = headTile * d.headDim + headTile * keysPerPhase * (lanes + 3) + 3 * headTile + 4 * invocations + keysPerPhase + 2;
  return { headTile, headTiles, lanes, keysPerPhase, slots, invocations, sharedBytes: 4 * words };
}

/**
 * The fixed rule: 2 lanes on a CPU driver, else THREADS / 16 (never fewer than the value phase needs, never more
 * than a head row has vec4s), one block a phase, and the smallest split of the group into tiles of at most 8 heads
 * (16 under MLA) that fits `maxShared` bytes.
 */
export function defaultDecodeTiling(d: DecodeDims, software: boolean, maxShared: number): DecodeTiling {
  const lanes = Math.min(Math.max(software ? SOFTWARE_LANES : THREADS / 16, minLanes(d)), d.headDim / 4);
  const maxHeadTile = d.mla ? MAX_MLA_HEAD_TILE : MAX_HEAD_TILE;
  let headTiles = Math.ceil(d.group / maxHeadTile);
  const bytes = (headTiles: number): number => decodeLayoutOf(d, { lanes, headTile: Math.ceil(d.group / headTiles), keysPerPhase: 16 }).sharedBytes;
  while (headTiles < d.group && bytes(headTiles) > maxShared) headTiles++;
  return { lanes, headTile: Math.ceil(d.group / headTiles), keysPerPhase: 16 };
}

/** Why `tiling` cannot run `d` on a device with `limits`, or undefined when it can. */
export function decodeTilingProblem(d: DecodeDims, tiling: DecodeTiling, limits: Omit<DecodeLimits, 'software'>): string | undefined {
  const { lanes, headTile, keysPerPhase } = tiling;
  if (!Number.isInteger(lanes) || lanes < minLanes(d) || lanes > d.headDim / 4) {
    return `lanes ${lanes}: needs a whole number in ${minLanes(d)} ..= ${d.headDim / 4} (16 * lanes threads must cover a value row of ${d.valueWidth / 4} vec4s)`;
  }
  if (!Number.isInteger(headTile) || headTile < 1) return `headTile ${headTile}: needs a positive whole number`;
  if (keysPerPhase !== 16 && keysPerPhase !== 32) return `keysPerPhase ${String(keysPerPhase)}: needs 16 or 32`;
  const layout = decodeLayoutOf(d, tiling);
  if (layout.invocations > limits.maxInvocations) return `${layout.invocations} invocations, over maxComputeInvocationsPerWorkgroup (${limits.maxInvocations})`;
  if (layout.sharedBytes > limits.maxShared) return `${layout.sharedBytes} bytes of workgroup memory, over maxComputeWorkgroupStorageSize (${limits.maxShared})`;
  return undefined;
}

export const decodeTilingKey = (t: DecodeTiling): string => `l${t.lanes}.ht${t.headTile}.k${t.keysPerPhase}`;

/** The tiling a decodeTilingKey names, or undefined when `key` is not one. */
export function parseDecodeTilingKey(key: string): DecodeTiling | undefined {
  const m = /^l(\d+)\.ht(\d+)\.k(16|32)$/.exec(key);
  return m ? { lanes: Number(m[1]), headTile: Number(m[2]), keysPerPhase: Number(m[3]) as 16 | 32 } : undefined;
}

const powersOfTwo = (lo: number, hi: number): number[] => {
  const out: number[] = [];
  for (let x = 1; x <= hi; x *= 2) if (x >= lo) out.push(x);
  return out;
};

/**
 * The tilings the tuner times for `d` on a device with `limits`: threads per key (powers of two the head row
 * allows), head tiles (the group split in 1, 2, 4 … equal tiles), one or two blocks a phase, every one fitting the
 * device. The fixed rule comes first, then the others by how far they are from it (one knob changed before two), so
 * that a tight budget times the nearest alternatives.
 */
export function decodeTilingCandidates(d: DecodeDims, limits: DecodeLimits): DecodeTiling[] {
  const fixed = defaultDecodeTiling(d, limits.software, limits.maxShared);
  const maxHeadTile = d.mla ? MAX_MLA_HEAD_TILE : MAX_HEAD_TILE;
  const tiles = new Set<number>();
  for (let n = 1; n <= d.group; n *= 2) if (Math.ceil(d.group / n) <= maxHeadTile) tiles.add(Math.ceil(d.group / n));
  tiles.add(fixed.headTile);
  const lanes = new Set([...powersOfTwo(minLanes(d), d.headDim / 4), fixed.lanes]);
  const all: DecodeTiling[] = [];
  for (const l of lanes) for (const headTile of tiles) for (const keysPerPhase of [16, 32] as const) all.push({ lanes: l, headTile, keysPerPhase });
  const distance = (t: DecodeTiling): number =>
    Math.abs(Math.log2(t.lanes / fixed.lanes)) + Math.abs(Math.log2(t.headTile / fixed.headTile)) + (t.keysPerPhase === fixed.keysPerPhase ? 0 : 1);
  return all
    .filter((t) => decodeTilingProblem(d, t, limits) === undefined)
    .sort((a, b) => distance(a) - distance(b));
}

const tunedTilings = new WeakMap<KernelContext, DecodeTiling>();

/**
 * Applies a measured tiling to every flash-decode on `ctx` whose shape it fits (a layer it does not fit keeps the
 * fixed rule); undefined: the fixed rule everywhere.
 */
export function useDecodeTiling(ctx: KernelContext, tiling: DecodeTiling | undefined): void {
  if (tiling === undefined) tunedTilings.delete(ctx);
  else if (parseDecodeTilingKey(decodeTilingKey(tiling))) tunedTilings.set(ctx, { ...tiling });
  else throw new Error(`flashDecodeGqa: not a decode tiling: ${JSON.stringify(tiling)}`);
}

export function decodeTilingOf(ctx: KernelContext): DecodeTiling | undefined {
  return tunedTilings.get(ctx);
}

const KEYS_PER_SPLIT = 256; // fewer keys per workgroup than this and the merge costs more than the split gains
const TARGET_WORKGROUPS = 256; // enough workgroups in flight to cover a laptop GPU's cores several times
const MAX_SPLITS = 64;

/**
 * Splits of each token's context in flash-decode: one per KEYS_PER_SPLIT keys at most, and only as many as it
 * takes to reach TARGET_WORKGROUPS workgroups (batched decode of many tokens needs none).
 */
export function chooseDecodeSplits(maxContext: number, baseWorkgroups: number, keysPerSplit = KEYS_PER_SPLIT): number {
  const byKeys = Math.ceil(maxContext / keysPerSplit);
  const byOccupancy = Math.ceil(TARGET_WORKGROUPS / Math.max(1, baseWorkgroups));
  return Math.max(1, Math.min(byKeys, byOccupancy, MAX_SPLITS));
}

/** Keys per split the tuner chooses among (src/gpu/tuning): the split count as a function of context length. */
export const DECODE_KEYS_PER_SPLIT = [64, 128, 256, 512, 1024] as const;
export const DEFAULT_DECODE_KEYS_PER_SPLIT = KEYS_PER_SPLIT;
const tunedKeysPerSplit = new WeakMap<KernelContext, number>();

/** Applies a measured keys-per-split to every flash-decode on `ctx` (undefined: the fixed KEYS_PER_SPLIT). */
export function useDecodeKeysPerSplit(ctx: KernelContext, keysPerSplit: number | undefined): void {
  if (keysPerSplit === undefined) tunedKeysPerSplit.delete(ctx);
  else if (Number.isInteger(keysPerSplit) && keysPerSplit >= 16) tunedKeysPerSplit.set(ctx, keysPerSplit);
  else throw new Error(`flashDecodeGqa: keys per split must be a whole number >= 16, got ${keysPerSplit}`);
}

export function decodeKeysPerSplitOf(ctx: KernelContext): number {
  return tunedKeysPerSplit.get(ctx) ?? KEYS_PER_SPLIT;
}
