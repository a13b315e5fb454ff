// Quantized matvec / matmul: Y(T, R) (+)= X(T, K) @ W(R, K)^T with W in its GGUF block format.
import type { DeviceCapabilities } from '../device';
import { GgmlType } from '../gguf/types';
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
  readonly force?: { readonly kernel?: 'gemm' | 'tiled'; readonly threadsPerRow?: number; readonly matvec?: MatvecVariant; readonly gemm?: GemmVariant };
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
  /** 'wide': quant words read with vec4<u32> loads (hasWideLoads weights only; others read as without). */
  readonly loads?: 'wide';
}

/** Weight types whose matvec has a wide-load path (quant.wgsl's WIDE). */
export const WIDE_LOAD_TYPES: ReadonlySet<number> = new Set([GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K]);

/** Whether `w`'s quant words are word-aligned for the wide path: Q4_K always, Q8_0 / Q4_0 in the paired layout only. */
export function hasWideLoads(w: Pick<WeightTensor, 'type' | 'paired'>): boolean {
  return w.type === GgmlType.Q4_K || (WIDE_LOAD_TYPES.has(w.type) && w.paired);
}

/** The fixed rule before tuning: a thread a row on a CPU driver, up to 64 on a GPU; 64 invocations. */
export function defaultMatvecVariant(caps: Pick<DeviceCapabilities, 'softwareAdapter'>): MatvecVariant {
  return { threadsPerRow: caps.softwareAdapter ? 1 : WG, workgroupSize: WG, reduction: 'workgroup' };
}

/** `tpr8.wg64.wg` / `tpr4.wg64.sg` / `tpr1.wg64.wg.v4` (wide loads): how a variant is named in tuning results and the store. */
export function matvecVariantKey(v: MatvecVariant): string {
  return `tpr${v.threadsPerRow}.wg${v.workgroupSize}.${v.reduction === 'subgroup' ? 'sg' : 'wg'}${v.loads === 'wide' ? '.v4' : ''}`;
}

export function parseMatvecVariant(key: string): MatvecVariant | undefined {
  const m = /^tpr(\d+)\.wg(\d+)\.(sg|wg)(\.v4)?$/.exec(key);
  if (!m) return undefined;
  const v: MatvecVariant = { threadsPerRow: Number(m[1]), workgroupSize: Number(m[2]), reduction: m[3] === 'sg' ? 'subgroup' : 'workgroup', ...(m[4] ? { loads: 'wide' as const } : {}) };
  const pow2 = (n: number): boolean => n >= 1 && (n & (n - 1)) === 0;
  return pow2(v.threadsPerRow) && pow2(v.workgroupSize) && v.threadsPerRow <= v.workgroupSize ? v : undefined;
}

/**
 * The matvec variants this device can run: threads per row 1 … 64 × 64 or 256 invocations, plus subgroup
 * reductions for 2 … `subgroupMinSize` threads a row where the device has `subgroups`; with `wide`, each 64-invocation
 * layout again with wide loads (for weights of WIDE_LOAD_TYPES).
 */
