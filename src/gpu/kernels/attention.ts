// Attention over the paged KV cache: GQA flash-decode with split-K (+ merge), tiled causal prefill, and the
// naive three-pass baseline the benchmarks compare against. Each also takes an MLA shape (latentDim: one latent row
// [latent | k_pe] a token, read by every query head, whose value is the latent; see KvLayout.latentDim). WGSL: one
// attention-*.wgsl file per pass family, the paged-KV bindings and loads shared by #include; a pipeline's cache key
// is its file and the defines it compiles with. Flash-decode's tiling and split rules live in attention-decode.ts.
import decodeCode from './attention-decode.wgsl?raw';
import mergeCode from './attention-merge.wgsl?raw';
import naiveCode from './attention-naive.wgsl?raw';
import pagedKvCode from './attention-paged-kv.wgsl?raw';
import prefillCode from './attention-prefill.wgsl?raw';
import { chooseDecodeSplits, decodeKeysPerSplitOf, decodeLayoutOf, decodeTilingOf, decodeTilingProblem, defaultDecodeTiling, type DecodeDims, type DecodeLayout, type DecodeTiling } from './attention-decode';
import { checkKvLayout, isQuantized, kvKinds, QUANT_BLOCK_BYTES, valueDim } from '../kv/layout';
import type { KernelContext } from './context';
import { checkBinding, checkBindingBytes, checkHeadDim, checkTokens, checkWorkgroup, workgroupGrid, type PagedKvShape } from './kv-append';
import { dispatch, pipelineFor, type Defines, type WgslFile } from './shader';

export {
  chooseDecodeSplits,
  DECODE_KEYS_PER_SPLIT,
  decodeKeysPerSplitOf,
  DEFAULT_DECODE_KEYS_PER_SPLIT,
  useDecodeKeysPerSplit,
  useDecodeTiling,
  type DecodeLayout,
  type DecodeTiling,
} from './attention-decode';

export interface PagedAttentionShape extends PagedKvShape {
  readonly nHeads: number; // query heads; a multiple of nKvHeads, head h reads kv head floor(h / (nHeads / nKvHeads))
}

/**
 * Under MLA (shape.latentDim) each query head is [q_nope absorbed into the latent space (latentDim) | q_pe roped
 * (headDim - latentDim)], scored against the whole row; o holds latentDim values a head, the weighted sum of the
 * rows' latents. The caller always passes `scale` then (MLA's is not 1 / sqrt(headDim)).
 */
export interface PagedAttentionBuffers {
  readonly q: GPUBuffer; // (nTokens, nHeads * headDim) f32, RoPE applied
  readonly pool: GPUBuffer; // one layer's pool: (blocks, kinds, nKvHeads, 16, headDim) dtype
  readonly blockTables: GPUBuffer; // (nSeqs, maxBlocksPerSeq) u32: logical block -> physical block
  readonly tokenSeq: GPUBuffer; // (nTokens) u32: row of the block table
  readonly tokenPos: GPUBuffer; // (nTokens) u32: position; the token attends to keys 0 ..= pos of its sequence
  readonly o: GPUBuffer; // (nTokens, nHeads * valueDim) f32, written; valueDim = headDim, or latentDim under MLA
}

export interface FlashDecodeOptions {
  readonly nTokens: number;
  /** Largest tokenPos + 1 among the tokens: sets the split count (each token still walks its own context). */
  readonly maxContext: number;
  /** Forces the split count (tests, benchmarks); otherwise `chooseDecodeSplits`. */
  readonly splits?: number;
  /** Score scale; 1 / sqrt(headDim) when absent. */
  readonly scale?: number;
  /** Sliding window: a token at pos p attends keys p - window < key <= p; whole blocks before it are skipped. */
  readonly window?: number;
  /** Scores become softcap * tanh(score / softcap) (Gemma 2's attention soft-capping). */
  readonly softcap?: number;
  /** (nHeads) f32 sink logits (gpt-oss's attn_sinks): exp(sink) joins each head's softmax denominator only. */
  readonly sinks?: GPUBuffer;
  /**
   * The workgroup tiling (tests, the tuner); otherwise the one applied by useDecodeTiling where it fits the shape,
   * else the fixed rule. A given tiling that does not fit the shape or the device is an error.
   */
  readonly tiling?: DecodeTiling;
}

