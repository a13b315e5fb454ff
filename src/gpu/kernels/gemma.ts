// Elementwise kernels of the Gemma forward pass (gemma.wgsl): GeGLU, residual add, scale, logit soft-capping.
import type { KernelContext } from './context';
import gemmaSource from './gemma.wgsl?raw';
import { dispatch, grid, preprocess } from './shader';

type GemmaOp = 'geglu' | 'add' | 'scale' | 'softcap';

function run(ctx: KernelContext, pass: GPUComputePassEncoder, op: GemmaOp, count: number, c: number, h: GPUBuffer, u?: GPUBuffer): void {
  const withU = u !== undefined;
  const p = ctx.pipelines.get({ family: 'gemma', op }, () => ({ code: preprocess(gemmaSource, { WITH_U: withU }), entryPoint: op }));
  const [x, y] = grid(Math.ceil(count / 64), ctx.caps.maxComputeWorkgroupsPerDimension);
  dispatch(pass, ctx.device, p, [ctx.uniform([count, { f32: c }]), h, ...(u ? [u] : [])], [x, y]);
}

/** gate(count) = gelu_tanh(gate) * up(count), f32, in place. */
export function encodeGeglu(ctx: KernelContext, pass: GPUComputePassEncoder, gate: GPUBuffer, up: GPUBuffer, count: number): void {
  run(ctx, pass, 'geglu', count, 0, gate, up);
}

/** x(count) += y(count), f32. */
export function encodeAdd(ctx: KernelContext, pass: GPUComputePassEncoder, x: GPUBuffer, y: GPUBuffer, count: number): void {
  run(ctx, pass, 'add', count, 0, x, y);
}

/** x(count) *= s, f32. */
export function encodeScale(ctx: KernelContext, pass: GPUComputePassEncoder, x: GPUBuffer, s: number, count: number): void {
  run(ctx, pass, 'scale', count, s, x);
}

/** x(count) = cap * tanh(x / cap), f32. */
export function encodeSoftcap(ctx: KernelContext, pass: GPUComputePassEncoder, x: GPUBuffer, cap: number, count: number): void {
  run(ctx, pass, 'softcap', count, cap, x);
}
