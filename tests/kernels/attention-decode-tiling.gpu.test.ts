// The flash-decode tilings the tuner may choose (threads per key, heads per workgroup, one or two blocks a barrier
// phase; every value of each, all combinations with KVCHAT_EVERY_TILING=1) against a double-precision CPU attention:
// f32 and f16 KV, GQA groups 1, 4 and 8, head dims 64 and 128, batched tokens whose contexts span several blocks and
// splits, over shuffled physical blocks whose unwritten slots are NaN. Then the paths a tiling must keep: sliding
// window, soft-capping, sinks, MLA. Run on both drivers (SwiftShader; lavapipe with
// VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json).
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeTilingCandidates, decodeTilingKey, defaultDecodeTiling, type DecodeTiling } from '../../src/gpu/kernels/attention-decode';
import { decodeDims, flashDecodeGqa, useDecodeTiling, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import { KernelContext } from '../../src/gpu/kernels/context';
import { blockElements, KV_BLOCK_TOKENS, kvElementIndex, valueDim, type KvDtype } from '../../src/gpu/kv/layout';
import { f32ToF16Bits, normalizedError, roundToHalf } from '../helpers/attention-ref';
import { offeredTilings, testedTilings } from '../helpers/decode-tiling';
import { testDevice } from '../helpers/gpu';
import { signedUniform } from '../helpers/numeric';

const BOUND = 1e-5; // max |gpu - cpu| / max |cpu|, as in attention.gpu.test.ts

let ctx: KernelContext;
beforeAll(async () => {
  ctx = new KernelContext(await testDevice());
});

interface Shape {
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly latentDim?: number;
}

interface Extras {
  readonly window?: number;
  readonly softcap?: number;
  readonly sinks?: Float32Array; // (nHeads)
  readonly scale?: number;
}

/** Sequences of K/V rows (len, nKvHeads * headDim) as stored, in a pool of shuffled blocks, unwritten slots NaN. */
class Fixture {
  readonly keys: Float32Array[] = [];
  readonly values: Float32Array[] = []; // under MLA the keys themselves (the value is a row's first latentDim)
  readonly maxBlocksPerSeq: number;
  readonly table: Uint32Array; // (nSeqs, maxBlocksPerSeq)
  readonly pool: Float32Array | Uint16Array;

  constructor(
    readonly shape: Shape & { readonly dtype: KvDtype },
    readonly lens: readonly number[],
    seed: number,
  ) {
    const next = signedUniform(seed);
    const row = shape.nKvHeads * shape.headDim;
    const store = shape.dtype === 'f16' ? roundToHalf : Math.fround;
    const mla = shape.latentDim !== undefined;
    for (const len of lens) {
      const k = Float32Array.from({ length: len * row }, () => store(next()));
      this.keys.push(k);
      this.values.push(mla ? k : Float32Array.from({ length: len * row }, () => store(next())));
    }
    const blocksOf = lens.map((len) => Math.ceil(len / KV_BLOCK_TOKENS));
    this.maxBlocksPerSeq = Math.max(...blocksOf) + 1;
    const total = blocksOf.reduce((a, b) => a + b, 0) + 2;
    const ids = Array.from({ length: total }, (_, i) => i).sort(() => next());
    this.table = new Uint32Array(lens.length * this.maxBlocksPerSeq).fill(0xffffffff);
    let used = 0;
    blocksOf.forEach((n, s) => {
      for (let b = 0; b < n; b++) this.table[s * this.maxBlocksPerSeq + b] = ids[used++]!;
    });
    const elements = total * blockElements(shape);
    this.pool = shape.dtype === 'f16' ? new Uint16Array(elements).fill(0x7e00) : new Float32Array(elements).fill(NaN);
    lens.forEach((len, s) => {
      for (let pos = 0; pos < len; pos++) {
        const block = this.table[s * this.maxBlocksPerSeq + Math.floor(pos / KV_BLOCK_TOKENS)]!;
        for (const kind of mla ? ([0] as const) : ([0, 1] as const)) {
          for (let i = 0; i < row; i++) {
            const x = (kind === 0 ? this.keys : this.values)[s]![pos * row + i]!;
            const at = kvElementIndex(shape, block, kind, Math.floor(i / shape.headDim), pos % KV_BLOCK_TOKENS, i % shape.headDim);
            this.pool[at] = shape.dtype === 'f16' ? f32ToF16Bits(x) : x;
          }
        }
      }
    });
  }

  attentionShape(): PagedAttentionShape {
    return { ...this.shape, maxBlocksPerSeq: this.maxBlocksPerSeq };
  }

  /** Attention of one token (seq s, pos) with query q (nHeads * headDim), f64: (nHeads * valueDim). */
  reference(q: Float32Array, s: number, pos: number, x: Extras): Float64Array {
    const { nHeads, nKvHeads, headDim } = this.shape;
    const vd = valueDim(this.shape);
    const row = nKvHeads * headDim;
    const scale = x.scale ?? 1 / Math.sqrt(headDim);
    const first = x.window ? Math.max(0, pos + 1 - x.window) : 0;
    const out = new Float64Array(nHeads * vd);
    const w = new Float64Array(pos + 1);
    for (let h = 0; h < nHeads; h++) {
      const kv = Math.floor(h / (nHeads / nKvHeads)) * headDim;
      let max = x.sinks ? x.sinks[h]! : -Infinity;
      for (let j = first; j <= pos; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[h * headDim + d]! * this.keys[s]![j * row + kv + d]!;
        w[j] = x.softcap ? x.softcap * Math.tanh((dot * scale) / x.softcap) : dot * scale;
        max = Math.max(max, w[j]!);
      }
      let sum = x.sinks ? Math.exp(x.sinks[h]! - max) : 0;
      for (let j = first; j <= pos; j++) sum += w[j] = Math.exp(w[j]! - max);
      for (let d = 0; d < vd; d++) {
        let acc = 0;
        for (let j = first; j <= pos; j++) acc += w[j]! * this.values[s]![j * row + kv + d]!;
        out[h * vd + d] = acc / sum;
      }
    }
    return out;
  }
}

/** Decodes one token per sequence (last position, reversed batch order) with `tiling`; returns o and the split count. */
async function decode(f: Fixture, tiling: DecodeTiling | undefined, splits: number | undefined, x: Extras = {}, kctx = ctx): Promise<{ o: Float32Array; want: Float64Array; splits: number }> {
  const { nHeads, headDim } = f.shape;
  const seqs = f.lens.map((_, s) => s).reverse();
  const positions = seqs.map((s) => f.lens[s]! - 1);
  const next = signedUniform(seqs.length * 31 + headDim);
  const q = Float32Array.from({ length: seqs.length * nHeads * headDim }, () => 2 * next());
  const width = nHeads * valueDim(f.shape);
  const want = new Float64Array(seqs.length * width);
  seqs.forEach((s, t) => want.set(f.reference(q.subarray(t * nHeads * headDim, (t + 1) * nHeads * headDim), s, positions[t]!, x), t * width));
  const bufs = {
    q: kctx.upload(q, 'q'),
    pool: kctx.upload(f.pool, 'pool'),
    blockTables: kctx.upload(f.table, 'blockTables'),
    tokenSeq: kctx.upload(Uint32Array.from(seqs), 'tokenSeq'),
    tokenPos: kctx.upload(Uint32Array.from(positions), 'tokenPos'),
    o: kctx.storage(want.length * 4, 'o'),
    ...(x.sinks ? { sinks: kctx.upload(x.sinks, 'sinks') } : {}),
  };
  let used = 0;
  const opts = {
    nTokens: seqs.length,
    maxContext: Math.max(...positions) + 1,
    ...(splits !== undefined ? { splits } : {}),
    ...(tiling ? { tiling } : {}),
    ...(x.window ? { window: x.window } : {}),
    ...(x.softcap ? { softcap: x.softcap } : {}),
    ...(x.scale ? { scale: x.scale } : {}),
    ...(bufs.sinks ? { sinks: bufs.sinks } : {}),
  };
  kctx.run((pass) => (used = flashDecodeGqa(kctx, pass, f.attentionShape(), bufs, opts).splits));
  const o = new Float32Array(await kctx.read(bufs.o, want.length * 4));
  kctx.checkErrors();
  for (const b of Object.values(bufs)) b.destroy();
  return { o, want, splits: used };
}

const candidatesFor = (shape: PagedAttentionShape): DecodeTiling[] => offeredTilings(ctx, shape);
const errors: Record<string, number> = {};

function expectExact(label: string, r: { o: Float32Array; want: Float64Array }): void {
  const err = normalizedError(r.o, r.want);
  errors[label] = Math.max(errors[label] ?? 0, err);
  expect(err, label).toBeLessThanOrEqual(BOUND);
}

describe('decode tiling candidates', () => {
  it('start with the fixed rule, fit the device, and offer two blocks a phase', () => {
    const dims = { headDim: 128, valueWidth: 128, group: 4, mla: false };
    const limits = { software: false, maxShared: 16384, maxInvocations: 256 };
    const all = decodeTilingCandidates(dims, limits);
    expect(all[0]).toEqual(defaultDecodeTiling(dims, false, 16384));
    expect(all[0]).toEqual({ lanes: 8, headTile: 4, keysPerPhase: 16 });
    expect(all.some((t) => t.keysPerPhase === 32)).toBe(true);
    expect(all.every((t) => 16 * t.lanes <= 256)).toBe(true); // 32 lanes of head dim 128 would be 512 invocations
    expect(new Set(all.map(decodeTilingKey)).size).toBe(all.length);
    // A small workgroup memory drops the tilings that do not fit it.
    const small = decodeTilingCandidates(dims, { ...limits, maxShared: 4096 });
    expect(small.length).toBeGreaterThan(0);
    expect(small.length).toBeLessThan(all.length);
  });
});

describe('the offered tilings are exact: contexts 1, 17, 300, 700 in one batch', () => {
  const shapes: Shape[] = [
    { nHeads: 4, nKvHeads: 4, headDim: 64 }, // group 1
    { nHeads: 8, nKvHeads: 2, headDim: 128 }, // group 4
    { nHeads: 16, nKvHeads: 2, headDim: 64 }, // group 8
    { nHeads: 8, nKvHeads: 1, headDim: 128 }, // group 8
  ];
  for (const shape of shapes) {
    for (const dtype of ['f32', 'f16'] as const) {
      it(`${shape.nHeads}/${shape.nKvHeads} heads x ${shape.headDim}, ${dtype} KV`, async () => {
        const f = new Fixture({ ...shape, dtype }, [1, 17, 300, 700], shape.nHeads * 7 + shape.headDim + (dtype === 'f16' ? 1 : 0));
        const offered = candidatesFor(f.attentionShape());
        expect(offered.length).toBeGreaterThan(4);
        for (const tiling of testedTilings(offered)) {
          // 3 splits of 700 keys (44 blocks): 15 blocks each, so a two-block phase ends a split half full.
          const split3 = await decode(f, tiling, 3);
          expect(split3.splits).toBe(3);
          expectExact(`${decodeTilingKey(tiling)} ${dtype}`, split3);
          expectExact(`${decodeTilingKey(tiling)} ${dtype}`, await decode(f, tiling, 1));
        }
      }, 900_000); // lavapipe compiles each of up to 40 pipelines in several seconds
    }
  }
});

describe('the paths a tiling keeps', () => {
  const twoBlocks = (shape: PagedAttentionShape): DecodeTiling[] => {
    const all = candidatesFor(shape);
    const fixed = all[0]!;
    return [fixed, ...all.filter((t) => t.keysPerPhase === 32 && t.lanes !== fixed.lanes).slice(0, 1), ...all.filter((t) => t.keysPerPhase === 32 && t.headTile !== fixed.headTile).slice(0, 1)];
  };

  for (const dtype of ['f32', 'f16'] as const) {
    it(`sliding window 40 and soft-capping, 1 and 4 splits (${dtype})`, async () => {
      const f = new Fixture({ nHeads: 8, nKvHeads: 2, headDim: 64, dtype }, [23, 150, 333], 11);
      for (const tiling of twoBlocks(f.attentionShape())) {
        for (const splits of [1, 4]) {
          expectExact(`window ${decodeTilingKey(tiling)}`, await decode(f, tiling, splits, { window: 40 }));
          expectExact(`softcap ${decodeTilingKey(tiling)}`, await decode(f, tiling, splits, { softcap: 2, scale: 0.5 }));
        }
      }
    }, 300_000);

    it(`attention sinks, 1 and 3 splits (${dtype})`, async () => {
      const f = new Fixture({ nHeads: 8, nKvHeads: 2, headDim: 64, dtype }, [5, 260], 12);
      const next = signedUniform(3);
      const sinks = Float32Array.from({ length: 8 }, () => 3 * next());
      for (const tiling of twoBlocks(f.attentionShape())) {
        for (const splits of [1, 3]) expectExact(`sinks ${decodeTilingKey(tiling)}`, await decode(f, tiling, splits, { sinks }));
      }
    }, 300_000);
  }

  it('MLA latent rows (64 + 32), 16 heads, f16: the fixed rule and two-block tilings', async () => {
    const f = new Fixture({ nHeads: 16, nKvHeads: 1, headDim: 96, latentDim: 64, dtype: 'f16' }, [40, 290], 13);
    for (const tiling of twoBlocks(f.attentionShape())) {
      for (const splits of [1, 3]) expectExact(`mla ${decodeTilingKey(tiling)}`, await decode(f, tiling, splits, { scale: 0.1 }));
    }
  }, 300_000);

  it('an applied tiling is used where it fits the shape and ignored where it does not; a given one that does not fit throws', async () => {
    const f = new Fixture({ nHeads: 8, nKvHeads: 2, headDim: 64, dtype: 'f32' }, [100], 14);
    const tiled = new KernelContext(ctx.gpu);
    const tiling: DecodeTiling = { lanes: 4, headTile: 2, keysPerPhase: 32 };
    useDecodeTiling(tiled, tiling);
    const r = await decode(f, undefined, 2, {}, tiled);
    expectExact('applied', r);
    const plan = (c: KernelContext, shape: PagedAttentionShape, given?: DecodeTiling): DecodeTiling => {
      const bufs = { q: c.storage(4096, 'q'), pool: c.storage(1 << 16, 'pool'), blockTables: c.storage(256, 'bt'), tokenSeq: c.storage(4, 's'), tokenPos: c.storage(4, 'p'), o: c.storage(4096, 'o') };
      let used: DecodeTiling | undefined;
      c.run((pass) => (used = flashDecodeGqa(c, pass, shape, bufs, { nTokens: 1, maxContext: 16, ...(given ? { tiling: given } : {}) }).tiling));
      return used!;
    };
    expect(plan(tiled, f.attentionShape())).toEqual(tiling);
    // Head dim 8 has 2 vec4s a row: 4 lanes do not fit it, so that layer keeps the fixed rule.
    const narrow = { nHeads: 2, nKvHeads: 1, headDim: 8, dtype: 'f32', maxBlocksPerSeq: 1 } as const;
    expect(plan(tiled, narrow)).toEqual(defaultDecodeTiling(decodeDims(narrow), ctx.caps.softwareAdapter, ctx.caps.maxComputeWorkgroupStorageSize));
    expect(() => plan(ctx, narrow, tiling)).toThrow(/tiling .* does not fit: lanes 4/);
    expect(() => useDecodeTiling(tiled, { lanes: 2, headTile: 1, keysPerPhase: 24 as 16 })).toThrow(/not a decode tiling/);
    useDecodeTiling(tiled, undefined);
    expect(plan(tiled, f.attentionShape())).toEqual(defaultDecodeTiling(decodeDims(f.attentionShape()), ctx.caps.softwareAdapter, ctx.caps.maxComputeWorkgroupStorageSize));
    tiled.checkErrors();
  });

  it('reports the measured errors', () => {
    console.log('decode tiling normalized errors (bound 1e-5):', errors);
  });
});
