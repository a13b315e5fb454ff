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

/** FNV-1a over the bytes, two independent 32-bit lanes: a cheap integrity check for stored blocks. */
export function blockChecksum(bytes: Uint8Array): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) {
    a = Math.imul(a ^ bytes[i]!, 0x01000193);
    b = Math.imul(b ^ bytes[i]!, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
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

/** Uploads blocks into pool slots (the queue orders the writes before any later submitted step). */
export function writeBlocks(ctx: KernelContext, pool: KvPool, blocks: readonly { slot: number; bytes: Uint8Array }[]): void {
  const per = layerBlockBytes(pool.layout);
  const whole = blockBytes(pool.layout);
  for (const { slot, bytes } of blocks) {
    if (bytes.byteLength !== whole) throw new RangeError(`a KV block of this model is ${whole} bytes, not ${bytes.byteLength}`);
    const src = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    pool.layers.forEach((layer, l) => ctx.device.queue.writeBuffer(layer, slot * per, src.buffer, src.byteOffset + l * per, per));
  }
}
