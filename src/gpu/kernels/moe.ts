// Mixture-of-experts kernels: the router's top-k, the expert-indexed matvec, and the weighted combine (moe.wgsl).
// A 3-D expert tensor (experts, rows, cols) stays in its GGUF block format, split into groups of whole experts
// when it exceeds one storage binding; the kernels pick the experts' rows from ids the router wrote on the GPU.
import { GgufError } from '../gguf/errors';
import type { KernelContext } from './context';
import moeSource from './moe.wgsl?raw';
import quantSource from './quant.wgsl?raw';
import { dispatch, grid, pipelineFor, type Defines, type WgslFile } from './shader';
import { destroyWeight, isScalarType, pairable, rowBytes, uploadWeight, wgslTypeName, type WeightTensor } from './weights';

const WG = 64;

/** Every MoE pipeline is keyed by the defines it compiles with (variantKey), so a key can never miss one. */
const MOE_FILE: WgslFile = { name: 'moe', code: moeSource, library: { quant: quantSource } };
const moePipeline = (ctx: KernelContext, defines: Defines): GPUComputePipeline => pipelineFor(ctx.pipelines, MOE_FILE, defines);

/** The weight-type defines of the expert matvecs. */
const expertDefines = (w: ExpertTensor): Defines => ({ WTYPE: wgslTypeName(w.type), PAIRED: pairable(w.type, w.cols), SCALAR: isScalarType(w.type) });

export interface ExpertGroup {
  readonly firstExpert: number;
  readonly experts: number;
  /** (experts * rows, cols): this group's experts back to back, in one binding. */
  readonly tensor: WeightTensor;
}

/** A (experts, rows, cols) expert tensor; ggml dims are [cols, rows, experts]. */
export interface ExpertTensor {
  readonly name: string;
  readonly type: number;
  readonly experts: number;
  readonly rows: number;
  readonly cols: number;
  readonly groups: readonly ExpertGroup[];
}

export function uploadExperts(ctx: KernelContext, name: string, type: number, bytes: Uint8Array, experts: number, rows: number, cols: number): ExpertTensor {
  if (cols % 32 !== 0) throw new GgufError('bad-shape', `tensor ${name}: expert row length ${cols} is not a multiple of 32`);
  const expertBytes = rows * rowBytes(type, cols);
  const limit = Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize) - 8;
  const per = Math.floor(limit / expertBytes);
  if (per < 1) throw new GgufError('out-of-bounds', `tensor ${name}: one expert is ${expertBytes} bytes, more than one storage binding (${limit})`);
  const groups: ExpertGroup[] = [];
  try {
    for (let first = 0; first < experts; first += per) {
      const n = Math.min(per, experts - first);
      const part = bytes.subarray(first * expertBytes, (first + n) * expertBytes);
      groups.push({ firstExpert: first, experts: n, tensor: uploadWeight(ctx, `${name}[experts ${first}..${first + n})`, type, part, n * rows, cols) });
    }
  } catch (e) {
    groups.forEach((g) => destroyWeight(g.tensor));
    throw e;
  }
  return { name, type, experts, rows, cols, groups };
}

export function destroyExperts(t: ExpertTensor): void {
  t.groups.forEach((g) => destroyWeight(g.tensor));
}

export interface RouteBuffers {
  readonly logits: GPUBuffer; // (tokens, experts) f32 router logits
  readonly ids: GPUBuffer; // (tokens, used) u32
  readonly weights: GPUBuffer; // (tokens, used) f32
}

/** DeepSeek's routing options beside the gating of encodeRoute's arguments. */
export interface RouteExtras {
  /** Probabilities are sigmoid(logit) instead of a softmax (llama.cpp's SIGMOID gating). */
  readonly sigmoid?: boolean;
  /** The final weights, after any renormalisation, times this (llama.cpp's w_scale); default 1. */
  readonly scale?: number;
}

/**
 * Top-k of `tokens` rows of router logits and their weights: softmax (or `extras.sigmoid`), top-k and
 * (`normalize`) renormalisation; or, with `byLogit` (gpt-oss's softmax-weight gating), top-k of the logits and a
 * softmax over the k. Then times `extras.scale`.
 */
export function encodeRoute(
  ctx: KernelContext,
  pass: GPUComputePassEncoder,
  b: RouteBuffers,
  tokens: number,
  experts: number,
  used: number,
  normalize: boolean,
  byLogit = false,
  extras: RouteExtras = {},
): void {
  const p = moePipeline(ctx, { OP: 'ROUTE' });
  const params = ctx.uniform([tokens, experts, used, normalize ? 1 : 0, byLogit ? 1 : 0, extras.sigmoid ? 1 : 0, { f32: extras.scale ?? 1 }]);
  dispatch(pass, ctx.device, p, [params, b.logits, b.ids, b.weights], grid(Math.ceil(tokens / WG), ctx.caps.maxComputeWorkgroupsPerDimension));
}

export interface ExpertMatvecOptions {
  /** X has a row per pair (the down projection's input) instead of one per token. */
  readonly xPerPair?: boolean;
  /** Multiply each output row by its pair's routing weight. */
  readonly weighted?: boolean;
  /** (experts, rows) f32: the pair's expert's bias row, added before the weight (gpt-oss). */
  readonly bias?: GPUBuffer;
}