export interface FlashDecodePlan {
  readonly splits: number;
  /** Query heads sharing one pass over a KV head's blocks (the group, or a part of it past 8 heads). */
  readonly headTile: number;
  readonly workgroups: number;
  readonly tiling: DecodeTiling;
}

export interface PrefillOptions {
  readonly nTokens: number;
  readonly scale?: number;
  /** As FlashDecodeOptions.window: key tiles before the window of the tile's earliest token are skipped. */
  readonly window?: number;
  readonly softcap?: number;
  /** As FlashDecodeOptions.sinks. */
  readonly sinks?: GPUBuffer;
  /** Keys staged in workgroup memory per step; 16 (a whole block) where the device's workgroup memory allows. */
  readonly keyTile?: 8 | 16;
}

export interface NaiveAttentionOptions {
  readonly nTokens: number;
  /** Columns of the score matrix: at least every token's pos + 1. */
  readonly maxContext: number;
  readonly scale?: number;
  /** (nTokens, nHeads, maxContext) f32 scratch; a shared one is kept per context when absent. */
  readonly scores?: GPUBuffer;
}

// WebGPU's default maxComputeWorkgroupStorageSize: what a variant is sized for when the device's is not given.
const DEFAULT_WORKGROUP_STORAGE = 16384;
const THREADS = 128; // target invocations per attention workgroup

const library = { 'paged-kv': pagedKvCode };

/** The attention WGSL files; all but the merge pass include attention-paged-kv.wgsl. */
export const ATTENTION_FILES = {
  decode: { name: 'attention-decode', code: decodeCode, library },
  merge: { name: 'attention-merge', code: mergeCode },
  prefill: { name: 'attention-prefill', code: prefillCode, library },
  naive: { name: 'attention-naive', code: naiveCode, library },
} as const satisfies Record<string, WgslFile>;

/** One pipeline: its WGSL file and the defines it is compiled with, which together are its cache key. */
export interface AttentionVariant {
  readonly file: WgslFile;
  readonly defines: Defines;
}

export interface PrefillLayout {
  readonly lanes: number; // threads per query row
  readonly chunks: number; // vec4 of q per thread
  readonly accChunks: number; // vec4 of acc per thread (fewer than chunks under MLA: the value is the latent only)
  readonly rows: number; // query rows (token, head) per workgroup
  readonly invocations: number;
  readonly sharedBytes: number;
}

/** `kinds`: 2 stages K and V tiles, 1 (MLA) the latent rows only, which serve as values too. */
function prefillLayout(headDim: number, valueWidth: number, kinds: number, keyTile: number): PrefillLayout {
  const d4 = headDim / 4;
  const lanes = Math.max(1, Math.min(8, Math.floor(d4 / 4)));
  const rows = Math.floor(THREADS / lanes);
  const invocations = rows * lanes;
  const sharedBytes = 4 * (kinds * keyTile * headDim + (lanes > 1 ? keyTile * invocations + rows * keyTile : 0) + 2);
  return { lanes, chunks: Math.ceil(d4 / lanes), accChunks: Math.ceil(valueWidth / 4 / lanes), rows, invocations, sharedBytes };
}

function checkShape(kernel: string, shape: PagedAttentionShape, scale: number | undefined): number {
  checkHeadDim(kernel, shape.headDim, shape.latentDim);
  checkKvLayout(shape);
  if (shape.latentDim !== undefined && scale === undefined) throw new Error(`${kernel}: an MLA shape (latentDim) needs an explicit scale`);
  const { nHeads, nKvHeads } = shape;
  if (!Number.isInteger(nKvHeads) || nKvHeads < 1 || !Number.isInteger(nHeads) || nHeads % nKvHeads !== 0) {
    throw new Error(`${kernel}: nHeads ${nHeads} is not a positive multiple of nKvHeads ${nKvHeads}`);
  }
  return nHeads / nKvHeads;
}

