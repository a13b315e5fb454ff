// Paged-KV append: K and V of new tokens into one layer's pool, through the block table. Also the size checks
// every paged-KV kernel wrapper shares (attention.ts uses them).
import { GpuError } from '../device';
import { checkKvLayout, isQuantized, kvKinds, QUANT_BLOCK_BYTES, quantRowBlocks, type KvDtype } from '../kv/layout';
import type { KernelContext } from './context';
import source from './kv-append.wgsl?raw';
import { dispatch, grid, preprocess } from './shader';

/** What a paged-KV kernel needs to know about one layer's pool and the block tables. */
export interface PagedKvShape {
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly dtype: KvDtype;
  /** Columns of the block table: logical blocks per sequence. */
  readonly maxBlocksPerSeq: number;
  /**
   * MLA (see KvLayout.latentDim): nKvHeads 1, each token's one row [latent (latentDim) | k_pe (headDim - latentDim)];
   * its value is the first latentDim values.
   */
  readonly latentDim?: number;
}

export interface KvAppendBuffers {
  readonly k: GPUBuffer; // (nTokens, nKvHeads * headDim) f32, RoPE applied; under MLA the rows [latent | k_pe]
  readonly v?: GPUBuffer; // (nTokens, nKvHeads * headDim) f32; required unless MLA (unread there)
  readonly pool: GPUBuffer; // one layer's pool: (blocks, kinds, nKvHeads, 16, headDim) dtype, or q8_0/q4_0 (blocks, kinds, 16, rowBlocks) x 34/18 bytes; written
  readonly blockTables: GPUBuffer; // (nSeqs, maxBlocksPerSeq) u32: logical block -> physical block
  readonly tokenSeq: GPUBuffer; // (nTokens) u32: row of the block table
  readonly tokenPos: GPUBuffer; // (nTokens) u32: position in its sequence
}

/** Widest MLA row (latent + RoPE dims) the kernels take: DeepSeek-V2/V3's is 576. */
const MAX_MLA_HEAD_DIM = 1024;

/** Throws unless `headDim` is one the paged-KV kernels read as whole vec4 rows (wider rows under MLA). */
export function checkHeadDim(kernel: string, headDim: number, latentDim?: number): void {
  const most = latentDim === undefined ? 256 : MAX_MLA_HEAD_DIM;
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 4 !== 0 || headDim > most) {
    throw new Error(`${kernel}: headDim ${headDim} is not supported (a multiple of 4, at most ${most})`);
  }
}

/** Throws unless `buffer` holds `bytes` bytes and can be bound whole under the device's binding limit. */
export function checkBinding(ctx: KernelContext, kernel: string, name: string, buffer: GPUBuffer, bytes: number): void {
  if (buffer.size < bytes) {
    throw new Error(`${kernel}: ${name} holds ${buffer.size} bytes, ${bytes} needed`);
  }
  checkBindingBytes(ctx, kernel, name, buffer.size);
}

/** Throws a `limit-exceeded` GpuError when a binding of `bytes` bytes exceeds maxStorageBufferBindingSize. */
export function checkBindingBytes(ctx: KernelContext, kernel: string, name: string, bytes: number): void {
  const limit = ctx.caps.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new GpuError('limit-exceeded', `${kernel}: ${name} is ${bytes} bytes, over this device's maxStorageBufferBindingSize (${limit})`);
  }
}

/** The dispatch grid for `count` workgroups; throws when even two dimensions cannot hold it. */
export function workgroupGrid(ctx: KernelContext, kernel: string, count: number): [number, number] {
  const perDim = ctx.caps.maxComputeWorkgroupsPerDimension;
  if (count > perDim * perDim) {
    throw new GpuError('limit-exceeded', `${kernel}: ${count} workgroups exceed maxComputeWorkgroupsPerDimension (${perDim}) squared`);
  }
  return grid(count, perDim);
}

/** Throws a `limit-exceeded` GpuError when a workgroup layout does not fit the device. */
export function checkWorkgroup(ctx: KernelContext, kernel: string, invocations: number, sharedBytes: number): void {
  const maxInvocations = ctx.caps.maxComputeInvocationsPerWorkgroup;
  if (invocations > maxInvocations) {
    throw new GpuError('limit-exceeded', `${kernel}: ${invocations} invocations per workgroup, over maxComputeInvocationsPerWorkgroup (${maxInvocations})`);
  }
  const maxShared = ctx.caps.maxComputeWorkgroupStorageSize;
  if (sharedBytes > maxShared) {
    throw new GpuError('limit-exceeded', `${kernel}: ${sharedBytes} bytes of workgroup memory, over maxComputeWorkgroupStorageSize (${maxShared})`);
  }
}

