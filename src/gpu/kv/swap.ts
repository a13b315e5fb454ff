// Moving KV blocks between the GPU pool and host memory. A block's bytes are its slot in every layer's pool
// buffer, concatenated layer by layer: (nLayers, 2, nKvHeads, 16, headDim) of the pool's dtype.
import type { KernelContext } from '../kernels/context';
import { blockBytes, layerBlockBytes, type KvLayout } from './layout';
import type { KvPool } from './pool';

/** What a stored block must match to be used: the model and the exact layout of its bytes. */
export interface BlockIdentity {
  readonly modelFingerprint: string;
  readonly layout: KvLayout;
}

export function layoutKey(l: KvLayout): string {
  return `${l.dtype}:${l.nLayers}x${l.nKvHeads}x${l.headDim}x16`;
}

/** Reads physical blocks `slots` back from the pool; one Uint8Array (blockBytes) per slot, in order. */
export async function readBlocks(ctx: KernelContext, pool: KvPool, slots: readonly number[]): Promise<Uint8Array[]> {
  if (slots.length === 0) return [];
  const per = layerBlockBytes(pool.layout);
  const whole = blockBytes(pool.layout);
  const staging = ctx.device.createBuffer({ size: whole * slots.length, usage: 0x08 | 0x01, label: 'kv-swap-out' });
  const enc = ctx.device.createCommandEncoder();
  slots.forEach((slot, i) => {
    pool.layers.forEach((layer, l) => enc.copyBufferToBuffer(layer, slot * per, staging, i * whole + l * per, per));
  });
  ctx.device.queue.submit([enc.finish()]);
  await staging.mapAsync(1 /* READ */);
  const all = new Uint8Array(staging.getMappedRange().slice(0));
  staging.destroy();
  ctx.checkErrors();
  return slots.map((_, i) => all.subarray(i * whole, (i + 1) * whole));
}

/**
 * Uploads blocks into pool slots (the queue orders the writes before any later submitted step). A run of blocks
 * bound for consecutive slots (in any order given) is gathered layer by layer into one staging array per run: one writeBuffer per layer
 * and run instead of one per layer and block (a 16K-token resume of a 30-layer model: 30 calls, not 30K).
 */
export function writeBlocks(ctx: KernelContext, pool: KvPool, blocks: readonly { slot: number; bytes: Uint8Array }[]): void {
  const per = layerBlockBytes(pool.layout);
  const whole = blockBytes(pool.layout);
  for (const { bytes } of blocks) {
    if (bytes.byteLength !== whole) throw new RangeError(`a KV block of this model is ${whole} bytes, not ${bytes.byteLength}`);
  }
  // By slot: a sequence given back its blocks (free-list order) holds a contiguous set, seldom in ascending order.
  const bySlot = [...blocks].sort((x, y) => x.slot - y.slot);
  for (let start = 0; start < bySlot.length; ) {
    let end = start + 1;
    while (end < bySlot.length && bySlot[end]!.slot === bySlot[end - 1]!.slot + 1) end++;
    const run = bySlot.slice(start, end);
    const staging = new Uint8Array(per * run.length); // (run blocks, per) bytes of one layer at a time
    pool.layers.forEach((layer, l) => {
      run.forEach((b, i) => staging.set(b.bytes.subarray(l * per, (l + 1) * per), i * per));
      ctx.device.queue.writeBuffer(layer, run[0]!.slot * per, staging.buffer, 0, staging.byteLength);
    });
    start = end;
  }
}
