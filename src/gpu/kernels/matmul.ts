// Quantized matvec / matmul: Y(T, R) (+)= X(T, K) @ W(R, K)^T with W in its GGUF block format.
import type { DeviceCapabilities } from '../device';
import type { KernelContext } from './context';
import matmulSource from './matmul.wgsl?raw';
import quantSource from './quant.wgsl?raw';
import { dispatch, grid, preprocess } from './shader';
import { isScalarType, wgslTypeName, type WeightTensor } from './weights';

const WG = 64;

export interface MatmulOptions {
  /** Y += result (fused residual add). */
  readonly accumulate?: boolean;
  /** (R) f32 added to every output row. */
  readonly bias?: GPUBuffer;
  /** Elements between consecutive tokens' rows in Y; defaults to R. */
  readonly yStride?: number;
  /** Benchmarks, tests and the tuner: force the token-tiled matvec over the GEMM, its threads per row, or a whole variant. */
  readonly force?: { readonly kernel?: 'gemm' | 'tiled'; readonly threadsPerRow?: number; readonly matvec?: MatvecVariant };
}

/**
 * A layout of the token-tiled matvec (decode and small batches). `threadsPerRow` is an upper bound: a row of
 * fewer 32-element chunks takes fewer (threadsPerRow()). 'subgroup' reduces a row's partial sums with
 * subgroupShuffleXor (threadsPerRow at most the device's smallest subgroup), 'workgroup' in workgroup memory.
 */
export interface MatvecVariant {
  readonly threadsPerRow: number;
  /** Invocations per workgroup; rows per workgroup are workgroupSize / threads per row. */
  readonly workgroupSize: number;
  readonly reduction: 'workgroup' | 'subgroup';
}

/** The fixed rule before tuning: a thread a row on a CPU driver, up to 64 on a GPU; 64 invocations. */
export function defaultMatvecVariant(caps: Pick<DeviceCapabilities, 'softwareAdapter'>): MatvecVariant {
  return { threadsPerRow: caps.softwareAdapter ? 1 : WG, workgroupSize: WG, reduction: 'workgroup' };
}

/** `tpr8.wg64.wg` / `tpr4.wg64.sg`: how a variant is named in tuning results and the store. */
export function matvecVariantKey(v: MatvecVariant): string {
  return `tpr${v.threadsPerRow}.wg${v.workgroupSize}.${v.reduction === 'subgroup' ? 'sg' : 'wg'}`;
}

export function parseMatvecVariant(key: string): MatvecVariant | undefined {
  const m = /^tpr(\d+)\.wg(\d+)\.(sg|wg)$/.exec(key);
  if (!m) return undefined;
  const v: MatvecVariant = { threadsPerRow: Number(m[1]), workgroupSize: Number(m[2]), reduction: m[3] === 'sg' ? 'subgroup' : 'workgroup' };
  const pow2 = (n: number): boolean => n >= 1 && (n & (n - 1)) === 0;
  return pow2(v.threadsPerRow) && pow2(v.workgroupSize) && v.threadsPerRow <= v.workgroupSize ? v : undefined;
}

/**
 * The matvec variants this device can run: threads per row 1 … 64 × 64 or 256 invocations, plus subgroup
 * reductions for 2 … `subgroupMinSize` threads a row where the device has `subgroups`.
 */
export function matvecVariants(caps: Pick<DeviceCapabilities, 'subgroups' | 'maxComputeInvocationsPerWorkgroup'>, subgroupMinSize = 0): MatvecVariant[] {
  const out: MatvecVariant[] = [];
  for (const workgroupSize of [64, 256]) {
    if (workgroupSize > caps.maxComputeInvocationsPerWorkgroup) continue;
    for (const threadsPerRow of [1, 4, 8, 32, 64]) out.push({ threadsPerRow, workgroupSize, reduction: 'workgroup' });
  }
  if (caps.subgroups) {
    for (let threadsPerRow = 2; threadsPerRow <= Math.min(subgroupMinSize, 64); threadsPerRow *= 2) out.push({ threadsPerRow, workgroupSize: WG, reduction: 'subgroup' });
  }
  return out;
}

// The variant a context's matvecs use once the engine has applied a tuned choice; the fixed rule otherwise.
const chosenMatvec = new WeakMap<KernelContext, MatvecVariant>();

export function useMatvecVariant(ctx: KernelContext, variant: MatvecVariant | undefined): void {
  if (variant) chosenMatvec.set(ctx, variant);
  else chosenMatvec.delete(ctx);
}

export function matvecVariantOf(ctx: KernelContext): MatvecVariant {
  return chosenMatvec.get(ctx) ?? defaultMatvecVariant(ctx.caps);
}

/**
 * Threads per row: enough to cover the row's 32-element chunks, a power of two up to `most` (the workgroup size on
 * a GPU; 1 on a CPU Vulkan driver, where a thread that owns its row needs no reduction and no barrier, each of
 * which is a coroutine switch there: lavapipe, medians of interleaved runs, 1 / 2 / 8 threads a row:
 * 32000x576 Q8_0 34 / 43 / 55 ms, Q4_0 30 / 39 / 63 ms; 576x576 Q8_0 0.67 / 0.94 / 1.20 ms; 2048x8192 Q8_0
 * 26 / 39 / 41 ms; a whole decode step of the 4-layer 576-wide synthetic model 66 / 81 / 114 ms (Q4_0)).
 */