/** Throws unless the block table and token buffers fit `nTokens` tokens. */
export function checkTokens(ctx: KernelContext, kernel: string, shape: PagedKvShape, blockTables: GPUBuffer, tokenSeq: GPUBuffer, tokenPos: GPUBuffer, nTokens: number): void {
  if (!Number.isInteger(nTokens) || nTokens < 1) throw new Error(`${kernel}: nTokens must be a positive integer, got ${nTokens}`);
  if (!Number.isInteger(shape.maxBlocksPerSeq) || shape.maxBlocksPerSeq < 1) {
    throw new Error(`${kernel}: maxBlocksPerSeq must be a positive integer, got ${shape.maxBlocksPerSeq}`);
  }
  checkBinding(ctx, kernel, 'blockTables', blockTables, shape.maxBlocksPerSeq * 4);
  checkBinding(ctx, kernel, 'tokenSeq', tokenSeq, nTokens * 4);
  checkBinding(ctx, kernel, 'tokenPos', tokenPos, nTokens * 4);
}

/**
 * Records the append of `nTokens` tokens' K and V into `pool` at (tokenSeq[t], tokenPos[t]); under MLA
 * (shape.latentDim) each token's one row, from `k`. Every target block must already be in the token's block table
 * and owned by it (copy-on-write happens before); two tokens must not name the same (sequence, position).
 */
export function appendKv(ctx: KernelContext, pass: GPUComputePassEncoder, shape: PagedKvShape, bufs: KvAppendBuffers, nTokens: number): void {
  const kernel = 'appendKv';
  checkHeadDim(kernel, shape.headDim, shape.latentDim);
  checkTokens(ctx, kernel, shape, bufs.blockTables, bufs.tokenSeq, bufs.tokenPos, nTokens);
  checkKvLayout(shape);
  const kinds = kvKinds(shape);
  const rowBytes = shape.nKvHeads * shape.headDim * 4;
  checkBinding(ctx, kernel, 'k', bufs.k, nTokens * rowBytes);
  // MLA binds k in v's place: the shader declares both, and stores v only when a block holds two kinds.
  const v = kinds === 1 ? bufs.k : bufs.v;
  if (!v) throw new Error(`${kernel}: v is required unless the layout is MLA (latentDim)`);
  checkBinding(ctx, kernel, 'v', v, nTokens * rowBytes);
  checkBinding(ctx, kernel, 'pool', bufs.pool, 0);
  const d4 = shape.headDim / 4;
  const quant = isQuantized(shape.dtype);
  const rowBlocks = quant ? quantRowBlocks(shape) : 0;
  const key = { family: 'kv-append', headDim: shape.headDim, dtype: shape.dtype, rowBlocks, kinds };
  const pipeline = ctx.pipelines.get(key, () => ({
    code: preprocess(source, {
      KV_Q8: shape.dtype === 'q8_0',
      KV_Q4: shape.dtype === 'q4_0',
      KV_F16: shape.dtype === 'f16',
      D4: `${d4}u`,
      ROW_BLOCKS: `${rowBlocks}u`,
      BLOCK_HALVES: `${quant ? QUANT_BLOCK_BYTES[shape.dtype] / 2 : 0}u`,
      KINDS: `${kinds}u`,
    }),
    entryPoint: 'main',
  }));
  // Threads: quantized, one per (token, kind, 32-value block of the row); else one per (token, kv head, vec4).
  const threads = quant ? nTokens * kinds * rowBlocks : nTokens * shape.nKvHeads * d4;
  const [x, y] = workgroupGrid(ctx, kernel, Math.ceil(threads / 64));
  const params = ctx.uniform([nTokens, shape.nKvHeads, shape.maxBlocksPerSeq, x]);
  dispatch(pass, ctx.device, pipeline, [bufs.k, v, bufs.pool, bufs.blockTables, bufs.tokenSeq, bufs.tokenPos, params], [x, y]);
}
