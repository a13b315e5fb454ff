// Checksums of stored KV block bytes: xxHash64 through hash-wasm (maintained, WebAssembly, GB/s), replacing a
// byte-at-a-time FNV loop in JavaScript. The hasher is created once, asynchronously, when this module loads (a
// top-level await: the store runs in Node's ESM, in main, the CLI and tests); after that every checksum is
// synchronous, so the store's transactions stay synchronous.
import { createXXHash64 } from 'hash-wasm';

const hasher = await createXXHash64();

/** xxHash64 (seed 0) of `bytes`, as 16 hex digits. */
export function blockChecksum(bytes: Uint8Array): string {
  hasher.init();
  hasher.update(bytes);
  return hasher.digest('hex');
}