/** Y(pairs, rows) = W[ids[pair]] @ X(row of pair) for `pairs` = tokens * used pairs. */
export function encodeExpertMatvec(
  ctx: KernelContext,
  pass: GPUComputePassEncoder,
  w: ExpertTensor,
  route: Pick<RouteBuffers, 'ids' | 'weights'>,
  x: GPUBuffer,
  y: GPUBuffer,
  pairs: number,
  used: number,
  opts: ExpertMatvecOptions = {},
): void {
  const p = moePipeline(ctx, { OP: 'EXPERT', BIAS: !!opts.bias, ...expertDefines(w) });
  const rowTiles = Math.ceil(w.rows / WG);
  const bias = opts.bias ? [opts.bias] : [];
  for (const g of w.groups) {
    const t = g.tensor;
    const params = ctx.uniform([w.cols, w.rows, pairs, used, t.rowBytes, g.firstExpert, g.experts, rowTiles, opts.xPerPair ? 1 : 0, opts.weighted ? 1 : 0]);
    dispatch(pass, ctx.device, p, [params, t.parts[0]!.buffer, x, y, route.ids, route.weights, ...bias], grid(rowTiles * pairs, ctx.caps.maxComputeWorkgroupsPerDimension));
  }
}

/** Pairs per tile of the grouped expert matvec: each decoded weight row serves up to this many pairs. */
export const EXPERT_TILE = 8;
/** The GROUP kernel's counting sort keeps one counter per expert in workgroup memory. */
export const MAX_GROUPED_EXPERTS = 256;

/** Tiles the grouping may cut `pairs` pairs into: whole tiles, plus at most one partial tile per expert. */
export function expertTiles(pairs: number, experts: number): number {
  return Math.ceil(pairs / EXPERT_TILE) + Math.min(experts, pairs);
}

export interface ExpertGrouping {
  readonly list: GPUBuffer; // (pairs) u32 pair indices grouped by expert
  readonly tiles: GPUBuffer; // (expertTiles(pairs, experts), 3) u32: expert, first list index, count
}

/** Sorts the router's pairs by expert on the GPU, for encodeGroupedExpertMatvec. */
export function encodeExpertGrouping(ctx: KernelContext, pass: GPUComputePassEncoder, ids: GPUBuffer, g: ExpertGrouping, pairs: number, experts: number): void {
  if (experts > MAX_GROUPED_EXPERTS) throw new RangeError(`grouping by expert handles at most ${MAX_GROUPED_EXPERTS} experts, not ${experts}`);
  const p = moePipeline(ctx, { OP: 'GROUP', TT: `${EXPERT_TILE}u` });
  dispatch(pass, ctx.device, p, [ctx.uniform([pairs, experts, expertTiles(pairs, experts)]), ids, g.list, g.tiles], [1]);
}

/** encodeExpertMatvec's result, each expert's rows read once per tile of its pairs (after encodeExpertGrouping). */
export function encodeGroupedExpertMatvec(
  ctx: KernelContext,
  pass: GPUComputePassEncoder,
  w: ExpertTensor,
  g: ExpertGrouping,
  weights: GPUBuffer,
  x: GPUBuffer,
  y: GPUBuffer,
  pairs: number,
  used: number,
  opts: ExpertMatvecOptions = {},
): void {
  const p = moePipeline(ctx, { OP: 'EXPERT_GROUPED', TT: `${EXPERT_TILE}u`, BIAS: !!opts.bias, ...expertDefines(w) });
  const rowTiles = Math.ceil(w.rows / WG);
  const tiles = expertTiles(pairs, w.experts);
  const bias = opts.bias ? [opts.bias] : [];
  for (const grp of w.groups) {
    const t = grp.tensor;
    const params = ctx.uniform([w.cols, w.rows, used, t.rowBytes, grp.firstExpert, grp.experts, rowTiles, opts.xPerPair ? 1 : 0, opts.weighted ? 1 : 0, tiles]);
    dispatch(pass, ctx.device, p, [params, t.parts[0]!.buffer, x, y, g.list, weights, g.tiles, ...bias], grid(rowTiles * tiles, ctx.caps.maxComputeWorkgroupsPerDimension));
  }
}

/** x(tokens, dim) += sum over the `used` slots of y(tokens * used, dim). */
export function encodeMoeCombine(ctx: KernelContext, pass: GPUComputePassEncoder, y: GPUBuffer, x: GPUBuffer, tokens: number, dim: number, used: number): void {
  const p = moePipeline(ctx, { OP: 'COMBINE' });
  dispatch(pass, ctx.device, p, [ctx.uniform([tokens, dim, used]), y, x], grid(Math.ceil((tokens * dim) / WG), ctx.caps.maxComputeWorkgroupsPerDimension));
}

/** gate(n) = swiglu_oai(gate, up) in place (gpt-oss's clamped SwiGLU, constants from SWIGLU_OAI). */
export function encodeSwigluOai(ctx: KernelContext, pass: GPUComputePassEncoder, gate: GPUBuffer, up: GPUBuffer, n: number, c: { readonly alpha: number; readonly limit: number }): void {
  const p = moePipeline(ctx, { OP: 'SWIGLU_OAI' });
  dispatch(pass, ctx.device, p, [ctx.uniform([n, { f32: c.alpha }, { f32: c.limit }]), gate, up], grid(Math.ceil(n / WG), ctx.caps.maxComputeWorkgroupsPerDimension));
}