function checkBuffers(ctx: KernelContext, kernel: string, shape: PagedAttentionShape, bufs: PagedAttentionBuffers, nTokens: number): void {
  checkTokens(ctx, kernel, shape, bufs.blockTables, bufs.tokenSeq, bufs.tokenPos, nTokens);
  checkBinding(ctx, kernel, 'q', bufs.q, nTokens * shape.nHeads * shape.headDim * 4);
  checkBinding(ctx, kernel, 'o', bufs.o, nTokens * shape.nHeads * valueDim(shape) * 4);
  checkBinding(ctx, kernel, 'pool', bufs.pool, 0);
}

function kvDefines(shape: PagedAttentionShape): Defines {
  const quant = isQuantized(shape.dtype);
  return {
    KV_Q8: shape.dtype === 'q8_0',
    KV_Q4: shape.dtype === 'q4_0',
    KV_F16: shape.dtype === 'f16',
    KV_HEADS: quant ? `${shape.nKvHeads}u` : 0,
    BLOCK_HALVES: quant ? `${QUANT_BLOCK_BYTES[shape.dtype] / 2}u` : 0,
    D4: `${shape.headDim / 4}u`,
    GROUP: `${shape.nHeads / shape.nKvHeads}u`,
    KINDS: `${kvKinds(shape)}u`,
    V_KIND: `${kvKinds(shape) - 1}u`,
    VD4: `${valueDim(shape) / 4}u`,
  };
}

/** What flash-decode's tiling depends on in `shape`. */
export function decodeDims(shape: PagedAttentionShape): DecodeDims {
  return { headDim: shape.headDim, valueWidth: valueDim(shape), group: shape.nHeads / shape.nKvHeads, mla: shape.latentDim !== undefined };
}

/**
 * The flash-decode pipeline for `shape` and its workgroup layout: `tiling`, or the fixed rule (`software`: a CPU
 * Vulkan driver; `maxShared`: the device's maxComputeWorkgroupStorageSize, which bounds the head tile).
 */
export function decodeVariant(
  shape: PagedAttentionShape,
  software: boolean,
  sinks = false,
  maxShared = DEFAULT_WORKGROUP_STORAGE,
  tiling?: DecodeTiling,
): AttentionVariant & { readonly layout: DecodeLayout; readonly tiling: DecodeTiling } {
  const dims = decodeDims(shape);
  const chosen = tiling ?? defaultDecodeTiling(dims, software, maxShared);
  const layout = decodeLayoutOf(dims, chosen);
  const defines = {
    ...kvDefines(shape),
    HEAD_TILE: `${layout.headTile}u`,
    LANES: `${layout.lanes}u`,
    SLOTS: `${layout.slots}u`,
    KEYS_PER_PHASE: `${layout.keysPerPhase}u`,
    SINKS: sinks,
  };
  return { file: ATTENTION_FILES.decode, defines, layout, tiling: chosen };
}

/** The tiling flash-decode runs `shape` with on `ctx` (see FlashDecodeOptions.tiling). */
function decodeTilingFor(ctx: KernelContext, kernel: string, shape: PagedAttentionShape, given: DecodeTiling | undefined): DecodeTiling | undefined {
  const limits = { maxShared: ctx.caps.maxComputeWorkgroupStorageSize, maxInvocations: ctx.caps.maxComputeInvocationsPerWorkgroup };
  if (given) {
    const problem = decodeTilingProblem(decodeDims(shape), given, limits);
    if (problem) throw new Error(`${kernel}: tiling ${JSON.stringify(given)} does not fit: ${problem}`);
    return given;
  }
  const tuned = decodeTilingOf(ctx);
  return tuned && decodeTilingProblem(decodeDims(shape), tuned, limits) === undefined ? tuned : undefined;
}

