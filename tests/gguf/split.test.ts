// Split models (llama.cpp's gguf-split): one GgufFile over every part, equal to the whole file tensor for tensor;
// inconsistent or missing parts refused with a GgufError that names the part.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../src/gpu/gguf/errors';
import { bufferSource, GgufFile, type ByteSource } from '../../src/gpu/gguf/reader';
import { openGgufModel, splitPartPathOf, splitPartUrl, type SplitPartLocator } from '../../src/gpu/gguf/split';
import { splitGgufBytes } from '../helpers/split-gguf';
import { sharedModel } from '../helpers/temp';
import { v, writeGguf } from './writer';
import { GgmlType } from '../../src/gpu/gguf/types';

const whole = new Uint8Array(readFileSync(sharedModel('stories260K.gguf')));

/** Parts held in memory; `opened` records which were asked for. */
function memoryParts(parts: readonly Uint8Array[]): SplitPartLocator & { opened: number[] } {
  const opened: number[] = [];
  return {
    opened,
    name: (i, n) => `m-${String(i).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.gguf`,
    open: async (i): Promise<ByteSource> => {
      opened.push(i);
      const p = parts[i - 1];
      if (!p) throw new Error('ENOENT: no such file');
      return bufferSource(p);
    },
  };
}

const open = (parts: readonly Uint8Array[]) => openGgufModel(bufferSource(parts[0]!), memoryParts(parts));

const splitMeta = (no: number, count: number, tensors: number) =>
  [['split.no', v.u16(no)], ['split.count', v.u16(count)], ['split.tensors.count', v.i32(tensors)]] as const;

async function expectGgufError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(GgufError);
  expect((e as GgufError).code).toBe(code);
  expect((e as GgufError).message).toMatch(message);
}

describe('openGgufModel', () => {
  it('reads a model split into 3 parts exactly as the whole file: metadata, tensor infos and every byte', async () => {
    const parts = splitGgufBytes(whole, 3);
    expect(parts).toHaveLength(3);
    const single = GgufFile.fromBytes(whole);
    const split = await open(parts);
    expect(split.parts).toHaveLength(3);
    expect(split.parts.map((p) => p.header.tensors.length).reduce((a, b) => a + b)).toBe(single.header.tensors.length);
    for (const [key, value] of single.metadata) expect(split.metadata.get(key)).toEqual(value);
    expect(split.metadata.get('split.count')).toBe(3);
    expect(split.header.tensors.map((t) => t.name)).toEqual(single.header.tensors.map((t) => t.name));
    for (const t of single.header.tensors) {
      const s = split.requireTensor(t.name);
      expect([s.dims, s.type, s.byteSize]).toEqual([t.dims, t.type, t.byteSize]);
      expect(await split.tensorBytes(s)).toEqual(await single.tensorBytes(t));
    }
  });

  it('opens a file without split keys as itself, never asking for other parts', async () => {
    const locator = memoryParts([whole]);
    const f = await openGgufModel(bufferSource(whole), locator);
    expect(f.parts).toHaveLength(1);
    expect(locator.opened).toEqual([]);
  });

  it('names a missing part', async () => {
    const parts = splitGgufBytes(whole, 3);
    await expectGgufError(open([parts[0]!, parts[1]!]), 'missing-part', /part 3 of 3 .*m-00003-of-00003\.gguf.*ENOENT/);
  });

  it('refuses parts out of order, a later part given as the first, and a part of another split', async () => {
    const [a, b, c] = splitGgufBytes(whole, 3) as [Uint8Array, Uint8Array, Uint8Array];
    await expectGgufError(open([a, c, b]), 'missing-part', /m-00002-of-00003\.gguf should be part 2 of 3 .* says it is part 3 of 3/);
    await expectGgufError(open([b, a, c]), 'missing-part', /should be part 1 of 3 .* says it is part 2 of 3/);
    const [, other] = splitGgufBytes(whole, 2) as [Uint8Array, Uint8Array];
    await expectGgufError(open([a, other, c]), 'missing-part', /says it is part 2 of 2/);
    const plain = writeGguf({ metadata: [['general.architecture', v.str('llama')]] });
    await expectGgufError(open([a, plain, c]), 'missing-part', /has no split keys/);
  });

  it('refuses a tensor in two parts and a wrong split.tensors.count', async () => {
    const t = (name: string) => ({ name, dims: [32], type: GgmlType.F32 });
    const dup = [
      writeGguf({ metadata: splitMeta(0, 2, 2), tensors: [t('a'), t('b')] }),
      writeGguf({ metadata: splitMeta(1, 2, 2), tensors: [t('b')] }),
    ];
    await expectGgufError(open(dup), 'corrupt', /tensor b is in both m-00001-of-00002\.gguf and m-00002-of-00002\.gguf/);
    const miscount = [
      writeGguf({ metadata: splitMeta(0, 2, 5), tensors: [t('a')] }),
      writeGguf({ metadata: splitMeta(1, 2, 5), tensors: [t('b')] }),
    ];
    await expectGgufError(open(miscount), 'corrupt', /has 5 tensors .* hold 2/);
  });

  it('refuses an impossible split.count before opening anything, and a corrupt part by its name', async () => {
    const locator = memoryParts([]);
    const huge = writeGguf({ metadata: [['split.no', v.u16(0)], ['split.count', v.u32(1_000_000)]] });
    await expectGgufError(openGgufModel(bufferSource(huge), locator), 'corrupt', /split\.count is 1000000/);
    expect(locator.opened).toEqual([]);
    const [a, b] = splitGgufBytes(whole, 2) as [Uint8Array, Uint8Array];
    await expectGgufError(open([a, b.subarray(0, b.byteLength - 64)]), 'out-of-bounds', /m-00002-of-00002\.gguf \(part 2 of 2\): tensor .* past the end/);
  });
});

describe('part names', () => {
  it('derives sibling paths and URLs as gguf-split names them', () => {
    expect(splitPartPathOf('/m/Qwen-Q4_K_M-00001-of-00003.gguf', 3, 3)).toBe('/m/Qwen-Q4_K_M-00003-of-00003.gguf');
    expect(splitPartPathOf('/m/model.gguf', 2, 3)).toBeNull();
    expect(splitPartPathOf('/m/x-00001-of-00002.gguf', 2, 3)).toBeNull();
    expect(splitPartUrl('http://h/r/x-00001-of-00002.gguf', 2, 2)).toBe('http://h/r/x-00002-of-00002.gguf');
    expect(splitPartUrl('kvchat-model://abc', 2, 3)).toBe('kvchat-model://abc?part=2');
    expect(splitPartUrl('http://localhost:1/models/abc', 3, 3)).toBe('http://localhost:1/models/abc?part=3');
  });
});
