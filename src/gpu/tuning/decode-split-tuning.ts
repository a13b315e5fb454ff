// Tuning flash-decode: its workgroup tiling (threads per key, query heads per workgroup, keys per barrier phase;
// attention-decode.ts) and its split-K (how many keys one workgroup walks before the context is split across
// another: the split count as a function of context length). Measured on one decode token at a long context with
// random K/V in the model's head layout and KV type, every candidate checked against a CPU attention in f64.
import { chooseDecodeSplits, DECODE_KEYS_PER_SPLIT, decodeTilingCandidates, decodeTilingKey, DEFAULT_DECODE_KEYS_PER_SPLIT, defaultDecodeTiling, parseDecodeTilingKey, type DecodeTiling } from '../kernels/attention-decode';
import { decodeDims, decodeVariant, flashDecodeGqa, type PagedAttentionBuffers, type PagedAttentionShape } from '../kernels/attention';
import type { KernelContext } from '../kernels/context';
import { GgmlType } from '../gguf/types';
import { blockElements, isQuantized, KV_BLOCK_TOKENS, kvElementIndex, kvKinds, layerBlockBytes, QUANT_BLOCK_BYTES, quantBlockIndex, type KvDtype, type KvQuantDtype } from '../kv/layout';
import { f16ToF32, f32ToF16Bits } from '../quant/half';
import { dequantize } from '../quant';
import { quantize } from '../quant/quantize';
import { normalizedError, seededValues, tuneWithin, withFallback, type TuneBudget, type TuneCandidate, type TuneResult } from './tuner';
import { storedOrMeasured, tuningKey, type ChoiceSource, type KeepOptions } from './tuning-store';

export interface DecodeSplitShape {
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** The engine's KV type (a q8_0 / q4_0 pool is timed and checked as the engine stores it: quantized rows). */
  readonly dtype: KvDtype;
  /** Keys the measured token attends to. */
  readonly context: number;
  /** MLA (KvLayout.latentDim): nKvHeads 1, one row a token whose first latentDim values are its value. */
  readonly latentDim?: number;
}

/** Largest normalized error a candidate may have: the attention kernel tests' bound. */
const EXACT_NORMALIZED_ERROR = 1e-5;

/**
 * Softmax attention of one token over `n` keys, f64: q (nHeads * headDim), keys / values (n, nKvHeads * headDim).
 * Returns (nHeads * vd): vd = headDim, or under MLA latentDim (values are then the keys' rows).
 */
function attend(q: Float32Array, keys: Float32Array, values: Float32Array, s: DecodeSplitShape): Float64Array {
  const { nHeads, nKvHeads, headDim, context: n } = s;
  const row = nKvHeads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const vd = s.latentDim ?? headDim;
  const out = new Float64Array(nHeads * vd);
  const w = new Float64Array(n);
  for (let h = 0; h < nHeads; h++) {
    const kv = Math.floor(h / (nHeads / nKvHeads)) * headDim;
    let max = -Infinity;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += q[h * headDim + d]! * keys[j * row + kv + d]!;
      w[j] = dot * scale;
      max = Math.max(max, w[j]!);
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += w[j] = Math.exp(w[j]! - max);
    for (let d = 0; d < vd; d++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += w[j]! * values[j * row + kv + d]!;
      out[h * vd + d] = acc / sum;
    }
  }
  return out;
}

/** A flash-decode choice: the workgroup tiling and the keys one workgroup walks before the context is split. */
export interface DecodeChoice {
  readonly tiling: DecodeTiling;
  readonly keysPerSplit: number;
}

/** As persisted: `l8.ht3.k16.kps256`. */
export const decodeChoiceKey = (c: DecodeChoice): string => `${decodeTilingKey(c.tiling)}.kps${c.keysPerSplit}`;

export function parseDecodeChoiceKey(key: string): DecodeChoice | undefined {
  const m = /^(.+)\.kps(\d+)$/.exec(key);
  const tiling = m ? parseDecodeTilingKey(m[1]!) : undefined;
  const keysPerSplit = Number(m?.[2]);
  return tiling && Number.isInteger(keysPerSplit) && keysPerSplit >= 16 ? { tiling, keysPerSplit } : undefined;
}

export interface DecodeTuneResult extends TuneResult, DecodeChoice {}

export interface DecodeTuneOptions extends TuneBudget {
  /** The tilings to time (tests); default: every one that fits the device (decodeTilingCandidates). */
  readonly tilings?: readonly DecodeTiling[];
}

/** The buffers one decode token at `s.context` keys is timed on, and the f64 attention it must match. */
interface DecodeFixture {
  readonly shape: PagedAttentionShape;
  readonly bufs: PagedAttentionBuffers;
  readonly want: Float64Array; // (nHeads * valueDim)
}

