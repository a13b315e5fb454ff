// Paged-KV append and the attention kernels against plain CPU loops, over pools whose physical blocks are
// shuffled and whose unwritten slots hold NaN (a kernel that reads past a sequence's last key fails loudly).
import { beforeAll, describe, expect, it } from 'vitest';
import { flashDecodeGqa, naiveAttention, prefillAttention, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { appendKv } from '../../src/gpu/kernels/kv-append';
import { blockElements, KV_BLOCK_TOKENS, kvElementIndex, type KvDtype } from '../../src/gpu/kv/layout';
import { attendRef, f32ToF16Bits, normalizedError, roundToHalf } from '../helpers/attention-ref';
import { testDevice } from '../helpers/gpu';

// Normalized error bound, max |gpu - cpu| / max |cpu|, for f32 KV and for f16 KV against f16-rounded K/V.
const BOUND = 1e-5;
const F16_NAN = 0x7e00;

let ctx: KernelContext;
beforeAll(async () => {
  ctx = new KernelContext(await testDevice());
});

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(rand: () => number, n: number, amplitude = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * amplitude);
}

function shuffled(n: number, rand: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

interface Shape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

/**
 * Sequences of the given lengths in one layer's pool: K/V of each (len, nKvHeads * headDim), as stored (f16
 * pools keep the rounded values), physical blocks a shuffled permutation with spares, every other slot NaN.
 */
class PagedFixture {
  readonly keys: Float32Array[] = [];
  readonly values: Float32Array[] = [];
  readonly maxBlocksPerSeq: number;
  readonly blockTable: Uint32Array; // (nSeqs, maxBlocksPerSeq)
  readonly pool: Float32Array | Uint16Array;

  constructor(
    readonly shape: Shape & { dtype: KvDtype },
    readonly lens: number[],
    rand: () => number,
    // Positions below `written[s]` go into the pool now; the rest are left for appendKv.
    written: number[] = lens,
  ) {
    const row = shape.nKvHeads * shape.headDim;
    const store = shape.dtype === 'f16' ? roundToHalf : (x: number) => x;
    for (const len of lens) {
      this.keys.push(uniform(rand, len * row).map(store));
      this.values.push(uniform(rand, len * row).map(store));
    }
    const blocksOf = lens.map((len) => Math.ceil(len / KV_BLOCK_TOKENS));
    this.maxBlocksPerSeq = Math.max(...blocksOf) + 1;
    const total = blocksOf.reduce((a, b) => a + b, 0) + 3;
    const ids = shuffled(total, rand);
    this.blockTable = new Uint32Array(lens.length * this.maxBlocksPerSeq).fill(0xffffffff);
    let next = 0;
    blocksOf.forEach((n, s) => {
      for (let b = 0; b < n; b++) this.blockTable[s * this.maxBlocksPerSeq + b] = ids[next++]!;
    });
    const elements = total * blockElements(shape);
    this.pool = shape.dtype === 'f16' ? new Uint16Array(elements).fill(F16_NAN) : new Float32Array(elements).fill(NaN);
    lens.forEach((_, s) => {
      for (let pos = 0; pos < written[s]!; pos++) {
        this.forEachElement(s, pos, (index, kind, i) => {
          const x = (kind === 0 ? this.keys : this.values)[s]![pos * row + i]!;
          this.pool[index] = shape.dtype === 'f16' ? f32ToF16Bits(x) : x;
        });
      }
    });
  }

  /** Calls `f(pool index, kind, index in the token's K/V row)` for every element of token `pos` of sequence `s`. */
  forEachElement(s: number, pos: number, f: (index: number, kind: 0 | 1, i: number) => void): void {
    const { nKvHeads, headDim } = this.shape;
    const block = this.blockTable[s * this.maxBlocksPerSeq + Math.floor(pos / KV_BLOCK_TOKENS)]!;
    for (const kind of [0, 1] as const) {
      for (let h = 0; h < nKvHeads; h++) {
        for (let d = 0; d < headDim; d++) f(kvElementIndex(this.shape, block, kind, h, pos % KV_BLOCK_TOKENS, d), kind, h * headDim + d);
      }
    }
  }

  attentionShape(nHeads: number): PagedAttentionShape {
    return { ...this.shape, nHeads, maxBlocksPerSeq: this.maxBlocksPerSeq };
  }

  /** CPU attention of token (seq s, pos) with query q (nHeads * headDim). */
  reference(q: Float32Array, s: number, pos: number): Float64Array {
    const { nHeads, nKvHeads, headDim } = this.shape;
    return attendRef(q, this.keys[s]!, this.values[s]!, pos + 1, nHeads, nKvHeads, headDim);
  }
}

type AttentionKernel = 'flash' | 'flash-direct' | 'flash-split-5' | 'naive' | 'prefill' | 'prefill-tile-8';

/** Runs one attention kernel for tokens (seq, pos) with queries q (nTokens, nHeads * headDim); returns o. */
async function runAttention(f: PagedFixture, kernel: AttentionKernel, seqs: number[], positions: number[], q: Float32Array, kctx = ctx): Promise<{ o: Float32Array; splits?: number }> {
  const ctx = kctx;
  const shape = f.attentionShape(f.shape.nHeads);
  const nTokens = seqs.length;
  const bufs = {
    q: ctx.upload(q, 'q'),
    pool: ctx.upload(f.pool, 'pool'),
    blockTables: ctx.upload(f.blockTable, 'blockTables'),
    tokenSeq: ctx.upload(Uint32Array.from(seqs), 'tokenSeq'),
    tokenPos: ctx.upload(Uint32Array.from(positions), 'tokenPos'),
    o: ctx.storage(q.byteLength, 'o'),
  };
  const maxContext = Math.max(...positions) + 1;
  let splits: number | undefined;
  ctx.run((pass) => {
    if (kernel === 'prefill') prefillAttention(ctx, pass, shape, bufs, { nTokens });
    else if (kernel === 'prefill-tile-8') prefillAttention(ctx, pass, shape, bufs, { nTokens, keyTile: 8 });
    else if (kernel === 'naive') naiveAttention(ctx, pass, shape, bufs, { nTokens, maxContext });
    else {
      const forced = kernel === 'flash-direct' ? 1 : kernel === 'flash-split-5' ? 5 : undefined;
      splits = flashDecodeGqa(ctx, pass, shape, bufs, { nTokens, maxContext, splits: forced }).splits;
    }
  });
  const o = new Float32Array(await ctx.read(bufs.o, q.byteLength));
  for (const b of Object.values(bufs)) b.destroy();
  return { o, splits };
}

function referenceOf(f: PagedFixture, seqs: number[], positions: number[], q: Float32Array): Float64Array {
  const width = f.shape.nHeads * f.shape.headDim;
  const want = new Float64Array(q.length);
  seqs.forEach((s, t) => want.set(f.reference(q.subarray(t * width, (t + 1) * width), s, positions[t]!), t * width));
  return want;
}

const SHAPES: Shape[] = [
  { nHeads: 8, nKvHeads: 4, headDim: 8 },
  { nHeads: 8, nKvHeads: 4, headDim: 16 },
  { nHeads: 4, nKvHeads: 4, headDim: 64 }, // MHA
  { nHeads: 8, nKvHeads: 1, headDim: 64 }, // MQA
  { nHeads: 32, nKvHeads: 8, headDim: 128 }, // GQA 4:1
  { nHeads: 12, nKvHeads: 4, headDim: 80 },
  { nHeads: 12, nKvHeads: 3, headDim: 96 },
  // Head dims past 32 * 4 on the CPU layout (2 lanes, 32 threads): the value phase needs 16 * LANES >= headDim / 4
  // threads, or it had no key slot and decode returned zeros (every Gemma 3 has head dim 256).
  { nHeads: 6, nKvHeads: 2, headDim: 192 },
  { nHeads: 4, nKvHeads: 1, headDim: 256 }, // Gemma 3
];
const DTYPES: KvDtype[] = ['f32', 'f16'];
// Shader compiles dominate on SwiftShader (its cost grows with workgroup memory): the baseline and prefill run on
// a subset that still covers MHA, MQA, GQA, every lane layout and both KV dtypes.
const NAIVE_CASES = new Set(['4/4/64/f32', '8/1/64/f16', '32/8/128/f32', '12/3/96/f16']);
const PREFILL_CASES: [Shape, KvDtype][] = [
  [SHAPES[0]!, 'f32'],
  [SHAPES[1]!, 'f16'],
  [SHAPES[3]!, 'f32'],
  [SHAPES[4]!, 'f16'],
  [SHAPES[5]!, 'f32'],
  [SHAPES[6]!, 'f16'],
];
const name = (s: Shape, dtype: KvDtype): string => `heads ${s.nHeads}/${s.nKvHeads}, headDim ${s.headDim}, ${dtype} KV`;
const errors: Record<string, number> = {};

function expectClose(label: string, got: Float32Array, want: Float64Array): void {
  const err = normalizedError(got, want);
  errors[label] = Math.max(errors[label] ?? 0, err);
  expect(err, label).toBeLessThanOrEqual(BOUND);
}

describe('appendKv', () => {
  for (const dtype of DTYPES) {
    it(`writes K and V where kvElementIndex says, nothing else (${dtype})`, async () => {
      const rand = random(dtype === 'f16' ? 7 : 3);
      const shape = { nKvHeads: 3, headDim: 16, dtype };
      const lens = [5, 40, 17];
      // Sequence 0 is written whole by the kernel; sequences 1 and 2 get a decode-style tail (and a mid-block start).
      const f = new PagedFixture({ ...shape, nHeads: 3 }, lens, rand, [0, 30, 16]);
      const tokens: [number, number][] = [];
      lens.forEach((len, s) => {
        for (let pos = [0, 30, 16][s]!; pos < len; pos++) tokens.push([s, pos]);
      });
      const row = shape.nKvHeads * shape.headDim;
      const k = new Float32Array(tokens.length * row);
      const v = new Float32Array(tokens.length * row);
      tokens.forEach(([s, pos], t) => {
        // The unrounded values: the kernel rounds them itself on an f16 pool.
        k.set(uniform(rand, row), t * row);
        v.set(uniform(rand, row), t * row);
        f.keys[s]!.set(k.subarray(t * row, (t + 1) * row), pos * row);
        f.values[s]!.set(v.subarray(t * row, (t + 1) * row), pos * row);
      });
      const expected = f.pool.slice();
      for (const [t, [s, pos]] of tokens.entries()) {
        f.forEachElement(s, pos, (index, kind, i) => {
          const x = (kind === 0 ? k : v)[t * row + i]!;
          expected[index] = dtype === 'f16' ? f32ToF16Bits(x) : x;
        });
      }
      const pool = ctx.upload(f.pool, 'pool');
      const bufs = {
        k: ctx.upload(k, 'k'),
        v: ctx.upload(v, 'v'),
        pool,
        blockTables: ctx.upload(f.blockTable, 'blockTables'),
        tokenSeq: ctx.upload(Uint32Array.from(tokens, ([s]) => s), 'tokenSeq'),
        tokenPos: ctx.upload(Uint32Array.from(tokens, ([, p]) => p), 'tokenPos'),
      };
      ctx.run((pass) => appendKv(ctx, pass, { ...shape, maxBlocksPerSeq: f.maxBlocksPerSeq }, bufs, tokens.length));
      const bytes = await ctx.read(pool, f.pool.byteLength);
      // Compare bit patterns: NaN sentinels must survive untouched.
      const got = dtype === 'f16' ? new Uint16Array(bytes) : new Uint32Array(bytes);
      const want = dtype === 'f16' ? (expected as Uint16Array) : new Uint32Array((expected as Float32Array).buffer);
      let mismatches = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) mismatches++;
      expect(mismatches).toBe(0);
      for (const b of Object.values(bufs)) b.destroy();
    });
  }
});

