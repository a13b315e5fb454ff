// Multi-head latent attention's per-head matvec and strided copy (mla.wgsl), for model/mla-forward.ts: the absorbed
// query (attn_k_b per head), the expanded output (attn_v_b per head), and the rows the cache and attention read.
import type { KernelContext } from './context';
import mlaSource from './mla.wgsl?raw';
import { dispatch, grid, pipelineFor, type WgslFile } from './shader';

const WG = 64;
const MLA_FILE: WgslFile = { name: 'mla', code: mlaSource };

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

/** y[t, h, 0..rows) = W[h] (rows, cols) @ x[t, h, 0..cols) for every token and head; W (heads, rows, cols) f32. */
export function encodeHeadMatvec(ctx: KernelContext, pass: GPUComputePassEncoder, w: GPUBuffer, x: HeadSlices, y: HeadSlices, s: { tokens: number; heads: number; rows: number; cols: number }): void {
  if (w.size < s.heads * s.rows * s.cols * 4) throw new Error(`headMatvec: the weight holds ${w.size} bytes, ${s.heads} x ${s.rows} x ${s.cols} f32 expected`);
  checkSlices('headMatvec', x, s.tokens, s.heads, s.cols);
  checkSlices('headMatvec', y, s.tokens, s.heads, s.rows);
  const p = pipelineFor(ctx.pipelines, MLA_FILE, { OP: 'HEAD_MATVEC' });
  const params = ctx.uniform([s.tokens, s.heads, s.rows, s.cols, ...strides(x), ...strides(y)]);
  const threads = s.tokens * s.heads * s.rows;
  dispatch(pass, ctx.device, p, [params, w, x.buffer, y.buffer], grid(Math.ceil(threads / WG), ctx.caps.maxComputeWorkgroupsPerDimension));
}

/** y[t, h, 0..n) = x[t, h, 0..n) for every token and head. */
export function encodeHeadCopy(ctx: KernelContext, pass: GPUComputePassEncoder, x: HeadSlices, y: HeadSlices, s: { tokens: number; heads: number; n: number }): void {
  if (x.buffer === y.buffer) throw new Error('headCopy: source and destination must be different buffers');
  checkSlices('headCopy', x, s.tokens, s.heads, s.n);
  checkSlices('headCopy', y, s.tokens, s.heads, s.n);
  const p = pipelineFor(ctx.pipelines, MLA_FILE, { OP: 'COPY' });
  const params = ctx.uniform([s.tokens, s.heads, s.n, 0, ...strides(x), ...strides(y)]); // cols unused by the copy
  dispatch(pass, ctx.device, p, [params, x.buffer, y.buffer], grid(Math.ceil((s.tokens * s.heads * s.n) / WG), ctx.caps.maxComputeWorkgroupsPerDimension));
}
