// q8_0 and q4_0 KV: appendKv quantizes each token's K/V row as ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref
// (the CPU quantizers in src/gpu/quant/quantize.ts) and writes the very bytes, and every attention kernel reading a
// quantized pool matches CPU attention over the dequantized K/V. Pools have shuffled physical blocks and unwritten slots of 0xff bytes (an f16
// NaN scale: a kernel that reads past a sequence's last key fails loudly). Flash-decode is exact with every tiling the
// tuner may choose over such a pool (a covering set; all with KVCHAT_EVERY_TILING=1).
import { beforeAll, describe, expect, it } from 'vitest';
import { GgmlType } from '../../src/gpu/gguf/types';
import { flashDecodeGqa, naiveAttention, prefillAttention, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { decodeTilingKey, type DecodeTiling } from '../../src/gpu/kernels/attention-decode';
import { appendKv } from '../../src/gpu/kernels/kv-append';
import { KV_BLOCK_TOKENS, QUANT_BLOCK_BYTES, layerBlockBytes, quantBlockIndex, quantRowBlocks, type KvQuantDtype } from '../../src/gpu/kv/layout';
import { decodeQ4_0, decodeQ8_0 } from '../../src/gpu/quant/legacy';
import { quantize } from '../../src/gpu/quant/quantize';
import { attendRef, normalizedError, uniformArray } from '../helpers/attention-ref';
import { offeredTilings, testedTilings } from '../helpers/decode-tiling';
import { testDevice } from '../helpers/gpu';
import { mulberry32 } from '../helpers/numeric';

// Normalized error bound, max |gpu - cpu| / max |cpu|, against CPU attention over the same dequantized K/V.
const BOUND = 1e-5;

let ctx: KernelContext;
beforeAll(async () => {
  ctx = new KernelContext(await testDevice());
});

interface Shape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

const CPU = {
  q8_0: { type: GgmlType.Q8_0, decode: decodeQ8_0 },
  q4_0: { type: GgmlType.Q4_0, decode: decodeQ4_0 },
} as const;

/** Sequences in one layer's quantized pool: keys/values hold the dequantized rows (len, nKvHeads * headDim). */
class QuantFixture {
  readonly keys: Float32Array[] = [];
  readonly values: Float32Array[] = [];
  readonly maxBlocksPerSeq: number;
  readonly blockTable: Uint32Array; // (nSeqs, maxBlocksPerSeq)
  readonly pool: Uint8Array; // (blocks, 2, 16, rowBlocks) blocks of dtype

  constructor(
    readonly dtype: KvQuantDtype,
    readonly shape: Shape,
    readonly lens: number[],
    rand: () => number,
    written: number[] = lens,
    amplitude = 1,
  ) {
    const row = shape.nKvHeads * shape.headDim;
    for (const len of lens) {
      this.keys.push(new Float32Array(len * row));
      this.values.push(new Float32Array(len * row));
    }
    const blocksOf = lens.map((len) => Math.ceil(len / KV_BLOCK_TOKENS));
    this.maxBlocksPerSeq = Math.max(...blocksOf) + 1;
    const total = blocksOf.reduce((a, b) => a + b, 0) + 3;
    const ids = Array.from({ length: total }, (_, i) => i);
    for (let i = total - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    this.blockTable = new Uint32Array(lens.length * this.maxBlocksPerSeq).fill(0xffffffff);
    let next = 0;
    blocksOf.forEach((n, s) => {
      for (let b = 0; b < n; b++) this.blockTable[s * this.maxBlocksPerSeq + b] = ids[next++]!;
    });
    this.pool = new Uint8Array(total * layerBlockBytes({ ...shape, nLayers: 1, dtype })).fill(0xff);
    lens.forEach((_, s) => {
      for (let pos = 0; pos < written[s]!; pos++) this.put(s, pos, uniformArray(rand, row, amplitude), uniformArray(rand, row, amplitude), this.pool);
    });
  }

  /** Quantizes token (s, pos)'s K and V rows into `pool` (CPU) and keeps their dequantized values. */
  put(s: number, pos: number, k: Float32Array, v: Float32Array, pool: Uint8Array): void {
    const row = k.length;
    const block = this.blockTable[s * this.maxBlocksPerSeq + Math.floor(pos / KV_BLOCK_TOKENS)]!;
    for (const [kind, x, keep] of [
      [0, k, this.keys[s]!],
      [1, v, this.values[s]!],
    ] as const) {
      const bytes = quantize(CPU[this.dtype].type, x);
      pool.set(bytes, quantBlockIndex(this.shape, block, kind, pos % KV_BLOCK_TOKENS, 0) * QUANT_BLOCK_BYTES[this.dtype]);
      CPU[this.dtype].decode(bytes, keep.subarray(pos * row, (pos + 1) * row), quantRowBlocks(this.shape));
    }
  }

  attentionShape(): PagedAttentionShape {
    return { ...this.shape, dtype: this.dtype, maxBlocksPerSeq: this.maxBlocksPerSeq };
  }

  reference(seqs: number[], positions: number[], q: Float32Array): Float64Array {
    const { nHeads, nKvHeads, headDim } = this.shape;
    const width = nHeads * headDim;
    const want = new Float64Array(q.length);
    seqs.forEach((s, t) => want.set(attendRef(q.subarray(t * width, (t + 1) * width), this.keys[s]!, this.values[s]!, positions[t]! + 1, nHeads, nKvHeads, headDim), t * width));
    return want;
  }
}

type Kernel = 'flash' | 'flash-direct' | 'flash-split-5' | 'naive' | 'prefill' | 'prefill-tile-8';

async function runAttention(f: QuantFixture, kernel: Kernel, seqs: number[], positions: number[], q: Float32Array, tiling?: DecodeTiling): Promise<Float32Array> {
  const shape = f.attentionShape();
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
  ctx.run((pass) => {
    if (kernel === 'prefill') prefillAttention(ctx, pass, shape, bufs, { nTokens });
    else if (kernel === 'prefill-tile-8') prefillAttention(ctx, pass, shape, bufs, { nTokens, keyTile: 8 });
    else if (kernel === 'naive') naiveAttention(ctx, pass, shape, bufs, { nTokens, maxContext });
    else flashDecodeGqa(ctx, pass, shape, bufs, { nTokens, maxContext, splits: kernel === 'flash-direct' ? 1 : kernel === 'flash-split-5' ? 5 : undefined, ...(tiling ? { tiling } : {}) });
  });
  const o = new Float32Array(await ctx.read(bufs.o, q.byteLength));
  for (const b of Object.values(bufs)) b.destroy();
  return o;
}

const errors: Record<string, number> = {};
function expectClose(label: string, got: Float32Array, want: Float64Array): void {
  const err = normalizedError(got, want);
  errors[label] = Math.max(errors[label] ?? 0, err);
  expect(err, label).toBeLessThanOrEqual(BOUND);
}

// Row lengths 32 (one block: rows start on odd half words), 64, 288 (nine blocks), 1024.
const SHAPES: Shape[] = [
  { nHeads: 8, nKvHeads: 4, headDim: 8 },
  { nHeads: 8, nKvHeads: 4, headDim: 16 },
  { nHeads: 8, nKvHeads: 1, headDim: 64 },
  { nHeads: 12, nKvHeads: 3, headDim: 96 },
  { nHeads: 32, nKvHeads: 8, headDim: 128 },
];
const name = (s: Shape): string => `heads ${s.nHeads}/${s.nKvHeads}, headDim ${s.headDim}`;

for (const dtype of ['q8_0', 'q4_0'] as const) {
  describe(`appendKv into a ${dtype} pool`, () => {
    for (const shape of SHAPES.slice(0, 4)) {
      it(`writes ggml's ${dtype} bytes of each row where quantBlockIndex says, nothing else (${name(shape)})`, async () => {
        const rand = mulberry32(shape.headDim * 13 + shape.nKvHeads);
        const lens = [5, 40, 17];
        const from = [0, 30, 16]; // whole, a decode-style tail, a start on a block boundary
        const f = new QuantFixture(dtype, shape, lens, rand, from);
        const row = shape.nKvHeads * shape.headDim;
        const tokens: [number, number][] = [];
        lens.forEach((len, s) => {
          for (let pos = from[s]!; pos < len; pos++) tokens.push([s, pos]);
        });
        const k = new Float32Array(tokens.length * row);
        const v = new Float32Array(tokens.length * row);
        const expected = f.pool.slice();
        tokens.forEach(([s, pos], t) => {
          // Amplitudes from 1e-3 to 30, and an all-zero row (d = 0: every q is 0).
          const amplitude = t === 3 ? 0 : 10 ** (rand() * 4.5 - 3);
          k.set(uniformArray(rand, row, amplitude), t * row);
          v.set(uniformArray(rand, row, amplitude), t * row);
          f.put(s, pos, k.subarray(t * row, (t + 1) * row), v.subarray(t * row, (t + 1) * row), expected);
        });
        const pool = ctx.upload(f.pool, 'pool');
        const bufs = {
          k: ctx.upload(k, 'k'),
          v: ctx.upload(v, 'v'),
          pool,
          blockTables: ctx.upload(f.blockTable, 'blockTables'),
          tokenSeq: ctx.upload(Uint32Array.from(tokens, ([s]) => s), 'tokenSeq'),
          tokenPos: ctx.upload(Uint32Array.from(tokens, ([, p]) => p), 'tokenPos'),
        };
        ctx.run((pass) => appendKv(ctx, pass, { ...shape, dtype, maxBlocksPerSeq: f.maxBlocksPerSeq }, bufs, tokens.length));
        const got = new Uint8Array(await ctx.read(pool, f.pool.byteLength));
        const mismatches: number[] = [];
        for (let i = 0; i < expected.length; i++) if (got[i] !== expected[i]) mismatches.push(i);
        expect(mismatches.slice(0, 10)).toEqual([]);
        for (const b of Object.values(bufs)) b.destroy();
      });
    }

    it('refuses a row that is not whole blocks', () => {
      const buf = ctx.storage(4096, 'refuse');
      ctx.run((pass) => {
        const bufs = { k: buf, v: buf, pool: buf, blockTables: buf, tokenSeq: buf, tokenPos: buf };
        expect(() => appendKv(ctx, pass, { nKvHeads: 3, headDim: 8, dtype, maxBlocksPerSeq: 1 }, bufs, 1)).toThrow(`${dtype} KV needs a K/V row (nKvHeads 3 x headDim 8 = 24)`);
      });
      buf.destroy();
    });
  });

  describe(`attention over a ${dtype} pool: batched decode over contexts 1, 15, 16, 17, 300`, () => {
    const lens = [1, 15, 16, 17, 300];
    for (const shape of SHAPES) {
      it(name(shape), async () => {
        const rand = mulberry32(shape.nHeads * 1000 + shape.headDim);
        const f = new QuantFixture(dtype, shape, lens, rand);
        const seqs = [4, 0, 3, 1, 2];
        const positions = seqs.map((s) => lens[s]! - 1);
        const q = uniformArray(rand, seqs.length * shape.nHeads * shape.headDim, 2);
        const want = f.reference(seqs, positions, q);
        for (const kernel of ['flash', 'flash-direct', 'flash-split-5', 'naive'] as const) {
          expectClose(`${kernel} ${dtype}`, await runAttention(f, kernel, seqs, positions, q), want);
        }
      });
    }
  });

  // The tilings the tuner may now choose over a quantized pool: a lane reads part of a row's 32-value blocks.
  describe(`flash-decode tilings over a ${dtype} pool: contexts 1, 17, 300, 700, direct and 5 splits`, () => {
    const lens = [1, 17, 300, 700];
    for (const shape of [SHAPES[2]!, { nHeads: 8, nKvHeads: 2, headDim: 128 }]) {
      it(name(shape), async () => {
        const rand = mulberry32(shape.nHeads * 97 + shape.headDim);
        const f = new QuantFixture(dtype, shape, lens, rand);
        const seqs = [3, 0, 2, 1];
        const positions = seqs.map((s) => lens[s]! - 1);
        const q = uniformArray(rand, seqs.length * shape.nHeads * shape.headDim, 2);
        const want = f.reference(seqs, positions, q);
        const offered = offeredTilings(ctx, f.attentionShape());
        expect(offered.length).toBeGreaterThan(4);
        for (const tiling of testedTilings(offered)) {
          for (const kernel of ['flash-direct', 'flash-split-5'] as const) {
            expectClose(`${decodeTilingKey(tiling)} ${dtype}`, await runAttention(f, kernel, seqs, positions, q, tiling), want);
          }
        }
      }, 900_000); // lavapipe compiles each pipeline in seconds
    }
  });

  describe(`attention over a ${dtype} pool of tiny values`, () => {
    it('reads subnormal half scales (|x| < 1e-3)', async () => {
      const shape = SHAPES[2]!;
      const rand = mulberry32(77);
      const f = new QuantFixture(dtype, shape, [40, 7], rand, [40, 7], 1e-3);
      const seqs = [0, 1];
      const positions = [39, 6];
      const q = uniformArray(rand, seqs.length * shape.nHeads * shape.headDim, 2);
      expectClose(`flash (tiny) ${dtype}`, await runAttention(f, 'flash', seqs, positions, q), f.reference(seqs, positions, q));
    });
  });

  describe(`prefill attention over a ${dtype} pool: chunks of 1, 5, 16, 37 tokens at 0 and after 21 cached`, () => {
    for (const shape of [SHAPES[0]!, SHAPES[2]!, SHAPES[3]!]) {
      it(name(shape), async () => {
        const rand = mulberry32(shape.nHeads * 31 + shape.headDim);
        const runs = [0, 21].flatMap((start) => [1, 5, 16, 37].map((n) => ({ start, n })));
        const f = new QuantFixture(dtype, shape, runs.map(({ start, n }) => start + n), rand);
        for (const [s, { start, n }] of runs.entries()) {
          const seqs = new Array<number>(n).fill(s);
          const positions = Array.from({ length: n }, (_, i) => start + i);
          const q = uniformArray(rand, n * shape.nHeads * shape.headDim, 2);
          const want = f.reference(seqs, positions, q);
          expectClose(`prefill ${dtype}`, await runAttention(f, 'prefill', seqs, positions, q), want);
          expectClose(`prefill-tile-8 ${dtype}`, await runAttention(f, 'prefill-tile-8', seqs, positions, q), want);
        }
      });
    }

    it('sees the chunk appendKv quantized in the same pass', async () => {
      const shape = { nHeads: 8, nKvHeads: 2, headDim: 64 };
      const rand = mulberry32(5);
      const start = 19;
      const n = 23;
      const f = new QuantFixture(dtype, shape, [start + n], rand, [start]);
      const row = shape.nKvHeads * shape.headDim;
      const k = uniformArray(rand, n * row);
      const v = uniformArray(rand, n * row);
      for (let t = 0; t < n; t++) f.put(0, start + t, k.subarray(t * row, (t + 1) * row), v.subarray(t * row, (t + 1) * row), new Uint8Array(f.pool.length));
      const attention = f.attentionShape();
      const positions = Array.from({ length: n }, (_, i) => start + i);
      const q = uniformArray(rand, n * shape.nHeads * shape.headDim, 2);
      const bufs = {
        q: ctx.upload(q, 'q'),
        k: ctx.upload(k, 'k'),
        v: ctx.upload(v, 'v'),
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
      expectClose(`append + prefill ${dtype}`, got, f.reference(new Array<number>(n).fill(0), positions, q));
      for (const b of Object.values(bufs)) b.destroy();
    });
  });
}

describe('measured errors', () => {
  it('reports the measured errors', () => {
    console.log('quantized KV attention normalized errors (bound 1e-5):', errors);
  });
});