describe('flashDecodeGqa and naiveAttention: batched decode over contexts 1, 15, 16, 17, 300', () => {
  const lens = [1, 15, 16, 17, 300];
  let other: KernelContext | undefined;
  for (const shape of SHAPES) {
    for (const dtype of DTYPES) {
      it(name(shape, dtype), async () => {
        const rand = random(shape.nHeads * 1000 + shape.headDim + (dtype === 'f16' ? 1 : 0));
        const f = new PagedFixture({ ...shape, dtype }, lens, rand);
        // One token per sequence, last position first: batch order is not sequence order.
        const seqs = [4, 0, 3, 1, 2];
        const positions = seqs.map((s) => lens[s]! - 1);
        const q = uniform(rand, seqs.length * shape.nHeads * shape.headDim, 2);
        const want = referenceOf(f, seqs, positions, q);
        const auto = await runAttention(f, 'flash', seqs, positions, q);
        expect(auto.splits).toBeGreaterThan(1); // 300 keys: split-K and the merge pass
        expectClose(`flash ${dtype}`, auto.o, want);
        expectClose(`flash ${dtype}`, (await runAttention(f, 'flash-direct', seqs, positions, q)).o, want);
        // The other decode layout: 8 threads a key on a GPU, 2 on a CPU driver (the test devices are CPU drivers).
        other ??= new KernelContext({ ...ctx.gpu, caps: { ...ctx.caps, softwareAdapter: !ctx.caps.softwareAdapter } });
        expectClose(`flash ${dtype} (${other.caps.softwareAdapter ? 'CPU' : 'GPU'} layout)`, (await runAttention(f, 'flash', seqs, positions, q, other)).o, want);
        if (NAIVE_CASES.has(`${shape.nHeads}/${shape.nKvHeads}/${shape.headDim}/${dtype}`)) {
          expectClose(`naive ${dtype}`, (await runAttention(f, 'naive', seqs, positions, q)).o, want);
        }
      });
    }
  }
});

