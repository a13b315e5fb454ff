// The attention pipelines without a device: each cache key holds every define its pipeline is compiled with, and
// every variant of every attention-*.wgsl file preprocesses to plain WGSL.
import { describe, expect, it } from 'vitest';
import { ATTENTION_FILES, decodeVariant, mergeVariant, naiveVariant, prefillVariant, type AttentionVariant, type PagedAttentionShape } from '../../src/gpu/kernels/attention';
import { keyString, preprocess, variantKey, type DefineValue } from '../../src/gpu/kernels/shader';

const SHAPES: PagedAttentionShape[] = (['f32', 'f16'] as const).flatMap((dtype) =>
  [4, 64, 80, 128, 256].flatMap((headDim) => [1, 4, 9].map((group) => ({ nKvHeads: 2, nHeads: 2 * group, headDim, dtype, maxBlocksPerSeq: 8 }))),
);

function variants(shape: PagedAttentionShape): AttentionVariant[] {
  return [
    decodeVariant(shape, false),
    decodeVariant(shape, true),
    mergeVariant(shape.headDim),
    prefillVariant(shape, 8),
    prefillVariant(shape, 16),
    decodeVariant(shape, false, true), // gpt-oss's attention sinks
    // A tuned tiling: two blocks a barrier phase, one head a workgroup.
    decodeVariant(shape, false, true, 16384, { lanes: Math.max(1, Math.ceil(shape.headDim / 64)), headTile: 1, keysPerPhase: 32 }),
    mergeVariant(shape.headDim, true),
    prefillVariant(shape, 16, true),
    naiveVariant(shape, 'naive_scores'),
    naiveVariant(shape, 'naive_softmax'),
    naiveVariant(shape, 'naive_sum'),
  ];
}

const ALL = SHAPES.flatMap(variants);
const keyOf = (v: AttentionVariant): string => keyString(variantKey(v.file, v.defines));

function changed(value: DefineValue): DefineValue {
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'number') return value + 1;
  return `${value}0`;
}

describe('attention pipeline keys', () => {
  it('change when any one define changes', () => {
    for (const v of ALL) {
      const key = keyOf(v);
      for (const name of Object.keys(v.defines)) {
        const other = { ...v.defines, [name]: changed(v.defines[name]!) };
        expect(keyString(variantKey(v.file, other)), `${v.file.name} ${name}`).not.toBe(key);
      }
      expect(keyString(variantKey(v.file, { ...v.defines, EXTRA: true }))).not.toBe(key);
    }
  });

  it('tell define types and files apart, and ignore define order', () => {
    const file = ATTENTION_FILES.merge;
    const keys = [{ D4: 1 }, { D4: '1' }, { D4: true }, { D4: '1u' }].map((d) => keyString(variantKey(file, d)));
    expect(new Set(keys).size).toBe(4);
    expect(keyString(variantKey(ATTENTION_FILES.decode, { D4: '1u' }))).not.toBe(keys[3]);
    expect(keyString(variantKey(file, { A: 1, B: 2 }))).toBe(keyString(variantKey(file, { B: 2, A: 1 })));
  });

  it('never share a key between pipelines whose WGSL differs', () => {
    const codeByKey = new Map<string, string>();
    for (const v of ALL) {
      const code = preprocess(v.file.code, v.defines, v.file.library);
      const seen = codeByKey.get(keyOf(v));
      if (seen !== undefined) expect(code).toBe(seen);
      codeByKey.set(keyOf(v), code);
    }
  });
});

describe('attention WGSL files', () => {
  it('preprocess to one entry point with no directive left, for every variant', () => {
    for (const v of ALL) {
      const code = preprocess(v.file.code, v.defines, v.file.library);
      expect(code.split('\n').filter((line) => /^\s*#/.test(line)), v.file.name).toEqual([]);
      expect(code.match(/\bfn main\(/g), v.file.name).toHaveLength(1);
      const readsPool = v.file !== ATTENTION_FILES.merge && v.defines.VARIANT !== 'naive_softmax';
      expect(code.includes('fn kv4('), v.file.name).toBe(readsPool);
    }
  });

  it('are all in use', () => {
    const used = new Set(ALL.map((v) => v.file.name));
    expect([...used].sort()).toEqual(Object.values(ATTENTION_FILES).map((f) => f.name).sort());
  });
});
