import type { KernelContext } from './context';
import normSource from './norm.wgsl?raw';
import { dispatch, grid, preprocess } from './shader';

const WG = 64;

export interface RmsNormArgs {
  readonly x: GPUBuffer; // (input rows, n) f32
  readonly weight: GPUBuffer; // (weightLen) f32
  readonly y: GPUBuffer; // (rows, n) f32; x itself normalizes in place (not with gather)
  readonly n: number;
  readonly rows: number;
  readonly eps: number;
  /** Weight entries, reused every weightLen elements of a row (per-head norms); default n. */
  readonly weightLen?: number;
  /** (rows) u32: input row of each output row. */
  readonly gather?: GPUBuffer;
}

export function encodeRmsNorm(ctx: KernelContext, pass: GPUComputePassEncoder, a: RmsNormArgs): void {
  const gather = a.gather !== undefined;
  const inPlace = a.x === a.y;
  if (inPlace && gather) throw new Error('rmsnorm: gather needs a separate output buffer');
  const p = ctx.pipelines.get({ family: 'rmsnorm', gather, inPlace }, () => ({
    code: preprocess(normSource, { WG: `${WG}u`, GATHER: gather, IN_PLACE: inPlace }),
    entryPoint: 'main',
  }));
  const params = ctx.uniform([a.n, a.rows, a.weightLen ?? a.n, { f32: a.eps }]);
  const buffers = inPlace ? [params, a.x, a.weight] : [params, a.x, a.weight, a.y];
  if (a.gather) buffers.push(a.gather);
  dispatch(pass, ctx.device, p, buffers, grid(a.rows, ctx.caps.maxComputeWorkgroupsPerDimension));
}