/** The GGUF block type each quantized KV type stores its rows in. */
const KV_QUANT_TYPE = { q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 } as const;

/**
 * A quantized pool of `blocks` blocks holding `rows` (K, then V unless MLA; each (context, nKvHeads * headDim)) as
 * appendKv stores them: each token's row quantized once. The rows are replaced by their dequantized values, which
 * the reference then attends over.
 */
function quantizedPool(s: DecodeSplitShape & { readonly dtype: KvQuantDtype }, blocks: number, rows: readonly Float32Array[]): Uint8Array {
  const row = s.nKvHeads * s.headDim;
  const type = KV_QUANT_TYPE[s.dtype];
  const pool = new Uint8Array(blocks * layerBlockBytes({ ...s, nLayers: 1 }));
  for (let pos = 0; pos < s.context; pos++) {
    for (const [kind, x] of rows.entries()) {
      const at = x.subarray(pos * row, (pos + 1) * row);
      const bytes = quantize(type, at);
      pool.set(bytes, quantBlockIndex(s, Math.floor(pos / KV_BLOCK_TOKENS), kind as 0 | 1, pos % KV_BLOCK_TOKENS, 0) * QUANT_BLOCK_BYTES[s.dtype]);
      dequantize(type, bytes, row, at);
    }
  }
  return pool;
}

function decodeFixture(ctx: KernelContext, s: DecodeSplitShape): DecodeFixture {
  const blocks = Math.ceil(s.context / KV_BLOCK_TOKENS);
  const row = s.nKvHeads * s.headDim;
  const stored = (x: number): number => (s.dtype === 'f16' ? f16ToF32(f32ToF16Bits(x)) : x);
  const keys = seededValues(s.context * row, 5).map(stored);
  const mla = s.latentDim !== undefined;
  const values = mla ? keys : seededValues(s.context * row, 6).map(stored); // MLA: the value is the row's latent
  const q = seededValues(s.nHeads * s.headDim, 7);
  const pool = isQuantized(s.dtype) ? quantizedPool({ ...s, dtype: s.dtype }, blocks, [keys, values].slice(0, kvKinds(s))) : floatPool(s, blocks, keys, values);
  const want = attend(q, keys, values, s);
  const shape: PagedAttentionShape = { nHeads: s.nHeads, nKvHeads: s.nKvHeads, headDim: s.headDim, dtype: s.dtype, maxBlocksPerSeq: blocks, ...(mla ? { latentDim: s.latentDim } : {}) };
  const bufs = {
    q: ctx.upload(q, 'tune.q'),
    pool: ctx.upload(pool, 'tune.pool'),
    blockTables: ctx.upload(Uint32Array.from({ length: blocks }, (_, i) => i), 'tune.blockTables'),
    tokenSeq: ctx.upload(new Uint32Array([0]), 'tune.tokenSeq'),
    tokenPos: ctx.upload(new Uint32Array([s.context - 1]), 'tune.tokenPos'),
    o: ctx.storage(want.length * 4, 'tune.o'),
  };
  return { shape, bufs, want };
}

/** An f32 or f16 pool of `blocks` blocks holding the (already rounded) rows. */
function floatPool(s: DecodeSplitShape, blocks: number, keys: Float32Array, values: Float32Array): Float32Array | Uint16Array {
  const row = s.nKvHeads * s.headDim;
  const mla = s.latentDim !== undefined;
  const pool = s.dtype === 'f16' ? new Uint16Array(blocks * blockElements(s)) : new Float32Array(blocks * blockElements(s));
  for (let pos = 0; pos < s.context; pos++) {
    for (let kind = 0 as 0 | 1; kind <= (mla ? 0 : 1); kind++) {
      for (let h = 0; h < s.nKvHeads; h++) {
        for (let d = 0; d < s.headDim; d++) {
          const x = (kind === 0 ? keys : values)[pos * row + h * s.headDim + d]!;
          const i = kvElementIndex(s, Math.floor(pos / KV_BLOCK_TOKENS), kind, h, pos % KV_BLOCK_TOKENS, d);
          pool[i] = s.dtype === 'f16' ? f32ToF16Bits(x) : x;
        }
      }
    }
  }
  return pool;
}