describe('flashDecodeGqa: a 2100-token context with several splits', () => {
  const cases: Shape[] = [SHAPES[3]!, SHAPES[6]!];
  for (const shape of cases) {
    for (const dtype of DTYPES) {
      it(name(shape, dtype), async () => {
        const rand = random(shape.headDim * 7 + (dtype === 'f16' ? 1 : 0));
        const lens = [2100, 40];
        const f = new PagedFixture({ ...shape, dtype }, lens, rand);
        const seqs = [0, 1];
        const positions = [2099, 39];
        const q = uniform(rand, seqs.length * shape.nHeads * shape.headDim, 2);
        const want = referenceOf(f, seqs, positions, q);
        const auto = await runAttention(f, 'flash', seqs, positions, q);
        expect(auto.splits).toBeGreaterThanOrEqual(8);
        expectClose(`flash ${dtype}`, auto.o, want);
        expectClose(`flash ${dtype}`, (await runAttention(f, 'flash-split-5', seqs, positions, q)).o, want);
      });
    }
  }
});

describe('prefillAttention: prompt chunks of 1, 5, 16, 37 tokens at position 0 and after 21 cached tokens', () => {
  const chunks = [1, 5, 16, 37];
  const starts = [0, 21];
  for (const [shape, dtype] of PREFILL_CASES) {
    {
      it(name(shape, dtype), async () => {
        const rand = random(shape.nHeads * 31 + shape.headDim + (dtype === 'f16' ? 1 : 0));
        const runs = starts.flatMap((start) => chunks.map((n) => ({ start, n })));
        const f = new PagedFixture({ ...shape, dtype }, runs.map(({ start, n }) => start + n), rand);
        for (const [s, { start, n }] of runs.entries()) {
          const seqs = Array.from({ length: n }, () => s);
          const positions = Array.from({ length: n }, (_, i) => start + i);
          const q = uniform(rand, n * shape.nHeads * shape.headDim, 2);
          expectClose(`prefill ${dtype}`, (await runAttention(f, 'prefill', seqs, positions, q)).o, referenceOf(f, seqs, positions, q));
        }
      });
    }
  }

  it('is correct for tokens of several sequences, in any order, in one call', async () => {
    const shape = { nHeads: 12, nKvHeads: 3, headDim: 16, dtype: 'f16' as const };
    const rand = random(99);
    const f = new PagedFixture(shape, [20, 50, 3], rand);
    const seqs = [1, 1, 0, 2, 1, 0, 0, 2, 1, 1, 1, 0, 2];
    const positions = [49, 10, 19, 2, 30, 0, 5, 0, 31, 32, 33, 18, 1];
    const q = uniform(rand, seqs.length * shape.nHeads * shape.headDim, 2);
    expectClose('prefill f16', (await runAttention(f, 'prefill', seqs, positions, q)).o, referenceOf(f, seqs, positions, q));
  });

  it('stages half blocks (keyTile 8) as well as whole ones', async () => {
    const shape = { nHeads: 8, nKvHeads: 4, headDim: 16, dtype: 'f16' as const };
    const rand = random(41);
    const f = new PagedFixture(shape, [21 + 37], rand);
    const seqs = new Array<number>(37).fill(0);
    const positions = Array.from({ length: 37 }, (_, i) => 21 + i);
    const q = uniform(rand, seqs.length * shape.nHeads * shape.headDim, 2);
    expectClose('prefill f16', (await runAttention(f, 'prefill-tile-8', seqs, positions, q)).o, referenceOf(f, seqs, positions, q));
  });
});

