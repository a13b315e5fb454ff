// Multi-head latent attention (MLA, issue 22) over the paged KV cache: appendKv writes each token's one row
// [latent | k_pe], and flash-decode (split-K + merge), prefill and the naive baseline match a CPU loop computing
// softmax(scale * q . row) . row[:latentDim] for every query head. Pools (f32, f16, q8_0, q4_0) have shuffled physical
// blocks and unwritten slots holding NaN (f16 NaN, or 0xff bytes: a NaN quant scale), so a kernel that reads past
// a sequence's last key, or reads a V half that MLA blocks do not have, fails loudly.
import { beforeAll, describe, expect, it } from 'vitest';
import { GgmlType } from '../../src/gpu/gguf/types';
import { flashDecodeGqa, naiveAttention, prefillAttention, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { appendKv } from '../../src/gpu/kernels/kv-append';
import { KV_BLOCK_TOKENS, kvElementIndex, layerBlockBytes, QUANT_BLOCK_BYTES, quantBlockIndex, quantRowBlocks, type KvDtype, type KvLayout } from '../../src/gpu/kv/layout';
import { decodeQ4_0, decodeQ8_0 } from '../../src/gpu/quant/legacy';
import { quantize } from '../../src/gpu/quant/quantize';
import { attendRef, f32ToF16Bits, normalizedError, roundToHalf, uniformArray } from '../helpers/attention-ref';
import { testDevice } from '../helpers/gpu';
import { mulberry32 } from '../helpers/numeric';

// Normalized error bound, max |gpu - cpu| / max |cpu|, as the other attention kernel tests (f16 and q8_0 against
// the stored, rounded or dequantized rows; ggml's quantizers on the CPU).
const BOUND = 1e-5;
const F16_NAN = 0x7e00;

let ctx: KernelContext;
beforeAll(async () => {
  ctx = new KernelContext(await testDevice());
});

const QUANT = {
  q8_0: { type: GgmlType.Q8_0, decode: decodeQ8_0 },
  q4_0: { type: GgmlType.Q4_0, decode: decodeQ4_0 },
} as const;

interface MlaShape {
  nHeads: number;
  latentDim: number;
  ropeDim: number;
}

const headDimOf = (s: MlaShape): number => s.latentDim + s.ropeDim;

/**
 * softmax(scale * q_h . row_j) . row_j[:latentDim] for each head h of one token over rows 0 .. n-1: q (nHeads *
 * headDim), rows (>= n, headDim). Returns (nHeads * latentDim) in f64. attendRef with V = the rows themselves and
 * one KV head computes exactly this in each head's first latentDim outputs.
 */
function mlaRef(q: ArrayLike<number>, rows: ArrayLike<number>, n: number, s: MlaShape, scale: number): Float64Array {
  const headDim = headDimOf(s);
  const full = attendRef(q, rows, rows, n, s.nHeads, 1, headDim, scale);
  const out = new Float64Array(s.nHeads * s.latentDim);
  for (let h = 0; h < s.nHeads; h++) out.set(full.subarray(h * headDim, h * headDim + s.latentDim), h * s.latentDim);
  return out;
}

function shuffled(n: number, rand: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Sequences of the given lengths in one MLA layer's pool; rows[s] (len, headDim) as stored (rounded / dequantized). */
class MlaFixture {
  readonly rows: Float32Array[] = [];
  readonly maxBlocksPerSeq: number;
  readonly blockTable: Uint32Array; // (nSeqs, maxBlocksPerSeq)
  readonly layout: KvLayout;
  readonly pool: Uint8Array;

  constructor(
    readonly shape: MlaShape,
    readonly dtype: KvDtype,
    readonly lens: number[],
    rand: () => number,
    // Positions below `written[s]` go into the pool now; the rest are left for appendKv.
    written: number[] = lens,
  ) {
    const headDim = headDimOf(shape);
    this.layout = { nLayers: 1, nKvHeads: 1, headDim, latentDim: shape.latentDim, dtype };
    const blocksOf = lens.map((len) => Math.ceil(len / KV_BLOCK_TOKENS));
    this.maxBlocksPerSeq = Math.max(...blocksOf) + 1;
    const total = blocksOf.reduce((a, b) => a + b, 0) + 3;
    const ids = shuffled(total, rand);
    this.blockTable = new Uint32Array(lens.length * this.maxBlocksPerSeq).fill(0xffffffff);
    let next = 0;
    blocksOf.forEach((n, s) => {
      for (let b = 0; b < n; b++) this.blockTable[s * this.maxBlocksPerSeq + b] = ids[next++]!;
    });
    const bytes = total * layerBlockBytes(this.layout);
    if (dtype === 'q8_0' || dtype === 'q4_0') this.pool = new Uint8Array(bytes).fill(0xff);
    else if (dtype === 'f16') this.pool = new Uint8Array(new Uint16Array(bytes / 2).fill(F16_NAN).buffer);
    else this.pool = new Uint8Array(new Float32Array(bytes / 4).fill(NaN).buffer);
    lens.forEach((len, s) => {
      this.rows.push(new Float32Array(len * headDim));
      for (let pos = 0; pos < written[s]!; pos++) this.put(s, pos, uniformArray(rand, headDim), this.pool);
    });
  }

  /** Stores token (s, pos)'s row x in `pool` as the CPU would and keeps its stored values. */
  put(s: number, pos: number, x: Float32Array, pool: Uint8Array): void {
    const headDim = headDimOf(this.shape);
    const block = this.blockTable[s * this.maxBlocksPerSeq + Math.floor(pos / KV_BLOCK_TOKENS)]!;
    const token = pos % KV_BLOCK_TOKENS;
    const keep = this.rows[s]!.subarray(pos * headDim, (pos + 1) * headDim);
    if (this.dtype === 'q8_0' || this.dtype === 'q4_0') {
      const bytes = quantize(QUANT[this.dtype].type, x);
      pool.set(bytes, quantBlockIndex(this.layout, block, 0, token, 0) * QUANT_BLOCK_BYTES[this.dtype]);
      QUANT[this.dtype].decode(bytes, keep, quantRowBlocks(this.layout));
      return;
    }
    const f16 = this.dtype === 'f16';
    const view = f16 ? new Uint16Array(pool.buffer, pool.byteOffset, pool.byteLength / 2) : new Float32Array(pool.buffer, pool.byteOffset, pool.byteLength / 4);
    for (let d = 0; d < headDim; d++) {
      view[kvElementIndex(this.layout, block, 0, 0, token, d)] = f16 ? f32ToF16Bits(x[d]!) : x[d]!;
      keep[d] = f16 ? roundToHalf(x[d]!) : x[d]!;
    }
  }

  attentionShape(): PagedAttentionShape {
    return { nHeads: this.shape.nHeads, nKvHeads: 1, headDim: headDimOf(this.shape), latentDim: this.shape.latentDim, dtype: this.dtype, maxBlocksPerSeq: this.maxBlocksPerSeq };
  }

  reference(seqs: number[], positions: number[], q: Float32Array, scale: number): Float64Array {
    const width = this.shape.nHeads * headDimOf(this.shape);
    const out = this.shape.nHeads * this.shape.latentDim;
    const want = new Float64Array(seqs.length * out);
    seqs.forEach((s, t) => want.set(mlaRef(q.subarray(t * width, (t + 1) * width), this.rows[s]!, positions[t]! + 1, this.shape, scale), t * out));
    return want;
  }
}

type Kernel = { kind: 'flash'; splits?: number; other?: boolean } | { kind: 'prefill'; keyTile?: 8 | 16 } | { kind: 'naive' };

let otherLayout: KernelContext | undefined;

/** Runs one attention kernel for tokens (seq, pos) with queries q (nTokens, nHeads * headDim); returns o (nTokens, nHeads * latentDim). */
async function runAttention(f: MlaFixture, kernel: Kernel, seqs: number[], positions: number[], q: Float32Array, scale: number): Promise<{ o: Float32Array; splits?: number }> {
  // The other decode layout: 8 threads a key on a GPU, 2 on a CPU driver (the test devices are CPU drivers).
  const kctx = kernel.kind === 'flash' && kernel.other ? (otherLayout ??= new KernelContext({ ...ctx.gpu, caps: { ...ctx.caps, softwareAdapter: !ctx.caps.softwareAdapter } })) : ctx;
  const shape = f.attentionShape();
  const nTokens = seqs.length;
  const oBytes = nTokens * f.shape.nHeads * f.shape.latentDim * 4;
  const bufs = {
    q: kctx.upload(q, 'q'),
    pool: kctx.upload(f.pool, 'pool'),
    blockTables: kctx.upload(f.blockTable, 'blockTables'),
    tokenSeq: kctx.upload(Uint32Array.from(seqs), 'tokenSeq'),
    tokenPos: kctx.upload(Uint32Array.from(positions), 'tokenPos'),
    o: kctx.storage(oBytes, 'o'),
  };
  const maxContext = Math.max(...positions) + 1;
  let splits: number | undefined;
  kctx.run((pass) => {
    if (kernel.kind === 'prefill') prefillAttention(kctx, pass, shape, bufs, { nTokens, scale, ...(kernel.keyTile ? { keyTile: kernel.keyTile } : {}) });
    else if (kernel.kind === 'naive') naiveAttention(kctx, pass, shape, bufs, { nTokens, maxContext, scale });
    else splits = flashDecodeGqa(kctx, pass, shape, bufs, { nTokens, maxContext, scale, ...(kernel.splits ? { splits: kernel.splits } : {}) }).splits;
  });
  const o = new Float32Array(await kctx.read(bufs.o, oBytes));
  for (const b of Object.values(bufs)) b.destroy();
  return { o, splits };
}

const errors: Record<string, number> = {};
function expectClose(label: string, got: Float32Array, want: Float64Array): void {
  const err = normalizedError(got, want);
  errors[label] = Math.max(errors[label] ?? 0, err);
  expect(err, label).toBeLessThanOrEqual(BOUND);
}

const name = (s: MlaShape, dtype: KvDtype): string => `${s.nHeads} heads, latent ${s.latentDim} + rope ${s.ropeDim}, ${dtype} KV`;
// MLA's scale is not 1 / sqrt(headDim): DeepSeek-V2 scales by 1 / sqrt(qk_nope + qk_rope head dims) (times YaRN's mscale^2).
const scaleOf = (s: MlaShape): number => 1 / Math.sqrt(s.latentDim / 4 + s.ropeDim);

const DEEPSEEK_V2_LITE: MlaShape = { nHeads: 16, latentDim: 512, ropeDim: 64 };

describe('appendKv with latentDim: one row a token, in a block of one kind', () => {
  const cases: [MlaShape, KvDtype][] = [
    [{ nHeads: 4, latentDim: 32, ropeDim: 16 }, 'f32'],
    [{ nHeads: 4, latentDim: 32, ropeDim: 16 }, 'f16'],
    [{ nHeads: 4, latentDim: 64, ropeDim: 32 }, 'q8_0'],
    [{ nHeads: 4, latentDim: 64, ropeDim: 32 }, 'q4_0'],
    [DEEPSEEK_V2_LITE, 'f16'],
    [DEEPSEEK_V2_LITE, 'q8_0'],
    [DEEPSEEK_V2_LITE, 'q4_0'],
  ];
  for (const [shape, dtype] of cases) {
    it(`writes each row where kvElementIndex / quantBlockIndex say, nothing else (${name(shape, dtype)})`, async () => {
      const rand = mulberry32(shape.latentDim + dtype.length);
      const lens = [5, 40, 17];
      const starts = [0, 30, 16]; // sequence 0 whole, 1 and 2 a decode-style tail (and a mid-block start)
      const f = new MlaFixture(shape, dtype, lens, rand, starts);
      const headDim = headDimOf(shape);
      const tokens: [number, number][] = [];
      lens.forEach((len, s) => {
        for (let pos = starts[s]!; pos < len; pos++) tokens.push([s, pos]);
      });
      const k = new Float32Array(tokens.length * headDim);
      const expected = f.pool.slice();
      tokens.forEach(([s, pos], t) => {
        const row = uniformArray(rand, headDim);
        k.set(row, t * headDim);
        f.put(s, pos, row, expected);
      });
      const pool = ctx.upload(f.pool, 'pool');
      const bufs = {
        k: ctx.upload(k, 'k'),
        pool,
        blockTables: ctx.upload(f.blockTable, 'blockTables'),
        tokenSeq: ctx.upload(Uint32Array.from(tokens, ([s]) => s), 'tokenSeq'),
        tokenPos: ctx.upload(Uint32Array.from(tokens, ([, p]) => p), 'tokenPos'),
      };
      ctx.run((pass) => appendKv(ctx, pass, { nKvHeads: 1, headDim, latentDim: shape.latentDim, dtype, maxBlocksPerSeq: f.maxBlocksPerSeq }, bufs, tokens.length));
      const got = new Uint8Array(await ctx.read(pool, f.pool.byteLength));
      let mismatches = 0;
      for (let i = 0; i < expected.length; i++) if (got[i] !== expected[i]) mismatches++;
      expect(mismatches).toBe(0);
      for (const b of Object.values(bufs)) b.destroy();
    });
  }
});

describe('flashDecodeGqa with latentDim: batched decode over contexts 1, 15, 16, 17, 300', () => {
  const lens = [1, 15, 16, 17, 300];
  const cases: [MlaShape, KvDtype][] = [
    [{ nHeads: 16, latentDim: 32, ropeDim: 16 }, 'f32'],
    [{ nHeads: 16, latentDim: 32, ropeDim: 16 }, 'f16'],
    [{ nHeads: 16, latentDim: 64, ropeDim: 32 }, 'f32'],
    [{ nHeads: 16, latentDim: 64, ropeDim: 32 }, 'q8_0'],
    [{ nHeads: 16, latentDim: 64, ropeDim: 32 }, 'q4_0'],
    [{ nHeads: 40, latentDim: 64, ropeDim: 32 }, 'f16'], // MiniCPM3's head count: several head tiles
    [{ nHeads: 128, latentDim: 32, ropeDim: 16 }, 'f32'],
    [DEEPSEEK_V2_LITE, 'f32'],
    [DEEPSEEK_V2_LITE, 'f16'],
    [DEEPSEEK_V2_LITE, 'q8_0'],
  ];
  for (const [shape, dtype] of cases) {
    it(name(shape, dtype), async () => {
      const rand = mulberry32(shape.nHeads * 1000 + shape.latentDim + dtype.length);
      const f = new MlaFixture(shape, dtype, lens, rand);
      // One token per sequence, last position first: batch order is not sequence order.
      const seqs = [4, 0, 3, 1, 2];
      const positions = seqs.map((s) => lens[s]! - 1);
      const q = uniformArray(rand, seqs.length * shape.nHeads * headDimOf(shape), 2);
      const scale = scaleOf(shape);
      const want = f.reference(seqs, positions, q, scale);
      const auto = await runAttention(f, { kind: 'flash' }, seqs, positions, q, scale);
      expect(auto.splits).toBeGreaterThan(1); // 300 keys: split-K and the merge pass
      expectClose(`flash ${dtype}`, auto.o, want);
      expectClose(`flash ${dtype} direct`, (await runAttention(f, { kind: 'flash', splits: 1 }, seqs, positions, q, scale)).o, want);
      expectClose(`flash ${dtype} 5 splits`, (await runAttention(f, { kind: 'flash', splits: 5 }, seqs, positions, q, scale)).o, want);
      expectClose(`flash ${dtype} (other layout)`, (await runAttention(f, { kind: 'flash', other: true }, seqs, positions, q, scale)).o, want);
    });
  }

  it(`${name(DEEPSEEK_V2_LITE, 'f16')}: a 2100-token context with several splits`, async () => {
    const rand = mulberry32(2100);
    const f = new MlaFixture(DEEPSEEK_V2_LITE, 'f16', [2100, 40], rand);
    const seqs = [0, 1];
    const positions = [2099, 39];
    const q = uniformArray(rand, seqs.length * DEEPSEEK_V2_LITE.nHeads * headDimOf(DEEPSEEK_V2_LITE), 2);
    const scale = scaleOf(DEEPSEEK_V2_LITE);
    const want = f.reference(seqs, positions, q, scale);
    const auto = await runAttention(f, { kind: 'flash' }, seqs, positions, q, scale);
    expect(auto.splits).toBeGreaterThanOrEqual(8);
    expectClose('flash f16', auto.o, want);
    expectClose('flash f16 5 splits', (await runAttention(f, { kind: 'flash', splits: 5 }, seqs, positions, q, scale)).o, want);
  });
});

describe('prefillAttention with latentDim: prompt chunks of 1, 5, 16, 37 tokens at position 0 and after 21 cached tokens', () => {
  const chunks = [1, 5, 16, 37];
  const starts = [0, 21];
  const cases: [MlaShape, KvDtype, (8 | 16)?][] = [
    [{ nHeads: 16, latentDim: 32, ropeDim: 16 }, 'f32'],
    [{ nHeads: 16, latentDim: 32, ropeDim: 16 }, 'f16', 8],
    [{ nHeads: 40, latentDim: 64, ropeDim: 32 }, 'q8_0'],
    [DEEPSEEK_V2_LITE, 'f16'],
    [DEEPSEEK_V2_LITE, 'q8_0'],
  ];
  for (const [shape, dtype, keyTile] of cases) {
    it(`${name(shape, dtype)}${keyTile ? `, key tile ${keyTile}` : ''}`, async () => {
      const rand = mulberry32(shape.nHeads * 31 + shape.latentDim + dtype.length);
      const runs = starts.flatMap((start) => chunks.map((n) => ({ start, n })));
      const f = new MlaFixture(shape, dtype, runs.map(({ start, n }) => start + n), rand);
      const scale = scaleOf(shape);
      for (const [s, { start, n }] of runs.entries()) {
        const seqs = new Array<number>(n).fill(s);
        const positions = Array.from({ length: n }, (_, i) => start + i);
        const q = uniformArray(rand, n * shape.nHeads * headDimOf(shape), 2);
        const got = await runAttention(f, { kind: 'prefill', ...(keyTile ? { keyTile } : {}) }, seqs, positions, q, scale);
        expectClose(`prefill ${dtype}`, got.o, f.reference(seqs, positions, q, scale));
      }
    });
  }

  it('is correct for tokens of several sequences, in any order, in one call', async () => {
    const shape = { nHeads: 16, latentDim: 32, ropeDim: 16 };
    const rand = mulberry32(99);
    const f = new MlaFixture(shape, 'f16', [20, 50, 3], rand);
    const seqs = [1, 1, 0, 2, 1, 0, 0, 2, 1, 1, 1, 0, 2];
    const positions = [49, 10, 19, 2, 30, 0, 5, 0, 31, 32, 33, 18, 1];
    const q = uniformArray(rand, seqs.length * shape.nHeads * headDimOf(shape), 2);
    const scale = scaleOf(shape);
    expectClose('prefill f16', (await runAttention(f, { kind: 'prefill' }, seqs, positions, q, scale)).o, f.reference(seqs, positions, q, scale));
  });

  it('sees the chunk appendKv wrote in the same pass (DeepSeek-V2-Lite, f32)', async () => {
    const shape = DEEPSEEK_V2_LITE;
    const headDim = headDimOf(shape);
    const rand = mulberry32(5);
    const start = 19;
    const n = 23;
    const f = new MlaFixture(shape, 'f32', [start + n], rand, [start]);
    const k = uniformArray(rand, n * headDim);
    for (let i = 0; i < n; i++) f.rows[0]!.set(k.subarray(i * headDim, (i + 1) * headDim), (start + i) * headDim);
    const attention = f.attentionShape();
    const positions = Array.from({ length: n }, (_, i) => start + i);
    const q = uniformArray(rand, n * shape.nHeads * headDim, 2);
    const scale = scaleOf(shape);
    const oBytes = n * shape.nHeads * shape.latentDim * 4;
    const bufs = {
      q: ctx.upload(q, 'q'),
      k: ctx.upload(k, 'k'),
      pool: ctx.upload(f.pool, 'pool'),
      blockTables: ctx.upload(f.blockTable, 'blockTables'),
      tokenSeq: ctx.upload(new Uint32Array(n), 'tokenSeq'),
      tokenPos: ctx.upload(Uint32Array.from(positions), 'tokenPos'),
      o: ctx.storage(oBytes, 'o'),
    };
    ctx.run((pass) => {
      appendKv(ctx, pass, attention, bufs, n);
      prefillAttention(ctx, pass, attention, bufs, { nTokens: n, scale });
    });
    const got = new Float32Array(await ctx.read(bufs.o, oBytes));
    expectClose('prefill f32 after append', got, f.reference(new Array<number>(n).fill(0), positions, q, scale));
    for (const b of Object.values(bufs)) b.destroy();
  });
});

describe('naiveAttention with latentDim', () => {
  for (const [shape, dtype] of [
    [{ nHeads: 16, latentDim: 32, ropeDim: 16 }, 'f16'],
    [DEEPSEEK_V2_LITE, 'q8_0'],
  ] as [MlaShape, KvDtype][]) {
    it(name(shape, dtype), async () => {
      const rand = mulberry32(shape.latentDim * 3);
      const lens = [1, 17, 300];
      const f = new MlaFixture(shape, dtype, lens, rand);
      const seqs = [2, 0, 1];
      const positions = seqs.map((s) => lens[s]! - 1);
      const q = uniformArray(rand, seqs.length * shape.nHeads * headDimOf(shape), 2);
      const scale = scaleOf(shape);
      expectClose(`naive ${dtype}`, (await runAttention(f, { kind: 'naive' }, seqs, positions, q, scale)).o, f.reference(seqs, positions, q, scale));
    });
  }
});

describe('MLA shapes: bad input gets a clear error', () => {
  it('names what is wrong', () => {
    const shape: PagedAttentionShape = { nHeads: 16, nKvHeads: 1, headDim: 48, latentDim: 32, dtype: 'f32', maxBlocksPerSeq: 2 };
    const buf = (bytes: number): GPUBuffer => ctx.storage(bytes, 'errors');
    const bufs = { q: buf(16 * 48 * 4), pool: buf(4096), blockTables: buf(16), tokenSeq: buf(4), tokenPos: buf(4), o: buf(16 * 32 * 4) };
    ctx.run((pass) => {
      expect(() => flashDecodeGqa(ctx, pass, shape, bufs, { nTokens: 1, maxContext: 8 })).toThrow(/MLA shape \(latentDim\) needs an explicit scale/);
      expect(() => prefillAttention(ctx, pass, { ...shape, nKvHeads: 2, nHeads: 16 }, bufs, { nTokens: 1, scale: 0.1 })).toThrow(/one KV head/);
      expect(() => prefillAttention(ctx, pass, { ...shape, latentDim: 52 }, bufs, { nTokens: 1, scale: 0.1 })).toThrow(/latentDim 52/);
      expect(() => appendKv(ctx, pass, { ...shape, latentDim: undefined }, { k: bufs.q, pool: bufs.pool, blockTables: bufs.blockTables, tokenSeq: bufs.tokenSeq, tokenPos: bufs.tokenPos }, 1)).toThrow(/v is required/);
      expect(() => flashDecodeGqa(ctx, pass, shape, { ...bufs, o: buf(16 * 16 * 4) }, { nTokens: 1, maxContext: 8, scale: 0.1 })).toThrow(/o holds 1024 bytes, 2048 needed/);
    });
  });

  it('reports the measured errors', () => {
    console.log('MLA attention normalized errors (bound 1e-5):', errors);
  });
});