/** Flash-decode of the fixture's token with `c`, as a tuner candidate checked against the f64 attention. */
function decodeCandidate(ctx: KernelContext, fx: DecodeFixture, s: DecodeSplitShape, c: DecodeChoice): TuneCandidate {
  const headTiles = decodeVariant(fx.shape, ctx.caps.softwareAdapter, false, ctx.caps.maxComputeWorkgroupStorageSize, c.tiling).layout.headTiles;
  const splits = chooseDecodeSplits(s.context, s.nKvHeads * headTiles, c.keysPerSplit);
  const oBytes = fx.want.length * 4;
  const run = async (): Promise<void> => {
    ctx.run((pass) => flashDecodeGqa(ctx, pass, fx.shape, fx.bufs, { nTokens: 1, maxContext: s.context, splits, scale: 1 / Math.sqrt(s.headDim), tiling: c.tiling }));
    await ctx.device.queue.onSubmittedWorkDone();
    ctx.checkErrors();
  };
  const exact = async (): Promise<boolean> => {
    ctx.device.queue.writeBuffer(fx.bufs.o, 0, new Float32Array(fx.want.length));
    await run();
    return normalizedError(new Float32Array(await ctx.read(fx.bufs.o, oBytes)), fx.want) < EXACT_NORMALIZED_ERROR;
  };
  return { key: decodeChoiceKey(c), run, exact };
}

/** Share of the budget the tilings get; the keys-per-split round (few candidates, no new pipelines) the rest. */
const TILING_SHARE = 0.6;
/** As tuner.ts's minGain: the final choice must beat the fixed rule by this much, timed taking turns. */
const MIN_GAIN = 1.03;

/** What the two tuning rounds run on: the device (tuneFlashDecode), or a fake one (tests). */
export interface DecodeRounds {
  /** The fixed rule: the default tiling at the default keys per split. */
  readonly fixed: DecodeChoice;
  /** The tilings timed in the first round (the fixed one is added first when absent). */
  readonly tilings: readonly DecodeTiling[];
  /** The keys per split worth timing with `tiling` in the second round (one per distinct split count). */
  keysPerSplitFor(tiling: DecodeTiling): readonly number[];
  candidate(c: DecodeChoice): TuneCandidate;
}

/**
 * Times the tilings at the fixed keys per split, then, with the fastest exact tiling, each keys per split; the fixed
 * rule first in both rounds (tuner.ts: a switch must be paid for by a measured, confirmed gain). A winner that is
 * not the fixed rule is timed against it once more taking turns, and kept only if it is still MIN_GAIN faster. Never
 * rejects: a failure outside a candidate keeps the fixed rule.
 */
export async function tuneDecodeRounds(r: DecodeRounds, opts: TuneBudget): Promise<DecodeTuneResult> {
  const fixedKey = decodeChoiceKey(r.fixed);
  const keepFixed = (rest: Omit<TuneResult, 'chosen'>): DecodeTuneResult => ({ ...r.fixed, chosen: fixedKey, ...rest });
  try {
    const tilings = withFallback(r.tilings, r.fixed.tiling, decodeTilingKey);
    const progress = (offset: number, rest: number) => (done: number, total: number) => opts.onProgress?.(offset + done, offset + total + rest);
    const fixedSplit = r.fixed.keysPerSplit;
    const byTiling = await tuneWithin(
      tilings.map((tiling) => r.candidate({ tiling, keysPerSplit: fixedSplit })),
      fixedKey,
      { ...opts, budgetMs: opts.budgetMs * TILING_SHARE, onProgress: progress(0, DECODE_KEYS_PER_SPLIT.length) },
    );
    const tiling = parseDecodeChoiceKey(byTiling.chosen)?.tiling ?? r.fixed.tiling;
    const splitKeys = withFallback(r.keysPerSplitFor(tiling), fixedSplit, String);
    const bySplit = await tuneWithin(
      splitKeys.map((keysPerSplit) => r.candidate({ tiling, keysPerSplit })),
      decodeChoiceKey({ tiling, keysPerSplit: fixedSplit }),
      { ...opts, budgetMs: opts.budgetMs * (1 - TILING_SHARE), onProgress: progress(tilings.length, 0) },
    );
    const chosen = parseDecodeChoiceKey(bySplit.chosen) ?? r.fixed;
    // The second round's default is the first round's winner, timed already: listed once.
    const timings = [...byTiling.timings, ...bySplit.timings.filter((t) => t.key !== byTiling.chosen)];
    const error = byTiling.error ?? bySplit.error;
    const failed = error !== undefined ? { error } : {};
    if (decodeChoiceKey(chosen) === fixedKey) {
      return keepFixed({ ...(byTiling.defaultMs !== undefined ? { chosenMs: byTiling.defaultMs, defaultMs: byTiling.defaultMs } : {}), timings, ...failed });
    }
    const [chosenMs, defaultMs] = await takingTurns(r.candidate(chosen), r.candidate(r.fixed), opts);
    if (defaultMs / chosenMs < MIN_GAIN) return keepFixed({ chosenMs: defaultMs, defaultMs, timings, ...failed });
    return { ...chosen, chosen: decodeChoiceKey(chosen), chosenMs, defaultMs, timings, ...failed };
  } catch (e) {
    return keepFixed({ timings: [], error: e instanceof Error ? e.message : String(e) });
  }
}