describe('prefill after appendKv in the same pass', () => {
  it('sees the chunk it appended', async () => {
    const shape = { nHeads: 8, nKvHeads: 2, headDim: 64, dtype: 'f32' as const };
    const rand = random(5);
    const start = 19;
    const n = 23;
    const f = new PagedFixture(shape, [start + n], rand, [start]);
    const row = shape.nKvHeads * shape.headDim;
    const attention = f.attentionShape(shape.nHeads);
    const positions = Array.from({ length: n }, (_, i) => start + i);
    const q = uniform(rand, n * shape.nHeads * shape.headDim, 2);
    const bufs = {
      q: ctx.upload(q, 'q'),
      k: ctx.upload(f.keys[0]!.subarray(start * row), 'k'),
      v: ctx.upload(f.values[0]!.subarray(start * row), 'v'),
      pool: ctx.upload(f.pool, 'pool'),
      blockTables: ctx.upload(f.blockTable, 'blockTables'),
      tokenSeq: ctx.upload(new Uint32Array(n), 'tokenSeq'),
      tokenPos: ctx.upload(Uint32Array.from(positions), 'tokenPos'),
      o: ctx.storage(q.byteLength, 'o'),
    };
    ctx.run((pass) => {
      appendKv(ctx, pass, attention, bufs, n);
      prefillAttention(ctx, pass, attention, bufs, { nTokens: n });
    });
    const got = new Float32Array(await ctx.read(bufs.o, q.byteLength));
    expectClose('prefill f32', got, referenceOf(f, new Array<number>(n).fill(0), positions, q));
    for (const b of Object.values(bufs)) b.destroy();
  });
});