export function matvecVariants(caps: Pick<DeviceCapabilities, 'subgroups' | 'maxComputeInvocationsPerWorkgroup'>, subgroupMinSize = 0, wide = false): MatvecVariant[] {
  const out: MatvecVariant[] = [];
  for (const workgroupSize of [64, 256]) {
    if (workgroupSize > caps.maxComputeInvocationsPerWorkgroup) continue;
    for (const threadsPerRow of [1, 4, 8, 32, 64]) out.push({ threadsPerRow, workgroupSize, reduction: 'workgroup' });
  }
  if (caps.subgroups) {
    for (let threadsPerRow = 2; threadsPerRow <= Math.min(subgroupMinSize, 64); threadsPerRow *= 2) out.push({ threadsPerRow, workgroupSize: WG, reduction: 'subgroup' });
  }
  // Each wide twin right after its layout: a tuning budget that runs out leaves out whole layouts, not all wide loads.
  return wide ? out.flatMap((v) => (v.workgroupSize === WG ? [v, { ...v, loads: 'wide' as const }] : [v])) : out;
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
/** Above this many tokens a tuned GEMM variant applies (it is measured on a prefill chunk); up to it, the fixed rule. */
export const GEMM_TUNED_MIN_TOKENS = 33;

export function gemmTokensPerThread(tokens: number): number {
  return tokens <= 32 ? 4 : 8;
}

/**
 * A tile shape of the prefill GEMM: BM weight rows x BN tokens a workgroup, an RM x TN register block a thread
 * ((BM / RM) * (BN / TN) invocations; TN a multiple of 4). Workgroup memory (BM + BN) * 128 bytes: the decoded row
 * chunks and the token slices of one 32-element chunk of K.
 */
export interface GemmVariant {
  readonly bm: number;
  readonly bn: number;
  readonly rm: number;
  readonly tn: number;
}

/** The fixed rule: 64 rows x 8 * TN tokens, 8 x TN a thread (TN = 4 up to 32 tokens, else 8). */
export function defaultGemmVariant(tokens: number): GemmVariant {
  const tn = gemmTokensPerThread(tokens);
  return { bm: WG, bn: GEMM_RM * tn, rm: GEMM_RM, tn };
}

export const gemmInvocations = (v: GemmVariant): number => (v.bm / v.rm) * (v.bn / v.tn);
export const gemmWorkgroupBytes = (v: GemmVariant): number => (v.bm + v.bn) * 128;

/** `bm64.bn64.rm8.tn8`: how a GEMM variant is named in tuning results and the store. */
export function gemmVariantKey(v: GemmVariant): string {
  return `bm${v.bm}.bn${v.bn}.rm${v.rm}.tn${v.tn}`;
}

export function parseGemmVariant(key: string): GemmVariant | undefined {
  const m = /^bm(\d+)\.bn(\d+)\.rm(\d+)\.tn(\d+)$/.exec(key);
  if (!m) return undefined;
  const v: GemmVariant = { bm: Number(m[1]), bn: Number(m[2]), rm: Number(m[3]), tn: Number(m[4]) };
  const ok = v.rm >= 1 && v.tn >= 4 && v.tn % 4 === 0 && v.bm % v.rm === 0 && v.bn % v.tn === 0 && v.rm * v.tn <= 64 && gemmInvocations(v) <= 1024;
  return ok ? v : undefined;
}

// Candidate tiles: the fixed rule's two, smaller register blocks with more threads (a GPU hides latency with
// threads, where a CPU driver pays a coroutine switch per barrier and thread), and taller or wider tiles where the
// device's workgroup memory allows more than WebGPU's default 16 KiB.
const GEMM_TILES: readonly GemmVariant[] = [
  { bm: 64, bn: 64, rm: 8, tn: 8 },
  { bm: 64, bn: 32, rm: 8, tn: 4 },
  { bm: 32, bn: 64, rm: 4, tn: 8 },
  { bm: 32, bn: 32, rm: 4, tn: 4 },
  { bm: 64, bn: 64, rm: 4, tn: 4 },
  { bm: 64, bn: 64, rm: 4, tn: 8 },
  { bm: 128, bn: 64, rm: 8, tn: 8 },
  { bm: 64, bn: 128, rm: 8, tn: 8 },
  { bm: 128, bn: 128, rm: 8, tn: 8 },
];

/** The GEMM tiles this device can run: invocations and workgroup memory within its limits. */
export function gemmVariants(caps: Pick<DeviceCapabilities, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupStorageSize'>): GemmVariant[] {
  return GEMM_TILES.filter((v) => gemmInvocations(v) <= caps.maxComputeInvocationsPerWorkgroup && gemmWorkgroupBytes(v) <= caps.maxComputeWorkgroupStorageSize);
}

// The GEMM tile a context's prefills above GEMM_TUNED_MIN_TOKENS use once the engine has applied a tuned choice.
const chosenGemm = new WeakMap<KernelContext, GemmVariant>();

export function useGemmVariant(ctx: KernelContext, variant: GemmVariant | undefined): void {
  if (variant) chosenGemm.set(ctx, variant);
  else chosenGemm.delete(ctx);
}

/** The tile for `tokens` on this context: the tuned one for a large prefill, else the fixed rule. */
export function gemmVariantOf(ctx: KernelContext, tokens: number): GemmVariant {
  const tuned = chosenGemm.get(ctx);
  return tuned && tokens >= GEMM_TUNED_MIN_TOKENS ? tuned : defaultGemmVariant(tokens);
}

function gemmPipeline(ctx: KernelContext, w: WeightTensor, v: GemmVariant): GPUComputePipeline {
  const wg = gemmInvocations(v);
  const key = { family: 'matmul-gemm', wtype: w.type, paired: w.paired, bm: v.bm, bn: v.bn, rm: v.rm, tn: v.tn };
  return ctx.pipelines.get(key, () => ({
    code: preprocess(
      matmulSource,
      {
        GEMM: true,
        WTYPE: wgslTypeName(w.type),
        WG: `${wg}u`,
        BM: `${v.bm}u`,
        BN: `${v.bn}u`,
        RM: `${v.rm}u`,
        TN: `${v.tn}u`,
        ROW_LOOP: wg !== v.bm,
        SCALAR: isScalarType(w.type),
        PAIRED: w.paired,
      },
      { quant: quantSource },
    ),
    entryPoint: 'main',
  }));
}

function pipeline(ctx: KernelContext, w: WeightTensor, tTile: number, tpr: number, wg: number, subgroup: boolean, wide: boolean, opts: MatmulOptions): GPUComputePipeline {
  const scalar = isScalarType(w.type);
  const key = { family: 'matmul', wtype: w.type, paired: w.paired, tTile, tpr, wg, subgroup, wide, accumulate: !!opts.accumulate, bias: !!opts.bias };
  return ctx.pipelines.get(key, () => ({
    code: preprocess(
      matmulSource,
      {
        WTYPE: wgslTypeName(w.type),
        WG: `${wg}u`,
        TPR: `${tpr}u`,
        T_TILE: `${tTile}u`,
        ACCUMULATE: !!opts.accumulate,
        BIAS: !!opts.bias,
        SCALAR: scalar,
        PAIRED: w.paired,
        SUBGROUP: subgroup,
        WIDE: wide,
        W4_BINDING: opts.bias ? 5 : 4,
      },
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
  let wide = false;
  if (gemm) {
    const v = opts.force?.gemm ?? gemmVariantOf(ctx, tokens);
    p = gemmPipeline(ctx, w, v);
    rowsPerWg = v.bm;
    tokensPerWg = v.bn;
    flags = (opts.accumulate ? 1 : 0) | (opts.bias ? 2 : 0);
    // Without a bias, X stands in for B (never read: both bindings are read-only).
    bias = [opts.bias ?? x];
  } else {
    const tTile = tokenTile(tokens);
    const variant = opts.force?.matvec ?? matvecVariantOf(ctx);
    const tpr = threadsPerRow(w.cols, opts.force?.threadsPerRow ?? variant.threadsPerRow);
    // A forced thread count may exceed the subgroup: it reduces in workgroup memory.
    const subgroup = variant.reduction === 'subgroup' && tpr > 1 && opts.force?.threadsPerRow === undefined;
    wide = variant.loads === 'wide' && hasWideLoads(w);
    p = pipeline(ctx, w, tTile, tpr, variant.workgroupSize, subgroup, wide, opts);
    rowsPerWg = variant.workgroupSize / tpr;
    tokensPerWg = tTile;
  }
  for (const part of w.parts) {
    const rowTiles = Math.ceil(part.rows / rowsPerWg);
    const params = ctx.uniform([w.cols, part.rows, tokens, w.rowBytes, part.firstRow, yStride, rowTiles, flags]);
    dispatch(pass, ctx.device, p, [params, part.buffer, x, y, ...bias, ...(wide ? [part.buffer] : [])], grid(rowTiles * Math.ceil(tokens / tokensPerWg), ctx.caps.maxComputeWorkgroupsPerDimension));
  }
}