export function threadsPerRow(cols: number, most = WG): number {
  const chunks = Math.max(1, Math.floor(cols / 32));
  let tpr = 1;
  while (tpr * 2 <= Math.min(chunks, most)) tpr *= 2;
  return tpr;
}

/** Tokens decoded per weight chunk: 1 for decode, more for prefill / batched decode. */
export function tokenTile(tokens: number): number {
  if (tokens <= 1) return 1;
  if (tokens <= 4) return 4;
  return 8;
}

/**
 * The prefill GEMM: 64 weight rows x BN = RM * TN tokens a workgroup, an RM x TN register block a thread (8 x 8;
 * 8 x 4 for up to 32 tokens). Workgroup memory: 64 decoded row chunks + BN token slices of 32 floats, at most
 * 16 KiB (WebGPU's default limit). On lavapipe (Q8_0/Q4_0, 576-1536 wide, 128 tokens) it runs at 5-7 GFLOP/s against
 * 1.1 for the token-tiled matvec; RM * TN = 128 spills registers and falls back to ~1. Accumulate and bias are
 * run-time flags: the unrolled kernel takes seconds to compile on a CPU driver, so it has few variants.
 */
const GEMM_RM = 8;
/** Fewer tokens than this take the token-tiled matvec (decode, small batches), which is faster there. */
export const GEMM_MIN_TOKENS = 16;

export function gemmTokensPerThread(tokens: number): number {
  return tokens <= 32 ? 4 : 8;
}

function gemmPipeline(ctx: KernelContext, w: WeightTensor, tn: number): GPUComputePipeline {
  const key = { family: 'matmul-gemm', wtype: w.type, paired: w.paired, tn };
  return ctx.pipelines.get(key, () => ({
    code: preprocess(
      matmulSource,
      { GEMM: true, WTYPE: wgslTypeName(w.type), WG: `${WG}u`, RM: `${GEMM_RM}u`, TN: `${tn}u`, BN: `${GEMM_RM * tn}u`, SCALAR: isScalarType(w.type), PAIRED: w.paired },
      { quant: quantSource },
    ),
    entryPoint: 'main',
  }));
}

function pipeline(ctx: KernelContext, w: WeightTensor, tTile: number, tpr: number, wg: number, subgroup: boolean, opts: MatmulOptions): GPUComputePipeline {
  const scalar = isScalarType(w.type);
  const key = { family: 'matmul', wtype: w.type, paired: w.paired, tTile, tpr, wg, subgroup, accumulate: !!opts.accumulate, bias: !!opts.bias };
  return ctx.pipelines.get(key, () => ({
    code: preprocess(
      matmulSource,
      { WTYPE: wgslTypeName(w.type), WG: `${wg}u`, TPR: `${tpr}u`, T_TILE: `${tTile}u`, ACCUMULATE: !!opts.accumulate, BIAS: !!opts.bias, SCALAR: scalar, PAIRED: w.paired, SUBGROUP: subgroup },
      { quant: quantSource },
    ),
    entryPoint: 'main',
  }));
}

/** Records Y (+)= X @ W^T for `tokens` rows of X (each K = w.cols floats) into `pass`. */
export function encodeMatmul(ctx: KernelContext, pass: GPUComputePassEncoder, w: WeightTensor, x: GPUBuffer, y: GPUBuffer, tokens: number, opts: MatmulOptions = {}): void {
  if (w.cols % 4 !== 0 || (!isScalarType(w.type) && w.cols % 32 !== 0)) {
    throw new Error(`matmul: ${w.name} row length ${w.cols} is not supported (multiple of 32, or of 4 for float types)`);
  }
  const yStride = opts.yStride ?? w.rows;
  const gemm = (opts.force?.kernel ? opts.force.kernel === 'gemm' : tokens >= GEMM_MIN_TOKENS) && w.cols % 32 === 0;
  let p: GPUComputePipeline;
  let rowsPerWg: number;
  let tokensPerWg: number;
  let flags = 0;
  let bias = opts.bias ? [opts.bias] : [];
  if (gemm) {
    const tn = gemmTokensPerThread(tokens);
    p = gemmPipeline(ctx, w, tn);
    rowsPerWg = WG;
    tokensPerWg = GEMM_RM * tn;
    flags = (opts.accumulate ? 1 : 0) | (opts.bias ? 2 : 0);
    // Without a bias, X stands in for B (never read: both bindings are read-only).
    bias = [opts.bias ?? x];
  } else {
    const tTile = tokenTile(tokens);
    const variant = opts.force?.matvec ?? matvecVariantOf(ctx);
    const tpr = threadsPerRow(w.cols, opts.force?.threadsPerRow ?? variant.threadsPerRow);
    // A forced thread count may exceed the subgroup: it reduces in workgroup memory.
    const subgroup = variant.reduction === 'subgroup' && tpr > 1 && opts.force?.threadsPerRow === undefined;
    p = pipeline(ctx, w, tTile, tpr, variant.workgroupSize, subgroup, opts);
    rowsPerWg = variant.workgroupSize / tpr;
    tokensPerWg = tTile;
  }
  for (const part of w.parts) {
    const rowTiles = Math.ceil(part.rows / rowsPerWg);
    const params = ctx.uniform([w.cols, part.rows, tokens, w.rowBytes, part.firstRow, yStride, rowTiles, flags]);
    dispatch(pass, ctx.device, p, [params, part.buffer, x, y, ...bias], grid(rowTiles * Math.ceil(tokens / tokensPerWg), ctx.caps.maxComputeWorkgroupsPerDimension));
  }
}
