// Attention sinks (gpt-oss's attn_sinks) in the paged flash-decode (one split, and several with the merge pass) and
// prefill kernels, with and without a sliding window, against a double-precision CPU loop: each head's sink logit
// joins the softmax denominator (as ggml_soft_max_ext with sinks: the max taken over the scores and the sink) and
// weighs no value. Sinks far above the scores (the output shrinks towards 0) and far below (no effect) included.
import { beforeAll, describe, expect, it } from 'vitest';
import { flashDecodeGqa, prefillAttention, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { blockElements, KV_BLOCK_TOKENS, kvElementIndex, type KvDtype } from '../../src/gpu/kv/layout';
import { f32ToF16Bits, normalizedError, roundToHalf } from '../helpers/attention-ref';
import { testDevice } from '../helpers/gpu';
import { uniform } from '../helpers/numeric';

const BOUND = 1e-5; // max |gpu - cpu| / max |cpu|, as in attention.gpu.test.ts
const SEQ_LEN = 70;
const SHAPE = { nHeads: 8, nKvHeads: 1, headDim: 64 }; // gpt-oss-20b's head dim and GQA 8:1 (64 / 8 heads)
// Per head: around the scores, far above them (80: exp(80) overflows f32 unless the max includes the sink), far
// below, and in between.
const SINKS = Float32Array.from([0.5, -1, 3, 80, -80, 0, 1.5, -3]);

let ctx: KernelContext;
beforeAll(async () => {
  ctx = new KernelContext(await testDevice());
});

interface Case {
  readonly keys: Float32Array; // (SEQ_LEN, nKvHeads * headDim) as stored
  readonly values: Float32Array;
  readonly pool: Float32Array | Uint16Array; // one layer, blocks in reverse order
  readonly table: Uint32Array; // (1, blocks)
  readonly dtype: KvDtype;
}

function makeCase(dtype: KvDtype, seed: number): Case {
  const next = uniform(seed);
  const row = SHAPE.nKvHeads * SHAPE.headDim;
  const store = dtype === 'f16' ? roundToHalf : (x: number): number => Math.fround(x);
  const keys = Float32Array.from({ length: SEQ_LEN * row }, () => store(2 * next() - 1));
  const values = Float32Array.from({ length: SEQ_LEN * row }, () => store(2 * next() - 1));
  const blocks = Math.ceil(SEQ_LEN / KV_BLOCK_TOKENS);
  const table = Uint32Array.from({ length: blocks }, (_, b) => blocks - 1 - b);
  const layout = { ...SHAPE, dtype };
  const pool = dtype === 'f16' ? new Uint16Array(blocks * blockElements(layout)) : new Float32Array(blocks * blockElements(layout));
  for (let pos = 0; pos < SEQ_LEN; pos++) {
    const block = table[Math.floor(pos / KV_BLOCK_TOKENS)]!;
    for (const kind of [0, 1] as const) {
      for (let i = 0; i < row; i++) {
        const x = (kind === 0 ? keys : values)[pos * row + i]!;
        const at = kvElementIndex(layout, block, kind, Math.floor(i / SHAPE.headDim), pos % KV_BLOCK_TOKENS, i % SHAPE.headDim);
        pool[at] = dtype === 'f16' ? f32ToF16Bits(x) : x;
      }
    }
  }
  return { keys, values, pool, table, dtype };
}

/** Attention of one query (nHeads * headDim) at `pos` with sinks, keys pos - window < key <= pos (window 0: all). */
function reference(c: Case, q: Float32Array, pos: number, window: number): Float64Array {
  const { nHeads, nKvHeads, headDim } = SHAPE;
  const group = nHeads / nKvHeads;
  const row = nKvHeads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const first = window > 0 ? Math.max(0, pos + 1 - window) : 0;
  const out = new Float64Array(nHeads * headDim);
  for (let h = 0; h < nHeads; h++) {
    const kv = Math.floor(h / group) * headDim;
    const s: number[] = [];
    for (let j = first; j <= pos; j++) {
      let d = 0;
      for (let i = 0; i < headDim; i++) d += q[h * headDim + i]! * c.keys[j * row + kv + i]!;
      s.push(d * scale);
    }
    const m = Math.max(...s, SINKS[h]!);
    const p = s.map((x) => Math.exp(x - m));
    const sum = p.reduce((a, b) => a + b, 0) + Math.exp(SINKS[h]! - m);
    for (let i = 0; i < headDim; i++) {
      let acc = 0;
      p.forEach((w, j) => (acc += w * c.values[(first + j) * row + kv + i]!));
      out[h * headDim + i] = acc / sum;
    }
  }
  return out;
}

type Kernel = { kind: 'decode'; splits: number } | { kind: 'prefill'; keyTile: 8 | 16 };

async function check(c: Case, kernel: Kernel, positions: number[], window: number, seed: number): Promise<void> {
  const width = SHAPE.nHeads * SHAPE.headDim;
  const next = uniform(seed);
  const q = Float32Array.from({ length: positions.length * width }, () => 4 * next() - 2);
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
  const sinks = ctx.upload(SINKS, 'sinks');
  const opts = { nTokens, sinks, ...(window > 0 ? { window } : {}) };
  ctx.run((pass) => {
    if (kernel.kind === 'prefill') prefillAttention(ctx, pass, shape, bufs, { ...opts, keyTile: kernel.keyTile });
    else flashDecodeGqa(ctx, pass, shape, bufs, { ...opts, maxContext: Math.max(...positions) + 1, splits: kernel.splits });
  });
  const got = new Float32Array(await ctx.read(bufs.o, q.byteLength));
  for (const b of [...Object.values(bufs), sinks]) b.destroy();
  const want = new Float64Array(q.length);
  positions.forEach((pos, t) => want.set(reference(c, q.subarray(t * width, (t + 1) * width), pos, window), t * width));
  expect(got.every(Number.isFinite)).toBe(true);
  expect(normalizedError(got, want)).toBeLessThanOrEqual(BOUND);
  // The head whose sink is 80 above every score attends to almost nothing: its row is ~0, not NaN.
  expect(Math.max(...Array.from(got.subarray(3 * SHAPE.headDim, 4 * SHAPE.headDim), Math.abs))).toBeLessThan(1e-20);
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

describe('attention sinks join the softmax denominator only', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const window of [0, 20]) {
      const label = `${dtype} KV, ${window > 0 ? `window ${window}` : 'full attention'}`;
      it(`flash-decode, one split and three with the merge pass (${label})`, async () => {
        const c = makeCase(dtype, 21 + window);
        await check(c, { kind: 'decode', splits: 1 }, [0, 15, 40, 69], window, 1);
        await check(c, { kind: 'decode', splits: 3 }, [69, 33, 5], window, 2);
      });

      // One test per key tile: each compiles its own pipeline, which takes a while on lavapipe.
      it(`prefill of a whole prompt, key tiles of 16 (${label})`, async () => {
        await check(makeCase(dtype, 31 + window), { kind: 'prefill', keyTile: 16 }, range(0, SEQ_LEN), window, 3);
      });

      it(`prefill of a chunk, key tiles of 8 (${label})`, async () => {
        await check(makeCase(dtype, 41 + window), { kind: 'prefill', keyTile: 8 }, range(40, 70), window, 4);
      });
    }
  }
});
