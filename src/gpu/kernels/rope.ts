import type { ModelConfig } from '../model/config';
import { ropeCosSin } from '../model/rope-scaling';
import type { KernelContext } from './context';
import ropeSource from './rope.wgsl?raw';
import { dispatch, grid, preprocess } from './shader';

/**
 * (cos, sin) of every rotary angle for positions [0, capacity), computed in double precision on the host and
 * grown on demand, so a long context costs table space only once it is reached. The scalings (linear, YaRN,
 * LongRoPE's or Llama 3's frequency factors, the attention factor on cos and sin) live in the table
 * (model/rope-scaling.ts), so the kernel only rotates.
 */
export class RopeTable {
  private buffer: GPUBuffer | undefined;
  private capacity = 0;

  constructor(
    private readonly ctx: KernelContext,
    private readonly config: ModelConfig,
    private readonly freqFactors?: Float32Array,
  ) {}

  /** The table covering position `maxPos` (grown in steps of 1024 positions). */
  ensure(maxPos: number): GPUBuffer {
    if (this.buffer && maxPos < this.capacity) return this.buffer;
    const c = this.config;
    const capacity = Math.min(c.contextLength, Math.ceil((maxPos + 1) / 1024) * 1024);
    if (maxPos >= capacity) throw new RangeError(`position ${maxPos} is past the context length ${c.contextLength}`);
    const half = c.ropeDim / 2;
    const table = new Float32Array(capacity * half * 2);
    const cs = new Float64Array(2);
    for (let pos = 0; pos < capacity; pos++) {
      for (let i = 0; i < half; i++) {
        ropeCosSin(c, this.freqFactors, pos, i, cs);
        table[(pos * half + i) * 2] = cs[0]!;
        table[(pos * half + i) * 2 + 1] = cs[1]!;
      }
    }
    this.buffer?.destroy();
    this.buffer = this.ctx.upload(table, 'rope-cos-sin');
    this.capacity = capacity;
    return this.buffer;
  }

  destroy(): void {
    this.buffer?.destroy();
  }
}

export interface RopeArgs {
  readonly x: GPUBuffer; // (tokens, heads, headDim) f32, rotated in place
  readonly positions: GPUBuffer; // (tokens) u32
  readonly table: GPUBuffer; // from RopeTable.ensure
  readonly tokens: number;
  readonly heads: number;
}

export function encodeRope(ctx: KernelContext, pass: GPUComputePassEncoder, config: ModelConfig, a: RopeArgs): void {
  const neox = config.ropeStyle === 'neox';
  const p = ctx.pipelines.get({ family: 'rope', neox }, () => ({ code: preprocess(ropeSource, { NEOX: neox }), entryPoint: 'main' }));
  const half = config.ropeDim / 2;
  const params = ctx.uniform([a.tokens, a.heads, config.headDim, half]);
  const [x, y] = grid(Math.ceil((a.tokens * a.heads * half) / 64), ctx.caps.maxComputeWorkgroupsPerDimension);
  dispatch(pass, ctx.device, p, [params, a.x, a.positions, a.table], [x, y]);
}
