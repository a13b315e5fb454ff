// Deterministic random numbers and the error measure the kernel tests bound their results by.

/** Uniform [0, 1) values (xorshift-multiply), the same stream for the same seed; seed 0 is taken as 1. */
export function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

/** Uniform [-1, 1) values from the same stream as `uniform(seed)`. */
export function signedUniform(seed: number): () => number {
  const next = uniform(seed);
  return () => next() * 2 - 1;
}

/** max |a - b| / max |b|: the normalized error the kernel tests state their bounds in. */
export function normalizedError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 1e-30;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / scale;
}

/** mulberry32: uniform [0, 1) values, the same stream in every JS engine (fuzz cases, synthetic models, answers). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