/** `valueWidth`: values of one output row a head (headDim, or latentDim under MLA). */
export function mergeVariant(valueWidth: number, sinks = false): AttentionVariant {
  return { file: ATTENTION_FILES.merge, defines: { D4: `${valueWidth / 4}u`, SINKS: sinks } };
}

/** The prefill pipeline for `shape` staging `keyTile` keys at a time, and its workgroup layout. */
export function prefillVariant(shape: PagedAttentionShape, keyTile: 8 | 16, sinks = false): AttentionVariant & { readonly layout: PrefillLayout } {
  const layout = prefillLayout(shape.headDim, valueDim(shape), kvKinds(shape), keyTile);
  const defines = {
    ...kvDefines(shape),
    ROWS: `${layout.rows}u`,
    LANES: `${layout.lanes}u`,
    SPLIT_ROWS: layout.lanes > 1,
    CHUNKS: `${layout.chunks}u`,
    ACC_CHUNKS: `${layout.accChunks}u`,
    KEY_TILE: `${keyTile}u`,
    SINKS: sinks,
  };
  return { file: ATTENTION_FILES.prefill, defines, layout };
}

export type NaivePass = 'naive_scores' | 'naive_softmax' | 'naive_sum';

export function naiveVariant(shape: PagedAttentionShape, pass: NaivePass): AttentionVariant {
  const kv = pass === 'naive_softmax' ? {} : kvDefines(shape); // softmax reads only the scores
  return { file: ATTENTION_FILES.naive, defines: { VARIANT: pass, ...kv } };
}

/** The (window, softcap) words the decode and prefill Params end with; 0 turns each off. */
function windowWords(kernel: string, o: { readonly window?: number; readonly softcap?: number }): [number, { f32: number }] {
  const window = o.window ?? 0;
  const softcap = o.softcap ?? 0;
  if (!Number.isInteger(window) || window < 0) throw new Error(`${kernel}: window must be a non-negative integer, got ${window}`);
  if (!(softcap >= 0)) throw new Error(`${kernel}: softcap must be >= 0, got ${softcap}`);
  return [window, { f32: softcap }];
}

function pipeline(ctx: KernelContext, variant: AttentionVariant): GPUComputePipeline {
  return pipelineFor(ctx.pipelines, variant.file, variant.defines);
}

// Scratch buffers shared by every call on a context: dispatches in a pass run in order, so one set serves all layers.
const scratchByContext = new WeakMap<KernelContext, Map<string, GPUBuffer>>();

function scratch(ctx: KernelContext, name: string, bytes: number): GPUBufferBinding {
  let buffers = scratchByContext.get(ctx);
  if (!buffers) scratchByContext.set(ctx, (buffers = new Map()));
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  let buffer = buffers.get(name);
  if (!buffer || buffer.size < size) {
    // The old buffer may still be named by recorded, unsubmitted work: it is left to the garbage collector.
    buffer = ctx.storage(Math.max(size, (buffer?.size ?? 0) * 2), `attention.${name}`);
    buffers.set(name, buffer);
  }
  return { buffer, size };
}

/**
 * Records GQA flash-decode: each token attends to keys 0 ..= tokenPos[t] of its sequence (any tokens, any
 * sequences: a batched decode step). One workgroup per (token, kv head, head tile, split) reads each K/V block of
 * its range once for the tile's query heads; with more than one split, a merge pass combines the partial
 * (max, sum, acc) into o.
 */
