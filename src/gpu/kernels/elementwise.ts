import type { KernelContext } from './context';
import elementwiseSource from './elementwise.wgsl?raw';
import { dispatch, grid } from './shader';

/** gate = silu(gate) * up over `count` elements. */
export function encodeSwiglu(ctx: KernelContext, pass: GPUComputePassEncoder, gate: GPUBuffer, up: GPUBuffer, count: number): void {
  const p = ctx.pipelines.get({ family: 'elementwise', op: 'swiglu' }, () => ({ code: elementwiseSource, entryPoint: 'swiglu' }));
  const [x, y] = grid(Math.ceil(count / 64), ctx.caps.maxComputeWorkgroupsPerDimension);
  dispatch(pass, ctx.device, p, [ctx.uniform([count]), gate, up], [x, y]);
}
