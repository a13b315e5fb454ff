// The GPU block pool: one buffer per layer, `blocks` slots each, allocated once (see layout.ts for the bytes).
import { GpuError } from '../device';
import type { KernelContext } from '../kernels/context';
import { layerBlockBytes, type KvLayout } from './layout';

export class KvPool {
  readonly layers: readonly GPUBuffer[]; // per layer: (blocks, kinds, nKvHeads, 16, headDim) of dtype; kinds 1 under MLA

  constructor(
    ctx: KernelContext,
    readonly layout: KvLayout,
    readonly blocks: number,
  ) {
    const bytes = layerBlockBytes(layout) * blocks;
    const limit = Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize);
    if (bytes > limit) {
      const most = Math.floor(limit / layerBlockBytes(layout));
      throw new GpuError('limit-exceeded', `a KV pool of ${blocks} blocks needs ${bytes} bytes per layer, over this GPU's maxStorageBufferBindingSize of ${limit} (at most ${most} blocks)`);
    }
    this.layers = Array.from({ length: layout.nLayers }, (_, l) => ctx.storage(bytes, `kv-pool-layer-${l}`));
  }

  /** Largest block count one layer buffer can hold on this device. */
  static maxBlocks(ctx: Pick<KernelContext, 'caps'>, layout: KvLayout): number {
    return Math.floor(Math.min(ctx.caps.maxStorageBufferBindingSize, ctx.caps.maxBufferSize) / layerBlockBytes(layout));
  }

  destroy(): void {
    for (const b of this.layers) b.destroy();
  }
}
