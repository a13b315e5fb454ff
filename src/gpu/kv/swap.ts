// Moving KV blocks between the GPU pool and host memory. A block's bytes are its slot in every layer's pool
// buffer, concatenated layer by layer: (nLayers, kinds, nKvHeads, 16, headDim) of the pool's dtype (kinds: 2, K and V;
// 1 under MLA).
import type { KernelContext } from '../kernels/context';
import { blockBytes, layerBlockBytes, type KvLayout } from './layout';
import type { KvPool } from './pool';

/** What a stored block must match to be used: the model and the exact layout of its bytes. */
export interface BlockIdentity {
  readonly modelFingerprint: string;
  readonly layout: KvLayout;
}

export function layoutKey(l: KvLayout): string {
  // MLA blocks (one latent row a token) never match a K/V layout of the same sizes.
  const mla = l.latentDim === undefined ? '' : `:mla${l.latentDim}`;
  return `${l.dtype}:${l.nLayers}x${l.nKvHeads}x${l.headDim}x16${mla}`;
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
 * Uploads blocks into pool slots (the queue orders the writes before any later submitted step), straight from each
 * block's own bytes (a SQLite blob's view as it was read): one writeBuffer per block and layer, each range copied
 * once into the device's upload staging, with no gather copy into a new array first. The writes are submitted at
 * once, so the device copies them while the caller reads its next batch.
 */
export function writeBlocks(ctx: KernelContext, pool: KvPool, blocks: readonly { slot: number; bytes: Uint8Array }[]): void {
  const per = layerBlockBytes(pool.layout);
  const whole = blockBytes(pool.layout);
  for (const { bytes } of blocks) {
    if (bytes.byteLength !== whole) throw new RangeError(`a KV block of this model is ${whole} bytes, not ${bytes.byteLength}`);
  }
  if (blocks.length === 0) return;
  const queue = ctx.device.queue;
  for (const { slot, bytes } of blocks) {
    for (let l = 0; l < pool.layers.length; l++) queue.writeBuffer(pool.layers[l]!, slot * per, bytes.buffer, bytes.byteOffset + l * per, per);
  }
  queue.submit([]);
}
