// Sliding-window attention (Gemma's local layers) and score soft-capping (Gemma 2) in the paged flash-decode and
// prefill kernels, against a double-precision CPU loop. The K/V of blocks wholly before every query's window are
// NaN: a kernel that reads a block it should skip fails loudly.
import { beforeAll, describe, expect, it } from 'vitest';
import { flashDecodeGqa, prefillAttention, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { blockElements, KV_BLOCK_TOKENS, kvElementIndex, type KvDtype } from '../../src/gpu/kv/layout';
import { f32ToF16Bits, normalizedError, roundToHalf } from '../helpers/attention-ref';
import { testDevice } from '../helpers/gpu';
import { uniform } from '../helpers/numeric';

const BOUND = 1e-5; // max |gpu - cpu| / max |cpu|, as in attention.gpu.test.ts
const SEQ_LEN = 70;
const WINDOW = 20; // not a multiple of 16: the boundary block is masked inside
const SHAPE = { nHeads: 4, nKvHeads: 1, headDim: 64 }; // Gemma 3's GQA 4:1 at a smaller head dim

let ctx: KernelContext;
beforeAll(async () => {
  ctx = new KernelContext(await testDevice());
});

interface Case {
  readonly dtype: KvDtype;
  readonly keys: Float32Array; // (SEQ_LEN, nKvHeads * headDim) as stored
  readonly values: Float32Array;
  readonly pool: Float32Array | Uint16Array; // one layer, blocks in reverse order
  readonly table: Uint32Array; // (1, blocks)
}

/** One sequence of SEQ_LEN tokens; tokens below `poisonBelow` are NaN in the pool (and must never be read). */
function makeCase(dtype: KvDtype, seed: number, poisonBelow: number): Case {
  const next = uniform(seed);
  const row = SHAPE.nKvHeads * SHAPE.headDim;
  const store = dtype === 'f16' ? roundToHalf : (x: number): number => Math.fround(x);
  const keys = Float32Array.from({ length: SEQ_LEN * row }, () => store(2 * next() - 1));
  const values = Float32Array.from({ length: SEQ_LEN * row }, () => store(2 * next() - 1));
  const blocks = Math.ceil(SEQ_LEN / KV_BLOCK_TOKENS);
  const table = Uint32Array.from({ length: blocks }, (_, b) => blocks - 1 - b);
  const layout = { ...SHAPE, dtype };
  const pool = dtype === 'f16' ? new Uint16Array(blocks * blockElements(layout)).fill(0x7e00) : new Float32Array(blocks * blockElements(layout)).fill(NaN);
  for (let pos = poisonBelow; pos < SEQ_LEN; pos++) {
    const block = table[Math.floor(pos / KV_BLOCK_TOKENS)]!;
    for (const kind of [0, 1] as const) {
      for (let i = 0; i < row; i++) {
        const x = (kind === 0 ? keys : values)[pos * row + i]!;
        const at = kvElementIndex(layout, block, kind, Math.floor(i / SHAPE.headDim), pos % KV_BLOCK_TOKENS, i % SHAPE.headDim);
        pool[at] = dtype === 'f16' ? f32ToF16Bits(x) : x;
      }
    }
  }
  return { dtype, keys, values, pool, table };
}

/** Windowed, soft-capped attention of one query (nHeads * headDim) at `pos`, in double precision. */
function reference(c: Case, q: Float32Array, pos: number, scale: number, softcap: number): Float64Array {
  const { nHeads, nKvHeads, headDim } = SHAPE;
  const group = nHeads / nKvHeads;
  const row = nKvHeads * headDim;
  const first = Math.max(0, pos + 1 - WINDOW);
  const out = new Float64Array(nHeads * headDim);
  for (let h = 0; h < nHeads; h++) {
    const kv = Math.floor(h / group) * headDim;
    const s: number[] = [];
    for (let j = first; j <= pos; j++) {
      let d = 0;
      for (let i = 0; i < headDim; i++) d += q[h * headDim + i]! * c.keys[j * row + kv + i]!;
      s.push(softcap > 0 ? softcap * Math.tanh((d * scale) / softcap) : d * scale);
    }
    const m = Math.max(...s);
    const p = s.map((x) => Math.exp(x - m));
    const sum = p.reduce((a, b) => a + b, 0);
    for (let i = 0; i < headDim; i++) {
      let acc = 0;
      p.forEach((w, j) => (acc += w * c.values[(first + j) * row + kv + i]!));
      out[h * headDim + i] = acc / sum;
    }
  }
  return out;
}

type Kernel = { kind: 'decode'; splits: number } | { kind: 'prefill'; keyTile: 8 | 16 };

async function run(c: Case, kernel: Kernel, positions: number[], q: Float32Array, softcap: number): Promise<Float32Array> {
  const shape: PagedAttentionShape = { ...SHAPE, dtype: c.dtype, maxBlocksPerSeq: c.table.length };
  const nTokens = positions.length;
  const bufs = {
    q: ctx.upload(q, 'q'),
    pool: ctx.upload(c.pool, 'pool'),
    blockTables: ctx.upload(c.table, 'blockTables'),
    tokenSeq: ctx.upload(new Uint32Array(nTokens), 'tokenSeq'),
    tokenPos: ctx.upload(Uint32Array.from(positions), 'tokenPos'),
    o: ctx.storage(q.byteLength, 'o'),
  };
  const opts = { nTokens, window: WINDOW, softcap };
  ctx.run((pass) => {
    if (kernel.kind === 'prefill') prefillAttention(ctx, pass, shape, bufs, { ...opts, keyTile: kernel.keyTile });
    else flashDecodeGqa(ctx, pass, shape, bufs, { ...opts, maxContext: Math.max(...positions) + 1, splits: kernel.splits });
  });
  const o = new Float32Array(await ctx.read(bufs.o, q.byteLength));
  for (const b of Object.values(bufs)) b.destroy();
  return o;
}

async function check(c: Case, kernel: Kernel, positions: number[], softcap: number, seed: number): Promise<void> {
  const width = SHAPE.nHeads * SHAPE.headDim;
  const next = uniform(seed);
  const q = Float32Array.from({ length: positions.length * width }, () => 2 * next() - 1);
  const got = await run(c, kernel, positions, q, softcap);
  const scale = 1 / Math.sqrt(SHAPE.headDim);
  const want = new Float64Array(q.length);
  positions.forEach((pos, t) => want.set(reference(c, q.subarray(t * width, (t + 1) * width), pos, scale, softcap), t * width));
  expect(got.every(Number.isFinite)).toBe(true);
  expect(normalizedError(got, want)).toBeLessThanOrEqual(BOUND);
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

describe('sliding-window attention skips blocks before the window and masks inside the boundary block', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    // Queries from position 60 on see keys 41.. at the earliest: blocks 0 and 1 (keys 0..31) are poisoned.
    it(`flash-decode, one split and three (${dtype} KV)`, async () => {
      const c = makeCase(dtype, 11, 32);
      await check(c, { kind: 'decode', splits: 1 }, [60, 69, 63, 64], 0, 1);
      await check(c, { kind: 'decode', splits: 3 }, [69, 61, 66], 0, 2);
    });

    it(`prefill, key tiles of 16 and 8 (${dtype} KV)`, async () => {
      const c = makeCase(dtype, 12, 32);
      await check(c, { kind: 'prefill', keyTile: 16 }, range(56, 70), 0, 3);
      await check(c, { kind: 'prefill', keyTile: 8 }, range(56, 70), 0, 4);
    });
  }

  it('prefill of a whole prompt: every row its own window', async () => {
    await check(makeCase('f32', 13, 0), { kind: 'prefill', keyTile: 16 }, range(0, SEQ_LEN), 0, 5);
  });

  it('soft-capped scores (Gemma 2), decode and prefill', async () => {
    const c = makeCase('f32', 14, 32);
    // A cap of 0.5 bends scores of |s| ~ 1 hard: the uncapped result would be far outside the bound.
    await check(c, { kind: 'decode', splits: 2 }, [62, 69], 0.5, 6);
    await check(c, { kind: 'prefill', keyTile: 16 }, range(60, 70), 0.5, 7);
  });
});