describe('limits', () => {
  it('names the limit a call exceeds', () => {
    const small = new KernelContext({ ...ctx.gpu, caps: { ...ctx.caps, maxStorageBufferBindingSize: 1024 } });
    const shape = { nHeads: 4, nKvHeads: 4, headDim: 64, dtype: 'f32' as const, maxBlocksPerSeq: 4 };
    const buf = (bytes: number): GPUBuffer => ctx.storage(bytes, 'limits');
    const bufs = { q: buf(1024), pool: buf(4096), blockTables: buf(16), tokenSeq: buf(4), tokenPos: buf(4), o: buf(1024) };
    small.run((pass) => {
      expect(() => flashDecodeGqa(small, pass, shape, bufs, { nTokens: 1, maxContext: 64 })).toThrow(/pool is 4096 bytes, over this device's maxStorageBufferBindingSize \(1024\)/);
      expect(() => prefillAttention(ctx, pass, { ...shape, headDim: 6 }, bufs, { nTokens: 1 })).toThrow(/headDim 6/);
      expect(() => naiveAttention(ctx, pass, { ...shape, nHeads: 6 }, bufs, { nTokens: 1, maxContext: 64 })).toThrow(/nHeads 6 is not a positive multiple of nKvHeads 4/);
    });
    const tinyShared = new KernelContext({ ...ctx.gpu, caps: { ...ctx.caps, maxComputeWorkgroupStorageSize: 4096 } });
    tinyShared.run((pass) => {
      expect(() => prefillAttention(tinyShared, pass, shape, bufs, { nTokens: 1 })).toThrow(/over maxComputeWorkgroupStorageSize \(4096\)/);
    });
  });

  it('reports the measured errors', () => {
    console.log('attention normalized errors (bound 1e-5):', errors);
  });
});
