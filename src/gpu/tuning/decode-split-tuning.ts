// Tuning flash-decode's split-K: how many keys one workgroup walks before the context is split across another
// (the split count as a function of context length). Measured on one decode token at a long context with random
// K/V in the model's head layout and KV type, every candidate checked against a CPU attention in f64.
import { chooseDecodeSplits, DECODE_KEYS_PER_SPLIT, decodeVariant, DEFAULT_DECODE_KEYS_PER_SPLIT, flashDecodeGqa, type PagedAttentionShape } from '../kernels/attention';
import type { KernelContext } from '../kernels/context';
import { blockElements, KV_BLOCK_TOKENS, kvElementIndex } from '../kv/layout';
import { f16ToF32, f32ToF16Bits } from '../quant/half';
import { normalizedError, seededValues, tuneWithin, type TuneBudget, type TuneCandidate, type TuneResult } from './tuner';
import { storedOrMeasured, tuningKey, type TuningStore } from './tuning-store';

export interface DecodeSplitShape {
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** The engine's KV type; quantized pools are not tuned here (their split rule stays fixed). */
  readonly dtype: 'f32' | 'f16';
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

export interface DecodeSplitTuneResult extends TuneResult {
  readonly keysPerSplit: number;
}

const keyOf = (keysPerSplit: number): string => `kps${keysPerSplit}`;

/** Times flash-decode with each keys-per-split that gives a distinct split count at `s.context`; fastest exact wins. */
export type DecodeSplitTuneOptions = TuneBudget;

export async function tuneDecodeSplits(ctx: KernelContext, s: DecodeSplitShape, opts: DecodeSplitTuneOptions): Promise<DecodeSplitTuneResult> {
  const blocks = Math.ceil(s.context / KV_BLOCK_TOKENS);
  const row = s.nKvHeads * s.headDim;
  const stored = (x: number): number => (s.dtype === 'f16' ? f16ToF32(f32ToF16Bits(x)) : x);
  const keys = seededValues(s.context * row, 5).map(stored);
  const mla = s.latentDim !== undefined;
  const values = mla ? keys : seededValues(s.context * row, 6).map(stored); // MLA: the value is the row's latent
  const q = seededValues(s.nHeads * s.headDim, 7);
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
  const want = attend(q, keys, values, s);
  const shape: PagedAttentionShape = { nHeads: s.nHeads, nKvHeads: s.nKvHeads, headDim: s.headDim, dtype: s.dtype, maxBlocksPerSeq: blocks, ...(mla ? { latentDim: s.latentDim } : {}) };
  const oBytes = want.length * 4;
  const bufs = {
    q: ctx.upload(q, 'tune.q'),
    pool: ctx.upload(pool, 'tune.pool'),
    blockTables: ctx.upload(Uint32Array.from({ length: blocks }, (_, i) => i), 'tune.blockTables'),
    tokenSeq: ctx.upload(new Uint32Array([0]), 'tune.tokenSeq'),
    tokenPos: ctx.upload(new Uint32Array([s.context - 1]), 'tune.tokenPos'),
    o: ctx.storage(oBytes, 'tune.o'),
  };
  try {
    const base = s.nKvHeads * decodeVariant(shape, ctx.caps.softwareAdapter, false, ctx.caps.maxComputeWorkgroupStorageSize).layout.headTiles;
    const bySplits = new Map<number, number>(); // split count -> the smallest keys per split giving it
    for (const kps of [DEFAULT_DECODE_KEYS_PER_SPLIT, ...DECODE_KEYS_PER_SPLIT]) {
      const splits = chooseDecodeSplits(s.context, base, kps);
      if (!bySplits.has(splits)) bySplits.set(splits, kps);
    }
    const candidates: TuneCandidate[] = [...bySplits].map(([splits, kps]) => {
      const run = async (): Promise<void> => {
        ctx.run((pass) => flashDecodeGqa(ctx, pass, shape, bufs, { nTokens: 1, maxContext: s.context, splits, scale: 1 / Math.sqrt(s.headDim) }));
        await ctx.device.queue.onSubmittedWorkDone();
        ctx.checkErrors();
      };
      const exact = async (): Promise<boolean> => {
        ctx.device.queue.writeBuffer(bufs.o, 0, new Float32Array(want.length));
        await run();
        return normalizedError(new Float32Array(await ctx.read(bufs.o, oBytes)), want) < EXACT_NORMALIZED_ERROR;
      };
      return { key: keyOf(kps), run, exact };
    });
    const result = await tuneWithin(candidates, keyOf(DEFAULT_DECODE_KEYS_PER_SPLIT), opts);
    return { ...result, keysPerSplit: Number(result.chosen.slice(3)) };
  } finally {
    for (const b of Object.values(bufs)) b.destroy();
  }
}

export function decodeSplitKey(adapter: string, s: DecodeSplitShape): string {
  const mla = s.latentDim === undefined ? '' : ` mla${s.latentDim}`;
  return tuningKey({ adapter, kernel: 'flash-decode-split', modelShape: `${s.nHeads}/${s.nKvHeads}x${s.headDim}${mla} ${s.dtype} ctx${s.context}` });
}

/** The stored keys per split for this device and shape, or (none stored, or `retune`) a measurement then stored. */
export async function tunedDecodeKeysPerSplit(
  ctx: KernelContext,
  adapter: string,
  s: DecodeSplitShape,
  opts: DecodeSplitTuneOptions & { readonly store: TuningStore; readonly retune?: boolean; readonly measure?: boolean },
): Promise<{ readonly keysPerSplit: number; readonly source: 'stored' | 'measured' | 'default'; readonly result?: DecodeSplitTuneResult }> {
  const key = decodeSplitKey(adapter, s);
  const parse = (v: string): number | undefined => {
    const n = Number(v.replace(/^kps/, ''));
    return Number.isInteger(n) && n >= 16 ? n : undefined;
  };
  const kept = { store: opts.store, key, parse, serialize: keyOf, fallback: DEFAULT_DECODE_KEYS_PER_SPLIT, retune: opts.retune, measure: opts.measure };
  const { choice, source, result } = await storedOrMeasured(kept, () => tuneDecodeSplits(ctx, s, opts), (r) => r.keysPerSplit);
  return { keysPerSplit: choice, source, ...(result ? { result } : {}) };
}