export function flashDecodeGqa(ctx: KernelContext, pass: GPUComputePassEncoder, shape: PagedAttentionShape, bufs: PagedAttentionBuffers, opts: FlashDecodeOptions): FlashDecodePlan {
  const kernel = 'flashDecodeGqa';
  checkShape(kernel, shape, opts.scale);
  const { nTokens } = opts;
  checkBuffers(ctx, kernel, shape, bufs, nTokens);
  const tiling = decodeTilingFor(ctx, kernel, shape, opts.tiling);
  const variant = decodeVariant(shape, ctx.caps.softwareAdapter, !!opts.sinks, ctx.caps.maxComputeWorkgroupStorageSize, tiling);
  const { layout } = variant;
  checkWorkgroup(ctx, kernel, layout.invocations, layout.sharedBytes);
  const base = nTokens * shape.nKvHeads * layout.headTiles;
  const splits = opts.splits ?? chooseDecodeSplits(opts.maxContext, base, decodeKeysPerSplitOf(ctx));
  if (!Number.isInteger(splits) || splits < 1) throw new Error(`${kernel}: splits must be a positive integer, got ${splits}`);
  const [x, y] = workgroupGrid(ctx, kernel, base * splits);
  const scale = opts.scale ?? 1 / Math.sqrt(shape.headDim);
  const direct = splits === 1; // one split writes o itself; the scratch bindings are then unused
  const params = ctx.uniform([nTokens, shape.nKvHeads, shape.maxBlocksPerSeq, splits, x, { f32: scale }, direct ? 1 : 0, ...windowWords(kernel, opts)]);
  const rows = nTokens * shape.nHeads;
  const width = valueDim(shape);
  const accBytes = direct ? 16 : rows * splits * width * 4;
  checkBindingBytes(ctx, kernel, 'split scratch (nTokens, nHeads, splits, valueDim)', accBytes);
  const acc = scratch(ctx, 'decode.acc', accBytes);
  const ml = scratch(ctx, 'decode.ml', direct ? 16 : rows * splits * 8);
  const decode = pipeline(ctx, variant);
  const sinks = opts.sinks ? [opts.sinks] : [];
  if (opts.sinks) checkBinding(ctx, kernel, 'sinks', opts.sinks, shape.nHeads * 4);
  dispatch(pass, ctx.device, decode, [bufs.q, bufs.pool, bufs.blockTables, bufs.tokenSeq, bufs.tokenPos, bufs.o, acc, ml, params, ...sinks], [x, y]);
  if (!direct) {
    const merge = pipeline(ctx, mergeVariant(width, !!opts.sinks));
    const [mx, my] = workgroupGrid(ctx, `${kernel} (merge)`, Math.ceil((rows * (width / 4)) / 64));
    dispatch(pass, ctx.device, merge, [acc, ml, bufs.o, ctx.uniform([rows, splits, mx, shape.nHeads]), ...sinks], [mx, my]);
  }
  return { splits, headTile: layout.headTile, workgroups: base * splits, tiling: variant.tiling };
}

/**
 * Records causal attention for prompt tokens whose K/V are already in the pool: token t attends to keys
 * 0 ..= tokenPos[t] of sequence tokenSeq[t]. Workgroups take tiles of consecutive (token, query head) rows of one
 * kv head and stage each K/V block once per tile. Built for a prompt chunk (consecutive positions of one
 * sequence, one pass over the blocks per tile); tokens of several sequences, in any order, are also correct: a
 * tile walks the blocks of each sequence among its tokens in turn.
 */
