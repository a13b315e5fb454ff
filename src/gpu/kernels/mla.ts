// Multi-head latent attention's per-head matvec and strided copy (mla.wgsl), for model/mla-forward.ts: the absorbed
// query (attn_k_b per head), the expanded output (attn_v_b per head), and the rows the cache and attention read.
import type { KernelContext } from './context';
import mlaSource from './mla.wgsl?raw';
import quantSource from './quant.wgsl?raw';
import { dispatch, grid, pipelineFor, type WgslFile } from './shader';
import { isScalarType, wgslTypeName, type WeightTensor } from './weights';

const WG = 64;
const MLA_FILE: WgslFile = { name: 'mla', code: mlaSource, library: { quant: quantSource } };

/** Where a head's slice sits in a (tokens, heads, width) f32 buffer; strides in elements. */
export interface HeadSlices {
  readonly buffer: GPUBuffer;
  /** Elements between consecutive tokens. */
  readonly tokenStride: number;
  /** Elements between consecutive heads of one token. */
  readonly headStride: number;
  /** First element of the slice inside a head. */
  readonly offset: number;
}

const strides = (s: HeadSlices): number[] => [s.tokenStride, s.headStride, s.offset];

function checkSlices(kernel: string, s: HeadSlices, tokens: number, heads: number, width: number): void {
  const last = (tokens - 1) * s.tokenStride + (heads - 1) * s.headStride + s.offset + width;
  if (last * 4 > s.buffer.size) throw new Error(`${kernel}: ${tokens} tokens x ${heads} heads of ${width} values at these strides need ${last * 4} bytes, the buffer has ${s.buffer.size}`);
}

/**
 * y[t, h, 0..rows) = W[h] (rows, cols) @ x[t, h, 0..cols) for every token and head; W (heads * rows, cols) as
 * uploadWeight keeps it, in its GGUF format (f32, f16, bf16, or blocks of 32 values along a row), in one buffer.
 */
export function encodeHeadMatvec(ctx: KernelContext, pass: GPUComputePassEncoder, w: WeightTensor, x: HeadSlices, y: HeadSlices, s: { tokens: number; heads: number; rows: number; cols: number }): void {
  if (w.rows !== s.heads * s.rows || w.cols !== s.cols) throw new Error(`headMatvec: ${w.name} is ${w.rows} x ${w.cols}, ${s.heads} heads x ${s.rows} rows x ${s.cols} expected`);
  if (w.parts.length !== 1) throw new Error(`headMatvec: ${w.name} is in ${w.parts.length} buffers; one expected`);
  if (!isScalarType(w.type) && s.cols % 32 !== 0) throw new Error(`headMatvec: ${w.name}'s rows of ${s.cols} values are not whole 32-value blocks`);
  checkSlices('headMatvec', x, s.tokens, s.heads, s.cols);
  checkSlices('headMatvec', y, s.tokens, s.heads, s.rows);
  const p = pipelineFor(ctx.pipelines, MLA_FILE, { OP: 'HEAD_MATVEC', WTYPE: wgslTypeName(w.type), SCALAR: isScalarType(w.type), PAIRED: w.paired });
  const params = ctx.uniform([s.tokens, s.heads, s.rows, s.cols, ...strides(x), ...strides(y), w.rowBytes]);
  const threads = s.tokens * s.heads * s.rows;
  dispatch(pass, ctx.device, p, [params, w.parts[0]!.buffer, x.buffer, y.buffer], grid(Math.ceil(threads / WG), ctx.caps.maxComputeWorkgroupsPerDimension));
}

/** y[t, h, 0..n) = x[t, h, 0..n) for every token and head. */
export function encodeHeadCopy(ctx: KernelContext, pass: GPUComputePassEncoder, x: HeadSlices, y: HeadSlices, s: { tokens: number; heads: number; n: number }): void {
  if (x.buffer === y.buffer) throw new Error('headCopy: source and destination must be different buffers');
  checkSlices('headCopy', x, s.tokens, s.heads, s.n);
  checkSlices('headCopy', y, s.tokens, s.heads, s.n);
  const p = pipelineFor(ctx.pipelines, MLA_FILE, { OP: 'COPY' });
  const params = ctx.uniform([s.tokens, s.heads, s.n, 0, ...strides(x), ...strides(y), 0]); // cols and row bytes unused by the copy
  dispatch(pass, ctx.device, p, [params, x.buffer, y.buffer], grid(Math.ceil((s.tokens * s.heads * s.n) / WG), ctx.caps.maxComputeWorkgroupsPerDimension));
}