/** Median ms of `a` and of `b`, run taking turns (`repeats` each, 5 by default). */
async function takingTurns(a: TuneCandidate, b: TuneCandidate, budget: TuneBudget): Promise<[number, number]> {
  const clock = budget.clock ?? (() => performance.now());
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < Math.max(1, budget.repeats ?? 5); i++) {
    for (const [j, c] of [a, b].entries()) {
      const t0 = clock();
      await c.run();
      times[j]!.push(clock() - t0);
    }
  }
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[xs.length >> 1]!;
  return [median(times[0]), median(times[1])];
}

/** tuneDecodeRounds on the device: one decode token at `s.context` keys, every candidate checked in f64. */
export async function tuneFlashDecode(ctx: KernelContext, s: DecodeSplitShape, opts: DecodeTuneOptions): Promise<DecodeTuneResult> {
  const fx = decodeFixture(ctx, s);
  try {
    const dims = decodeDims(fx.shape);
    const limits = { software: ctx.caps.softwareAdapter, maxShared: ctx.caps.maxComputeWorkgroupStorageSize, maxInvocations: ctx.caps.maxComputeInvocationsPerWorkgroup };
    const keysPerSplitFor = (tiling: DecodeTiling): number[] => {
      const headTiles = decodeVariant(fx.shape, limits.software, false, limits.maxShared, tiling).layout.headTiles;
      const bySplits = new Map<number, number>(); // split count -> the smallest keys per split giving it
      for (const kps of [DEFAULT_DECODE_KEYS_PER_SPLIT, ...DECODE_KEYS_PER_SPLIT]) {
        const splits = chooseDecodeSplits(s.context, s.nKvHeads * headTiles, kps);
        if (!bySplits.has(splits)) bySplits.set(splits, kps);
      }
      return [...bySplits.values()];
    };
    return await tuneDecodeRounds(
      {
        fixed: { tiling: defaultDecodeTiling(dims, limits.software, limits.maxShared), keysPerSplit: DEFAULT_DECODE_KEYS_PER_SPLIT },
        tilings: opts.tilings ?? decodeTilingCandidates(dims, limits),
        keysPerSplitFor,
        candidate: (c) => decodeCandidate(ctx, fx, s, c),
      },
      opts,
    );
  } finally {
    for (const b of Object.values(fx.bufs)) b.destroy();
  }
}

export function decodeSplitKey(adapter: string, s: DecodeSplitShape): string {
  const mla = s.latentDim === undefined ? '' : ` mla${s.latentDim}`;
  return tuningKey({ adapter, kernel: 'flash-decode-split', modelShape: `${s.nHeads}/${s.nKvHeads}x${s.headDim}${mla} ${s.dtype} ctx${s.context}` });
}

/**
 * The stored flash-decode choice for this device and shape, or (none stored, or `retune`) a measurement then
 * stored. A value stored before tilings were tuned (`kps512`) no longer parses, so it is measured again.
 */
export async function tunedFlashDecode(
  ctx: KernelContext,
  adapter: string,
  s: DecodeSplitShape,
  opts: DecodeTuneOptions & KeepOptions,
): Promise<DecodeChoice & { readonly source: ChoiceSource; readonly result?: DecodeTuneResult }> {
  const shape = { nHeads: s.nHeads, nKvHeads: s.nKvHeads, headDim: s.headDim, dtype: s.dtype, maxBlocksPerSeq: 1, ...(s.latentDim !== undefined ? { latentDim: s.latentDim } : {}) };
  const fallback = { tiling: defaultDecodeTiling(decodeDims(shape), ctx.caps.softwareAdapter, ctx.caps.maxComputeWorkgroupStorageSize), keysPerSplit: DEFAULT_DECODE_KEYS_PER_SPLIT };
  const kept = { store: opts.store, key: decodeSplitKey(adapter, s), parse: parseDecodeChoiceKey, serialize: decodeChoiceKey, fallback, retune: opts.retune, measure: opts.measure };
  const { choice, source, result } = await storedOrMeasured(kept, () => tuneFlashDecode(ctx, s, opts), (r): DecodeChoice => ({ tiling: r.tiling, keysPerSplit: r.keysPerSplit }));
  return { ...choice, source, ...(result ? { result } : {}) };
}