export function prefillAttention(ctx: KernelContext, pass: GPUComputePassEncoder, shape: PagedAttentionShape, bufs: PagedAttentionBuffers, opts: PrefillOptions): void {
  const kernel = 'prefillAttention';
  const group = checkShape(kernel, shape, opts.scale);
  const { nTokens } = opts;
  checkBuffers(ctx, kernel, shape, bufs, nTokens);
  const preferred = prefillVariant(shape, opts.keyTile ?? 16, !!opts.sinks);
  const tooBig = opts.keyTile === undefined && preferred.layout.sharedBytes > ctx.caps.maxComputeWorkgroupStorageSize;
  const variant = tooBig ? prefillVariant(shape, 8, !!opts.sinks) : preferred;
  const { layout } = variant;
  checkWorkgroup(ctx, kernel, layout.invocations, layout.sharedBytes);
  const tiles = Math.ceil((nTokens * group) / layout.rows);
  const [x, y] = workgroupGrid(ctx, kernel, tiles * shape.nKvHeads);
  const scale = opts.scale ?? 1 / Math.sqrt(shape.headDim);
  const params = ctx.uniform([nTokens, shape.nKvHeads, shape.maxBlocksPerSeq, tiles, x, { f32: scale }, ...windowWords(kernel, opts)]);
  const sinks = opts.sinks ? [opts.sinks] : [];
  if (opts.sinks) checkBinding(ctx, kernel, 'sinks', opts.sinks, shape.nHeads * 4);
  dispatch(pass, ctx.device, pipeline(ctx, variant), [bufs.q, bufs.pool, bufs.blockTables, bufs.tokenSeq, bufs.tokenPos, bufs.o, params, ...sinks], [x, y]);
}

/**
 * Records the baseline: all scores to a (nTokens, nHeads, maxContext) buffer, softmax in place, weighted sum of
 * V; every query head on its own. Same inputs and result as flashDecodeGqa / prefillAttention.
 */
export function naiveAttention(ctx: KernelContext, pass: GPUComputePassEncoder, shape: PagedAttentionShape, bufs: PagedAttentionBuffers, opts: NaiveAttentionOptions): void {
  const kernel = 'naiveAttention';
  checkShape(kernel, shape, opts.scale);
  const { nTokens, maxContext } = opts;
  checkBuffers(ctx, kernel, shape, bufs, nTokens);
  if (!Number.isInteger(maxContext) || maxContext < 1) throw new Error(`${kernel}: maxContext must be a positive integer, got ${maxContext}`);
  const rows = nTokens * shape.nHeads;
  const scoreBytes = rows * maxContext * 4;
  checkBindingBytes(ctx, kernel, 'scores (nTokens, nHeads, maxContext)', scoreBytes);
  let scores: GPUBufferBinding;
  if (opts.scores) {
    checkBinding(ctx, kernel, 'scores', opts.scores, scoreBytes);
    scores = { buffer: opts.scores, size: scoreBytes };
  } else {
    scores = scratch(ctx, 'naive.scores', scoreBytes);
  }
  const vd4 = valueDim(shape) / 4;
  const scale = opts.scale ?? 1 / Math.sqrt(shape.headDim);
  const { blockTables, tokenSeq, tokenPos } = bufs;

  const [sx, sy] = workgroupGrid(ctx, kernel, Math.ceil((rows * maxContext) / 64));
  const scoreParams = ctx.uniform([nTokens, shape.nKvHeads, shape.maxBlocksPerSeq, maxContext, sx, { f32: scale }]);
  const scorePipe = pipeline(ctx, naiveVariant(shape, 'naive_scores'));
  dispatch(pass, ctx.device, scorePipe, [bufs.q, bufs.pool, blockTables, tokenSeq, tokenPos, scores, scoreParams], [sx, sy]);

  const [mx, my] = workgroupGrid(ctx, kernel, rows);
  const softmaxPipe = pipeline(ctx, naiveVariant(shape, 'naive_softmax'));
  dispatch(pass, ctx.device, softmaxPipe, [tokenPos, scores, ctx.uniform([rows, shape.nHeads, maxContext, mx])], [mx, my]);

  const [vx, vy] = workgroupGrid(ctx, kernel, Math.ceil((rows * vd4) / 64));
  const sumParams = ctx.uniform([nTokens, shape.nKvHeads, shape.maxBlocksPerSeq, maxContext, vx]);
  const sumPipe = pipeline(ctx, naiveVariant(shape, 'naive_sum'));
  dispatch(pass, ctx.device, sumPipe, [scores, bufs.pool, blockTables, tokenSeq, tokenPos, bufs.o, sumParams], [vx, vy]);
}
