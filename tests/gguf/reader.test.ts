// GGUF reader and model description: the shared files, writer round trips, the prefix-growing async reader,
// every typed error, and readModelConfig over real and crafted Llama-family models.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GgufError, type GgufErrorCode } from '../../src/gpu/gguf/errors';
import { bufferSource, GgufFile, parseGguf, readGgufHeader, type ByteSource } from '../../src/gpu/gguf/reader';
import { GgmlType, type GgufHeader } from '../../src/gpu/gguf/types';
import { parameterCount, readModelConfig, SUPPORTED_ARCHITECTURES, type ModelConfig } from '../../src/gpu/model/config';
import { modelPath } from '../helpers/shared';
import { buildGguf, craftModel, GgufValueType as VT, v, walkGguf, writeGguf, type GgufSpec, type MetaValue, type TensorSpec } from './writer';

const readModel = (name: string): Uint8Array => new Uint8Array(readFileSync(modelPath(name)));

/** Runs `fn` and returns the GgufError it throws, failing if it returns or throws anything else. */
function gguferr(fn: () => unknown, code: GgufErrorCode, ...inMessage: (string | RegExp)[]): GgufError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a GgufError').toBeInstanceOf(GgufError);
  const err = thrown as GgufError;
  expect(err.code, err.message).toBe(code);
  for (const m of inMessage) expect(err.message).toMatch(typeof m === 'string' ? new RegExp(escape(m)) : m);
  return err;
}

async function gguferrAsync(p: Promise<unknown>, code: GgufErrorCode, ...inMessage: string[]): Promise<GgufError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a GgufError').toBeInstanceOf(GgufError);
  expect((err as GgufError).code, (err as GgufError).message).toBe(code);
  for (const m of inMessage) expect((err as GgufError).message).toContain(m);
  return err as GgufError;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Checks the structural invariants every parsed header must satisfy. */
function checkLayout(h: GgufHeader, fileSize: number): void {
  expect(h.dataOffset % h.alignment).toBe(0);
  const sorted = [...h.tensors].sort((a, b) => a.offset - b.offset);
  let prevEnd = 0;
  for (const t of sorted) {
    expect(t.offset % h.alignment, t.name).toBe(0);
    expect(t.offset, `${t.name} overlaps the previous tensor`).toBeGreaterThanOrEqual(prevEnd);
    expect(h.dataOffset + t.offset + t.byteSize, t.name).toBeLessThanOrEqual(fileSize);
    expect(t.elementCount).toBe(t.dims.reduce((a, d) => a * d, 1));
    prevEnd = t.offset + t.byteSize;
  }
}

// ---------------------------------------------------------------------------------------------------------------
describe('shared GGUF files', () => {
  const MODELS = [
    { file: 'stories260K.gguf', tensors: 48, kv: 19 },
    { file: 'stories260K-Q8_0.gguf', tensors: 48, kv: 21 },
    { file: 'TinyStories-656K.gguf', tensors: 20, kv: 25 },
    { file: 'TinyStories-656K-Q4_0.gguf', tensors: 20, kv: 26 },
    { file: 'quant-testvectors.gguf', tensors: 58, kv: 5 },
    { file: 'vocab/ggml-vocab-llama-spm.gguf', tensors: 0, kv: 22 },
    { file: 'vocab/ggml-vocab-gpt-2.gguf', tensors: 0, kv: 16 },
  ];

  for (const { file, tensors, kv } of MODELS) {
    it(`${file}: v3, ${tensors} tensors, ${kv} metadata entries, aligned, every tensor inside the file`, () => {
      const bytes = readModel(file);
      const h = parseGguf(bytes);
      expect(h.version).toBe(3);
      expect(h.tensors.length).toBe(tensors);
      expect(h.metadata.size).toBe(kv);
      expect(h.alignment).toBe(32);
      expect(h.dataOffset).toBeGreaterThanOrEqual(walkGguf(bytes).headerEnd);
      expect(h.dataOffset - walkGguf(bytes).headerEnd).toBeLessThan(32);
      checkLayout(h, bytes.byteLength);
    });
  }

  it('stories260K: metadata values, tensor shapes, output.weight is a copy of the embedding', async () => {
    const f = GgufFile.fromBytes(readModel('stories260K.gguf'));
    const m = f.metadata;
    expect(m.get('general.architecture')).toBe('llama');
    expect(m.get('llama.embedding_length')).toBe(64);
    expect(m.get('llama.block_count')).toBe(5);
    expect(m.get('llama.attention.head_count')).toBe(8);
    expect(m.get('llama.attention.head_count_kv')).toBe(4);
    expect(m.get('llama.feed_forward_length')).toBe(172);
    expect(m.get('llama.context_length')).toBe(512);
    expect(m.get('llama.attention.layer_norm_rms_epsilon')).toBe(Math.fround(1e-5));
    expect(m.get('tokenizer.ggml.seperator_token_id')).toBe(0xffffffff);
    const tokens = m.get('tokenizer.ggml.tokens') as string[];
    expect(tokens).toHaveLength(512);
    expect(tokens[0]).toBe('<unk>');
    expect(m.get('tokenizer.ggml.scores')).toBeInstanceOf(Float32Array);
    expect(m.get('tokenizer.ggml.token_type')).toBeInstanceOf(Int32Array);
    expect(f.requireTensor('token_embd.weight')).toMatchObject({ dims: [64, 512], type: GgmlType.F32, byteSize: 64 * 512 * 4 });
    expect(f.requireTensor('blk.4.ffn_down.weight').dims).toEqual([172, 64]);
    expect(f.tensor('blk.5.attn_q.weight')).toBeUndefined();
    gguferr(() => f.requireTensor('blk.5.attn_q.weight'), 'missing-tensor', 'blk.5.attn_q.weight');
    const embd = await f.tensorBytes(f.requireTensor('token_embd.weight'));
    const out = await f.tensorBytes(f.requireTensor('output.weight'));
    expect(embd.byteLength).toBe(64 * 512 * 4);
    expect(Buffer.from(out).equals(Buffer.from(embd))).toBe(true);
    expect(embd.some((b) => b !== 0)).toBe(true);
  });

  it('stories260K-Q8_0: Q8_0 matrices, F16 ffn_down (172 is not a multiple of 32), F32 norms', () => {
    const h = parseGguf(readModel('stories260K-Q8_0.gguf'));
    const byName = new Map(h.tensors.map((t) => [t.name, t]));
    expect(byName.get('token_embd.weight')).toMatchObject({ type: GgmlType.Q8_0, byteSize: (64 * 512 * 34) / 32 });
    expect(byName.get('blk.0.attn_q.weight')!.type).toBe(GgmlType.Q8_0);
    expect(byName.get('blk.0.ffn_down.weight')!.type).toBe(GgmlType.F16);
    expect(byName.get('blk.0.attn_norm.weight')!.type).toBe(GgmlType.F32);
    expect(h.metadata.get('general.file_type')).toBe(7);
    expect(h.metadata.get('general.quantization_version')).toBe(2);
  });

  it('TinyStories-656K and its Q4_0: metadata, tied embeddings, token_embd Q8_0, attention Q4_0', () => {
    const f32 = parseGguf(readModel('TinyStories-656K.gguf'));
    expect(f32.metadata.get('general.name')).toBe('TinyStories-656K');
    expect(f32.metadata.get('llama.embedding_length')).toBe(128);
    expect(f32.metadata.get('llama.block_count')).toBe(2);
    expect(f32.metadata.get('llama.vocab_size')).toBe(2048);
    expect(f32.metadata.get('tokenizer.ggml.add_bos_token')).toBe(true);
    expect(f32.metadata.get('tokenizer.ggml.add_eos_token')).toBe(false);
    expect(f32.tensors.find((t) => t.name === 'output.weight')).toBeUndefined();
    expect(f32.tensors.every((t) => t.type === GgmlType.F32)).toBe(true);

    const q4 = parseGguf(readModel('TinyStories-656K-Q4_0.gguf'));
    const byName = new Map(q4.tensors.map((t) => [t.name, t]));
    expect(byName.get('token_embd.weight')).toMatchObject({ type: GgmlType.Q8_0, dims: [128, 2048] });
    for (let l = 0; l < 2; l++) {
      for (const w of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']) {
        expect(byName.get(`blk.${l}.${w}.weight`)!.type, `blk.${l}.${w}`).toBe(GgmlType.Q4_0);
      }
      expect(byName.get(`blk.${l}.attn_norm.weight`)!.type).toBe(GgmlType.F32);
    }
    expect(byName.get('blk.0.attn_q.weight')!.byteSize).toBe((128 * 128 * 18) / 32);
  });

  it('quant-testvectors: every quantized type the file holds is sized', () => {
    const h = parseGguf(readModel('quant-testvectors.gguf'));
    expect(h.metadata.get('testvectors.rows')).toBe(64);
    expect(h.metadata.get('testvectors.cols')).toBe(512);
    const types = new Set(h.tensors.filter((t) => t.name.startsWith('w.') && !t.name.endsWith('.deq')).map((t) => t.type));
    for (const t of [GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
      GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS]) {
      expect(types.has(t), GgmlType[t]).toBe(true);
    }
    expect(h.tensors.find((t) => t.name === 'w.q6_K')!.byteSize).toBe((512 * 64 * 210) / 256);
  });

  it('vocab files: token tables of the right sizes and types', () => {
    const spm = parseGguf(readModel('vocab/ggml-vocab-llama-spm.gguf'));
    expect((spm.metadata.get('tokenizer.ggml.tokens') as string[]).length).toBe(32000);
    expect((spm.metadata.get('tokenizer.ggml.scores') as Float32Array).length).toBe(32000);
    expect((spm.metadata.get('tokenizer.ggml.token_type') as Int32Array).length).toBe(32000);
    expect(spm.metadata.get('llama.vocab_size')).toBe(32000);

    const gpt2 = parseGguf(readModel('vocab/ggml-vocab-gpt-2.gguf'));
    const tokens = gpt2.metadata.get('tokenizer.ggml.tokens') as string[];
    const merges = gpt2.metadata.get('tokenizer.ggml.merges') as string[];
    expect(tokens).toHaveLength(50257);
    expect(tokens[50256]).toBe('<|endoftext|>');
    expect(merges).toHaveLength(50000);
    expect(merges[0]).toBe('Ġ t');
    expect(gpt2.metadata.get('tokenizer.ggml.eos_token_id')).toBe(50256);
  });

  it('GgufFile.open over a ByteSource equals GgufFile.fromBytes', async () => {
    const bytes = readModel('TinyStories-656K-Q4_0.gguf');
    const a = GgufFile.fromBytes(bytes);
    const b = await GgufFile.open(bufferSource(bytes));
    expect(b.header).toEqual(a.header);
    const t = b.requireTensor('blk.1.ffn_down.weight');
    expect(await b.tensorBytes(t)).toEqual(bytes.subarray(a.header.dataOffset + t.offset, a.header.dataOffset + t.offset + t.byteSize));
  });

  it('bufferSource rejects reads outside the buffer with out-of-bounds', async () => {
    const src = bufferSource(new Uint8Array(10));
    await gguferrAsync(src.read(8, 4), 'out-of-bounds', '10-byte');
    await gguferrAsync(src.read(-1, 2), 'out-of-bounds');
    expect((await src.read(2, 8)).byteLength).toBe(8);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('writer round trip', () => {
  const BIG = 2n ** 53n + 1n;
  const ALL_TYPES: [string, MetaValue, unknown][] = [
    ['t.u8', v.u8(255), 255],
    ['t.i8', v.i8(-128), -128],
    ['t.u16', v.u16(65535), 65535],
    ['t.i16', v.i16(-32768), -32768],
    ['t.u32', v.u32(0xffffffff), 0xffffffff],
    ['t.i32', v.i32(-(2 ** 31)), -(2 ** 31)],
    ['t.f32', v.f32(0.1), Math.fround(0.1)],
    ['t.f32.neg', v.f32(-1.5), -1.5],
    ['t.bool.true', v.bool(true), true],
    ['t.bool.false', v.bool(false), false],
    ['t.string', v.str('héllo, 世界 🦙 \u0000 end'), 'héllo, 世界 🦙 \u0000 end'],
    ['t.string.empty', v.str(''), ''],
    ['t.string.bom', v.str('\uFEFF'), '\uFEFF'],
    ['t.u64.small', v.u64(12345), 12345],
    ['t.u64.max-safe', v.u64(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
    ['t.u64.2^53', v.u64(2n ** 53n), 2n ** 53n],
    ['t.u64.big', v.u64(BIG), BIG],
    ['t.u64.max', v.u64(2n ** 64n - 1n), 2n ** 64n - 1n],
    ['t.i64.neg', v.i64(-5), -5],
    ['t.i64.min', v.i64(-(2n ** 63n)), -(2n ** 63n)],
    ['t.i64.below-safe', v.i64(-(2n ** 53n) - 7n), -(2n ** 53n) - 7n],
    ['t.f64', v.f64(Math.PI), Math.PI],
    ['t.f64.tiny', v.f64(5e-324), 5e-324],
    ['a.u8', v.arr(VT.UINT8, [0, 1, 255]), Uint8Array.of(0, 1, 255)],
    ['a.i8', v.arr(VT.INT8, [-1, 127]), Int8Array.of(-1, 127)],
    ['a.u16', v.arr(VT.UINT16, [1, 65535]), Uint16Array.of(1, 65535)],
    ['a.i16', v.arr(VT.INT16, [-2, 300]), Int16Array.of(-2, 300)],
    ['a.u32', v.arr(VT.UINT32, [7, 0xffffffff]), Uint32Array.of(7, 0xffffffff)],
    ['a.i32', v.arr(VT.INT32, [-7, 2 ** 31 - 1]), Int32Array.of(-7, 2 ** 31 - 1)],
    ['a.f32', v.arr(VT.FLOAT32, [0.5, -0.25, 1e-3]), Float32Array.of(0.5, -0.25, 1e-3)],
    ['a.bool', v.arr(VT.BOOL, [true, false, true]), [true, false, true]],
    ['a.u64', v.arr(VT.UINT64, [1n, BIG, 2n ** 64n - 1n]), BigUint64Array.of(1n, BIG, 2n ** 64n - 1n)],
    ['a.i64', v.arr(VT.INT64, [-1n, -(2n ** 63n)]), BigInt64Array.of(-1n, -(2n ** 63n))],
    ['a.f64', v.arr(VT.FLOAT64, [Math.E, -0]), Float64Array.of(Math.E, -0)],
    ['a.string', v.arr(VT.STRING, ['a', '', 'ü', '日本語', '🦙🦙']), ['a', '', 'ü', '日本語', '🦙🦙']],
    ['a.empty.u32', v.arr(VT.UINT32, []), new Uint32Array(0)],
    ['a.empty.string', v.arr(VT.STRING, []), []],
    ['a.empty.array', v.arr(VT.ARRAY, []), []],
    [
      'a.array.of.string',
      v.arr(VT.ARRAY, [v.item(VT.STRING, ['x', 'yz']), v.item(VT.STRING, []), v.item(VT.STRING, ['ω'])]),
      [['x', 'yz'], [], ['ω']],
    ],
    [
      'a.array.of.array.of.u8',
      v.arr(VT.ARRAY, [v.item(VT.ARRAY, [v.item(VT.UINT8, [1, 2]), v.item(VT.UINT8, [])]), v.item(VT.ARRAY, [])]),
      [[Uint8Array.of(1, 2), new Uint8Array(0)], []],
    ],
    ['a.array.of.u64', v.arr(VT.ARRAY, [v.item(VT.UINT64, [BIG])]), [BigUint64Array.of(BIG)]],
    ['unicode.kéy.🔑', v.u32(1), 1],
  ];

  for (const version of [2, 3]) {
    it(`v${version}: every metadata value type, nested and empty arrays, big 64-bit integers, unicode`, () => {
      const bytes = writeGguf({ version, metadata: ALL_TYPES.map(([k, mv]) => [k, mv] as const) });
      const h = parseGguf(bytes);
      expect(h.version).toBe(version);
      expect(h.tensors).toEqual([]);
      expect([...h.metadata.keys()]).toEqual(ALL_TYPES.map(([k]) => k));
      for (const [key, , expected] of ALL_TYPES) {
        const got = h.metadata.get(key);
        expect(got, key).toEqual(expected);
        if (ArrayBuffer.isView(expected)) expect((got as object).constructor, key).toBe(expected.constructor);
        expect(typeof got, key).toBe(typeof expected);
      }
      // -0 survives in the f64 array.
      expect(Object.is((h.metadata.get('a.f64') as Float64Array)[1], -0)).toBe(true);
    });
  }

  it('tensors of several ggml types: dims, sizes, offsets, and bytes come back', async () => {
    const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
    const tensors: TensorSpec[] = [
      { name: 'f32', dims: [3, 5], type: GgmlType.F32, data: pattern(60, 1) },
      { name: 'f16', dims: [7], type: GgmlType.F16, data: pattern(14, 2) },
      { name: 'q4_0', dims: [64, 3], type: GgmlType.Q4_0, data: pattern(6 * 18, 3) },
      { name: 'q6_k', dims: [256, 2, 1, 1], type: GgmlType.Q6_K, data: pattern(2 * 210, 4) },
      { name: 'i8.1d', dims: [1], type: GgmlType.I8, data: pattern(1, 5) },
      { name: 'empty', dims: [0, 4], type: GgmlType.F32, data: new Uint8Array(0) },
    ];
    const { bytes, layout } = buildGguf({ metadata: [['general.architecture', v.str('test')]], tensors });
    const f = GgufFile.fromBytes(bytes);
    expect(f.header.dataOffset).toBe(layout.dataOffset);
    checkLayout(f.header, bytes.byteLength);
    for (const [i, spec] of tensors.entries()) {
      const t = f.requireTensor(spec.name);
      expect(t.dims).toEqual(spec.dims);
      expect(t.type).toBe(spec.type);
      expect(t.offset).toBe(layout.tensors[i]!.offset);
      expect(t.byteSize).toBe(spec.data!.length);
      expect(await f.tensorBytes(t)).toEqual(spec.data);
    }
    expect(f.requireTensor('q6_k').elementCount).toBe(512);
  });

  for (const alignment of [1, 8, 64, 4096]) {
    it(`general.alignment ${alignment}: data section and tensor offsets honor it`, async () => {
      const tensors: TensorSpec[] = [
        { name: 'a', dims: [5], type: GgmlType.F32, data: Uint8Array.from({ length: 20 }, (_, i) => i + 1) },
        { name: 'b', dims: [3], type: GgmlType.F16, data: Uint8Array.of(9, 8, 7, 6, 5, 4) },
        { name: 'c', dims: [1], type: GgmlType.F32, data: Uint8Array.of(1, 2, 3, 4) },
      ];
      const { bytes, layout } = buildGguf({ metadata: [['general.alignment', v.u32(alignment)]], tensors });
      const f = GgufFile.fromBytes(bytes);
      expect(f.header.alignment).toBe(alignment);
      expect(f.header.dataOffset % alignment).toBe(0);
      expect(f.header.dataOffset).toBe(layout.dataOffset);
      expect(f.header.tensors.map((t) => t.offset)).toEqual(layout.tensors.map((t) => t.offset));
      if (alignment >= 32) expect(f.header.tensors[1]!.offset).toBe(alignment);
      for (const t of tensors) expect(await f.tensorBytes(f.requireTensor(t.name))).toEqual(t.data);
    });
  }

  it('a file of only the 24-byte preamble with zero counts parses', () => {
    const h = parseGguf(writeGguf({}));
    expect(h).toMatchObject({ version: 3, tensors: [], alignment: 32, dataOffset: 32 });
    expect(h.metadata.size).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('readGgufHeader: the prefix-growing reader', () => {
  interface Counting extends ByteSource {
    readonly reads: { offset: number; length: number }[];
  }
  function counting(bytes: Uint8Array, maxReads = 100): Counting {
    const inner = bufferSource(bytes);
    const reads: { offset: number; length: number }[] = [];
    return {
      size: inner.size,
      reads,
      read: async (offset, length) => {
        reads.push({ offset, length });
        if (reads.length > maxReads) throw new Error(`more than ${maxReads} reads: the reader is looping`);
        return inner.read(offset, length);
      },
    };
  }

  for (const file of ['stories260K.gguf', 'TinyStories-656K-Q4_0.gguf', 'vocab/ggml-vocab-gpt-2.gguf']) {
    for (const firstRead of [1, 64, 4096]) {
      it(`${file}, firstRead ${firstRead}: same header as parseGguf, few reads, no tensor data fetched`, async () => {
        const bytes = readModel(file);
        const expected = parseGguf(bytes);
        const src = counting(bytes);
        const h = await readGgufHeader(src, firstRead);
        expect(h).toEqual(expected);
        expect(src.reads.every((r) => r.offset === 0)).toBe(true);
        expect(src.reads[0]!.length).toBe(firstRead);
        // Lengths at least double each time, so the count is logarithmic...
        expect(src.reads.length).toBeLessThanOrEqual(Math.ceil(Math.log2(expected.dataOffset / firstRead)) + 2);
        for (let i = 1; i < src.reads.length; i++) {
          expect(src.reads[i]!.length === bytes.byteLength || src.reads[i]!.length >= 2 * src.reads[i - 1]!.length).toBe(true);
        }
        // ...and the last read stops within a doubling of the header: the tensor data is not fetched.
        const longest = Math.max(...src.reads.map((r) => r.length));
        expect(longest).toBeLessThan(Math.max(2 * expected.dataOffset, firstRead + 1));
        if (expected.tensors.length > 0) expect(longest).toBeLessThan(bytes.byteLength / 4);
      });
    }
  }

  it('default firstRead reads a small model header in one read', async () => {
    const bytes = readModel('stories260K.gguf');
    const src = counting(bytes);
    await readGgufHeader(src);
    expect(src.reads).toEqual([{ offset: 0, length: 1 << 20 }]);
  });

  it('a firstRead larger than the file reads the file once', async () => {
    const bytes = writeGguf({ metadata: [['k', v.str('v')]] });
    const src = counting(bytes);
    await readGgufHeader(src, 1 << 20);
    expect(src.reads).toEqual([{ offset: 0, length: bytes.byteLength }]);
  });

  it('errors come through the async path too (truncated, bad magic, out-of-bounds)', async () => {
    const model = readModel('stories260K.gguf');
    const headerEnd = walkGguf(model).headerEnd;
    // A source that claims the full size but whose bytes were cut inside the header.
    const truncatedHeader: ByteSource = { size: 200, read: bufferSource(model.subarray(0, 200)).read };
    await gguferrAsync(readGgufHeader(truncatedHeader, 16), 'corrupt');
    await gguferrAsync(readGgufHeader(counting(model.subarray(0, headerEnd + 100)), 64), 'out-of-bounds', 'token_embd.weight');
    await gguferrAsync(readGgufHeader(counting(writeGguf({ magic: 0x4c4d5447 })), 2), 'bad-magic');
    await gguferrAsync(readGgufHeader(counting(writeGguf({ version: 4 })), 2), 'unsupported-version');
  });

  it('a source whose reads come back short (file shrank) is "truncated", not an endless loop', async () => {
    const bytes = readModel('stories260K.gguf');
    const short: ByteSource = {
      size: bytes.byteLength,
      read: async (offset, length) => bytes.subarray(offset, offset + Math.min(length, 1000)),
    };
    let reads = 0;
    const guarded: ByteSource = {
      size: short.size,
      read: async (o, l) => {
        if (++reads > 100) throw new Error('the reader is looping on short reads');
        return short.read(o, l);
      },
    };
    await gguferrAsync(readGgufHeader(guarded, 64), 'truncated');
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('typed errors', () => {
  const tensorsSpec = (): TensorSpec[] => [
    { name: 'first', dims: [8, 2], type: GgmlType.F32 },
    { name: 'second.weight', dims: [32, 4], type: GgmlType.Q8_0 },
  ];
  const valid = (extra: Partial<GgufSpec> = {}): GgufSpec => ({
    metadata: [
      ['general.architecture', v.str('llama')],
      ['list', v.arr(VT.UINT32, [1, 2, 3])],
    ],
    tensors: tensorsSpec(),
    ...extra,
  });
  const patchU64 = (b: Uint8Array, at: number, x: bigint): Uint8Array => {
    new DataView(b.buffer, b.byteOffset).setBigUint64(at, x, true);
    return b;
  };

  it('wrong magic → bad-magic', () => {
    gguferr(() => parseGguf(writeGguf(valid({ magic: 0x4c4d5447 }))), 'bad-magic', 'GGUF');
    gguferr(() => parseGguf(new TextEncoder().encode('PK\u0003\u0004 this is a zip file, not a model')), 'bad-magic');
    gguferr(() => parseGguf(new Uint8Array(0)), 'bad-magic');
  });

  for (const version of [0, 1, 4, 1000]) {
    it(`version ${version} → unsupported-version`, () => {
      gguferr(() => parseGguf(writeGguf(valid({ version }))), 'unsupported-version', `version ${version}`, 'versions 2 and 3');
    });
  }

  for (const version of [2, 3]) {
    it(`big-endian v${version} header → unsupported-version naming big-endian`, () => {
      gguferr(() => parseGguf(writeGguf(valid({ version, bigEndian: true }))), 'unsupported-version', 'big-endian');
    });
  }

  it('header cut inside a fixed-width field → truncated', () => {
    // A long first value, so that past it the file still has room for what the counts claim.
    const metadata = [['general.description', v.str('x'.repeat(300))] as const, ...valid().metadata!];
    const { bytes, layout } = buildGguf(valid({ metadata }));
    // Inside the version, the tensor count, the kv count, a value type, a tensor's dims / type / offset.
    const cuts = [
      6,
      layout.tensorCountAt + 3,
      layout.kvCountAt + 7,
      layout.kvs[1]!.typeAt + 2,
      layout.kvs[2]!.valueAt + 2,
      layout.tensors[0]!.nDimsAt + 1,
      layout.tensors[0]!.dimsAt[1]! + 4,
      layout.tensors[1]!.typeAt + 3,
      layout.tensors[1]!.offsetAt + 7,
    ];
    for (const cut of cuts) gguferr(() => parseGguf(bytes.subarray(0, cut)), 'truncated');
    gguferr(() => parseGguf(bytes.subarray(0, layout.tensors[1]!.offsetAt + 7)), 'truncated', 'inside the header');
  });

  it('header cut anywhere → truncated or corrupt (a length claim past the end reads as corrupt), never anything else', () => {
    const bytes = writeGguf(valid());
    for (let cut = 8; cut < walkGguf(bytes).headerEnd; cut++) {
      let code: string | undefined;
      try {
        parseGguf(bytes.subarray(0, cut));
      } catch (e) {
        expect(e).toBeInstanceOf(GgufError);
        code = (e as GgufError).code;
      }
      expect(['truncated', 'corrupt'], `cut at ${cut}`).toContain(code);
    }
  });

  it('tensor data past the end of the file → out-of-bounds naming the tensor', () => {
    const bytes = writeGguf(valid());
    const err = gguferr(() => parseGguf(bytes.subarray(0, bytes.byteLength - 40)), 'out-of-bounds', 'second.weight', 'truncated download');
    expect(err.message).toContain(String(bytes.byteLength - 40));
    // An offset pointing far past the end.
    gguferr(
      () => parseGguf(writeGguf(valid({ tensors: [tensorsSpec()[0]!, { ...tensorsSpec()[1]!, offset: 1 << 30 }] }))),
      'out-of-bounds',
      'second.weight',
    );
    // Header only, no data section at all.
    gguferr(() => parseGguf(writeGguf(valid({ omitData: true }))), 'out-of-bounds', 'first');
  });

  it('unknown tensor type 99 → unsupported-tensor-type naming tensor and type', () => {
    const spec = valid({ tensors: [{ name: 'mystery.weight', dims: [32], type: 99, byteSize: 64 }] });
    gguferr(() => parseGguf(writeGguf(spec)), 'unsupported-tensor-type', 'mystery.weight', '99');
    // A type number ggml retired (4, Q4_2) is just as unknown.
    gguferr(() => parseGguf(writeGguf({ tensors: [{ name: 'old', dims: [32], type: 4, byteSize: 64 }] })), 'unsupported-tensor-type', 'old');
  });

  it('row length not a multiple of the block size → bad-shape', () => {
    const spec: GgufSpec = { tensors: [{ name: 'rows.weight', dims: [48, 2], type: GgmlType.Q4_0, byteSize: 72 }] };
    gguferr(() => parseGguf(writeGguf(spec)), 'bad-shape', 'rows.weight', '48', 'Q4_0', '32');
    const k: GgufSpec = { tensors: [{ name: 'k', dims: [128], type: GgmlType.Q4_K, byteSize: 144 }] };
    gguferr(() => parseGguf(writeGguf(k)), 'bad-shape', '256');
  });

  /** Runs a parse that must fail fast without allocating anything big. */
  function fastCorrupt(bytes: Uint8Array, ...inMessage: string[]): void {
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    gguferr(() => parseGguf(bytes), 'corrupt', ...inMessage);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
  }

  it('absurd counts and lengths → corrupt, fast, with no huge allocation', () => {
    const { bytes, layout } = buildGguf(valid());
    const copy = (): Uint8Array => bytes.slice();
    fastCorrupt(patchU64(copy(), layout.kvCountAt, 2n ** 60n), 'metadata count');
    fastCorrupt(patchU64(copy(), layout.kvCountAt, 2n ** 50n), 'metadata entries');
    fastCorrupt(patchU64(copy(), layout.tensorCountAt, 2n ** 40n), 'tensors');
    fastCorrupt(patchU64(copy(), layout.tensorCountAt, 2n ** 64n - 1n), 'tensor count');
    fastCorrupt(patchU64(copy(), layout.kvs[0]!.keyLengthAt, 2n ** 40n), 'metadata key 0');
    fastCorrupt(patchU64(copy(), layout.kvs[0]!.valueAt, 2n ** 40n), 'general.architecture');
    fastCorrupt(patchU64(copy(), layout.kvs[1]!.valueAt + 4, 2n ** 50n), 'list', 'elements');
    fastCorrupt(patchU64(copy(), layout.kvs[1]!.valueAt + 4, 2n ** 62n), 'list');
    fastCorrupt(patchU64(copy(), layout.tensors[1]!.nameLengthAt, 2n ** 40n), 'tensor 1');
    fastCorrupt(patchU64(copy(), layout.tensors[0]!.offsetAt, 2n ** 60n), 'data offset of tensor first');
    // Dims whose product is no safe integer.
    fastCorrupt(writeGguf({ tensors: [{ name: 'huge', dims: [2 ** 30, 2 ** 30, 2 ** 30], type: GgmlType.F32, byteSize: 4 }] }), 'huge');
    fastCorrupt(patchU64(copy(), layout.tensors[0]!.dimsAt[0]!, 2n ** 63n), 'dimension 0 of tensor first');
    // Array of arrays claiming 2^50 inner arrays; inner array of strings claiming 2^50 strings.
    const nested = buildGguf({ metadata: [['nest', v.arr(VT.ARRAY, [v.item(VT.STRING, ['a'])])]] });
    fastCorrupt(patchU64(nested.bytes.slice(), nested.layout.kvs[0]!.valueAt + 4, 2n ** 50n), 'nest');
    fastCorrupt(patchU64(nested.bytes.slice(), nested.layout.kvs[0]!.valueAt + 16, 2n ** 50n), 'nest');
  });

  it('other structural corruption → corrupt with a message naming it', () => {
    gguferr(() => parseGguf(writeGguf({ metadata: [['weird', { type: 13, value: 0 }]] })), 'corrupt', 'value type 13');
    gguferr(() => parseGguf(writeGguf({ metadata: [['weird.arr', v.arr(13 as VT, [])]] })), 'corrupt', 'weird.arr', '13');
    let deep = v.item(VT.UINT8, [1]);
    for (let i = 0; i < 20; i++) deep = v.item(VT.ARRAY, [deep]);
    gguferr(() => parseGguf(writeGguf({ metadata: [['deep', v.arr(VT.ARRAY, deep.items)]] })), 'corrupt', 'deep', 'nested');
    gguferr(() => parseGguf(writeGguf({ tensors: [{ name: 'five', dims: [1, 1, 1, 1, 1], type: GgmlType.F32 }] })), 'corrupt', 'five', '5 dimensions');
    gguferr(() => parseGguf(writeGguf({ tensors: [{ name: 'zero', dims: [], type: GgmlType.F32, byteSize: 4 }] })), 'corrupt', 'zero', '0 dimensions');
    gguferr(
      () => parseGguf(writeGguf({ tensors: [{ name: 'same', dims: [4], type: GgmlType.F32 }, { name: 'same', dims: [4], type: GgmlType.F32 }] })),
      'corrupt',
      'same',
      'twice',
    );
  });

  it('duplicate metadata key → corrupt naming the key', () => {
    const spec: GgufSpec = { metadata: [['general.name', v.str('a')], ['x', v.u8(1)], ['general.name', v.str('b')]] };
    gguferr(() => parseGguf(writeGguf(spec)), 'corrupt', 'general.name', 'twice');
  });

  it('misaligned tensor offset → corrupt naming the tensor', () => {
    const spec = valid({ tensors: [tensorsSpec()[0]!, { ...tensorsSpec()[1]!, offset: 80 }] });
    gguferr(() => parseGguf(writeGguf(spec)), 'corrupt', 'second.weight', '80', 'aligned to 32');
    const spec64 = valid({ metadata: [['general.alignment', v.u32(64)]], tensors: [tensorsSpec()[0]!, { ...tensorsSpec()[1]!, offset: 96 }] });
    gguferr(() => parseGguf(writeGguf(spec64)), 'corrupt', 'second.weight', 'aligned to 64');
  });

  for (const [label, value] of [
    ['3', v.u32(3)],
    ['0', v.u32(0)],
    ['2^21', v.u32(2 ** 21)],
    ['a string', v.str('32')],
    ['1.5 (f32)', v.f32(1.5)],
    ['2.5 (f64)', v.f64(2.5)],
    ['-32 (i32)', v.i32(-32)],
    ['2^64-1 (u64)', v.u64(2n ** 64n - 1n)],
  ] as const) {
    it(`general.alignment ${label} → corrupt`, () => {
      gguferr(() => parseGguf(writeGguf({ metadata: [['general.alignment', value]], alignment: 32 })), 'corrupt', 'general.alignment');
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
const configOf = (bytes: Uint8Array): ModelConfig => readModelConfig(parseGguf(bytes));

describe('readModelConfig', () => {
  const STORIES: Partial<ModelConfig> = {
    architecture: 'llama',
    dim: 64,
    nLayers: 5,
    nHeads: 8,
    nKvHeads: 4,
    headDim: 8,
    ffnDim: 172,
    vocabSize: 512,
    contextLength: 512,
    ropeBase: 10000,
    ropeDim: 8,
    ropeStyle: 'normal',
    ropeLinearScale: 1,
    hasRopeFreqs: false,
    tiedEmbeddings: false,
    hasQkvBias: false,
    hasQkNorm: false,
  };
  const TINY: Partial<ModelConfig> = {
    architecture: 'llama',
    name: 'TinyStories-656K',
    dim: 128,
    nLayers: 2,
    nHeads: 8,
    nKvHeads: 4,
    headDim: 16,
    ffnDim: 384,
    vocabSize: 2048,
    contextLength: 512,
    ropeBase: 10000,
    ropeDim: 16,
    ropeStyle: 'normal',
    tiedEmbeddings: true,
    hasQkvBias: false,
    hasQkNorm: false,
  };
  /** Weights of a Llama from its config, counted independently of the tensor infos. */
  const llamaParams = (c: ModelConfig): number =>
    c.vocabSize * c.dim * (c.tiedEmbeddings ? 1 : 2) +
    c.dim +
    c.nLayers * (2 * c.dim + 2 * c.dim * c.nHeads * c.headDim + 2 * c.dim * c.nKvHeads * c.headDim + 3 * c.dim * c.ffnDim);

  for (const [file, expected, params] of [
    ['stories260K.gguf', STORIES, 292_800],
    ['stories260K-Q8_0.gguf', STORIES, 292_800],
    ['TinyStories-656K.gguf', TINY, 656_000],
    ['TinyStories-656K-Q4_0.gguf', TINY, 656_000],
  ] as const) {
    it(`${file}`, () => {
      const h = parseGguf(readModel(file));
      const c = readModelConfig(h);
      expect(c).toMatchObject(expected);
      expect(c.normEps).toBeCloseTo(expected === STORIES ? 1e-5 : 1e-6, 10);
      expect(llamaParams(c)).toBe(params);
      expect(parameterCount(h)).toBe(params);
    });
  }

  it('non-model shared files: testvectors and gpt2 are unknown architectures, the llama vocab has no weights', () => {
    gguferr(() => configOf(readModel('quant-testvectors.gguf')), 'unknown-architecture', '"testvectors"', 'llama');
    gguferr(() => configOf(readModel('vocab/ggml-vocab-gpt-2.gguf')), 'unknown-architecture', '"gpt2"');
    gguferr(() => configOf(readModel('vocab/ggml-vocab-llama-spm.gguf')), 'missing-tensor', 'token_embd.weight');
  });

  it('crafted GQA llama: all fields', () => {
    const c = configOf(craftModel());
    expect(c).toEqual({
      architecture: 'llama',
      name: 'crafted llama',
      contextLength: 128,
      dim: 32,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 8,
      ffnDim: 64,
      vocabSize: 40,
      normEps: Math.fround(1e-6),
      ropeBase: 1e6,
      ropeDim: 8,
      ropeStyle: 'normal',
      ropeLinearScale: 1,
      hasRopeFreqs: false,
      tiedEmbeddings: false,
      hasQkvBias: false,
      hasQkNorm: false,
    } satisfies ModelConfig);
  });

  it('MHA: KV heads equal heads, given or defaulted', () => {
    expect(configOf(craftModel({ kvHeads: 4 }))).toMatchObject({ nHeads: 4, nKvHeads: 4, headDim: 8 });
    expect(configOf(craftModel({ kvHeads: undefined }))).toMatchObject({ nHeads: 4, nKvHeads: 4 });
  });

  it('MQA: one KV head', () => {
    expect(configOf(craftModel({ kvHeads: 1 }))).toMatchObject({ nHeads: 4, nKvHeads: 1, headDim: 8 });
  });

  it('mistral is a Llama with normal RoPE; tied embeddings; rope_freqs detected; linear RoPE scaling', () => {
    expect(configOf(craftModel({ arch: 'mistral', tied: true }))).toMatchObject({ architecture: 'mistral', ropeStyle: 'normal', tiedEmbeddings: true });
    expect(configOf(craftModel({ ropeFreqs: true }))).toMatchObject({ hasRopeFreqs: true });
    const scaled = craftModel({ extraMeta: [['llama.rope.scaling.type', v.str('linear')], ['llama.rope.scaling.factor', v.f32(4)]] });
    expect(configOf(scaled).ropeLinearScale).toBe(4);
    const yarn = craftModel({ extraMeta: [['llama.rope.scaling.type', v.str('yarn')], ['llama.rope.scaling.factor', v.f32(4)]] });
    expect(configOf(yarn).ropeScaling).toMatchObject({ freqScale: 0.25 });
    const unknown = craftModel({ extraMeta: [['llama.rope.scaling.type', v.str('dynamic')], ['llama.rope.scaling.factor', v.f32(4)]] });
    gguferr(() => configOf(unknown), 'unknown-architecture', 'dynamic');
    const longRope = craftModel({ extraMeta: [['llama.rope.scaling.type', v.str('longrope')]] });
    gguferr(() => configOf(longRope), 'unknown-architecture', 'longrope');
  });

  it('qwen2: neox RoPE and q/k/v biases detected', () => {
    const c = configOf(craftModel({ arch: 'qwen2', qkvBias: true }));
    expect(c).toMatchObject({ architecture: 'qwen2', ropeStyle: 'neox', hasQkvBias: true, hasQkNorm: false });
    // A bias of the wrong length is caught by the shape check.
    gguferr(() => configOf(craftModel({ arch: 'qwen2', qkvBias: true, reshape: { 'blk.1.attn_k.bias': [32] } })), 'bad-shape', 'blk.1.attn_k.bias');
    gguferr(() => configOf(craftModel({ arch: 'qwen2', qkvBias: true, omitTensors: ['blk.1.attn_v.bias'] })), 'missing-tensor', 'blk.1.attn_v.bias');
  });

  it('qwen3: q/k norm detected, head dim from key_length (heads x head dim != dim)', () => {
    const c = configOf(craftModel({ arch: 'qwen3', qkNorm: true, headDim: 16, keyLength: true, tied: true }));
    expect(c).toMatchObject({ architecture: 'qwen3', ropeStyle: 'neox', hasQkNorm: true, hasQkvBias: false, headDim: 16, ropeDim: 16, dim: 32 });
  });

  it('unknown architecture → unknown-architecture listing the supported ones', () => {
    const err = gguferr(() => configOf(craftModel({ arch: 'mamba' })), 'unknown-architecture', '"mamba"');
    for (const a of SUPPORTED_ARCHITECTURES) expect(err.message).toContain(a);
    expect(SUPPORTED_ARCHITECTURES).toEqual(['llama', 'mistral', 'qwen2', 'qwen3', 'qwen3moe', 'gemma2', 'gemma3', 'gpt-oss', 'phi3', 'deepseek2']);
  });

  for (const key of ['general.architecture', 'llama.block_count', 'llama.embedding_length', 'llama.attention.head_count', 'llama.feed_forward_length', 'llama.context_length']) {
    it(`missing ${key} → missing-key naming it`, () => {
      gguferr(() => configOf(craftModel({ omitKeys: [key] })), 'missing-key', key);
    });
  }

  it('mistyped metadata → corrupt naming the key', () => {
    gguferr(() => configOf(craftModel({ extraMeta: [['llama.vocab_size', v.str('40')]] })), 'corrupt', 'llama.vocab_size');
    const wrongType = craftModel({ omitKeys: ['llama.block_count'], extraMeta: [['llama.block_count', v.arr(VT.UINT32, [2, 2])]] });
    gguferr(() => configOf(wrongType), 'corrupt', 'llama.block_count', 'array');
    const zero = craftModel({ omitKeys: ['llama.block_count'], extraMeta: [['llama.block_count', v.u32(0)]] });
    gguferr(() => configOf(zero), 'corrupt', 'llama.block_count');
    const big = craftModel({ omitKeys: ['llama.embedding_length'], extraMeta: [['llama.embedding_length', v.u64(2n ** 60n)]] });
    gguferr(() => configOf(big), 'corrupt', 'llama.embedding_length');
  });

  it('missing tensor → missing-tensor naming it', () => {
    for (const name of ['token_embd.weight', 'output_norm.weight', 'blk.1.ffn_up.weight', 'blk.0.attn_norm.weight']) {
      gguferr(() => configOf(craftModel({ omitTensors: [name] })), 'missing-tensor', name);
    }
    gguferr(() => configOf(craftModel({ qkNorm: true, omitTensors: ['blk.1.attn_k_norm.weight'] })), 'missing-tensor', 'blk.1.attn_k_norm.weight');
  });

  it('block_count larger than the layers present → missing-tensor, fast even when absurd', () => {
    const three = craftModel({ omitKeys: ['llama.block_count'], extraMeta: [['llama.block_count', v.u32(3)]] });
    gguferr(() => configOf(three), 'missing-tensor', 'blk.2.');
    const absurd = craftModel({ omitKeys: ['llama.block_count'], extraMeta: [['llama.block_count', v.u32(0xfffffff0)]] });
    const t0 = performance.now();
    gguferr(() => configOf(absurd), 'missing-tensor', 'blk.2.');
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('wrong tensor shape → bad-shape naming tensor, shape and expectation', () => {
    gguferr(() => configOf(craftModel({ kvHeads: 1, reshape: { 'blk.0.attn_k.weight': [32, 16] } })), 'bad-shape', 'blk.0.attn_k.weight', '[32, 16]', '[32, 8]');
    gguferr(() => configOf(craftModel({ reshape: { 'output.weight': [32, 41] } })), 'bad-shape', 'output.weight');
    gguferr(() => configOf(craftModel({ reshape: { 'output_norm.weight': [32, 1] } })), 'bad-shape', 'output_norm.weight');
    // vocab_size in the metadata disagreeing with the embedding.
    gguferr(() => configOf(craftModel({ extraMeta: [['llama.vocab_size', v.u32(41)]] })), 'bad-shape', 'token_embd.weight');
  });

  it('inconsistent head counts → corrupt', () => {
    gguferr(() => configOf(craftModel({ kvHeads: 3 })), 'corrupt', 'heads');
    gguferr(() => configOf(craftModel({ kvHeads: 0 })), 'corrupt', 'heads');
    gguferr(() => configOf(craftModel({ heads: 5, headDim: 6 })), 'corrupt', 'heads');
    // A fractional KV head count that happens to divide the heads and give integral tensor widths.
    const kv5: Record<string, number[]> = {};
    for (const l of [0, 1]) for (const w of ['attn_k', 'attn_v']) kv5[`blk.${l}.${w}.weight`] = [10, 5];
    const frac = craftModel({ dim: 10, heads: 5, kvHeads: undefined, extraMeta: [['llama.attention.head_count_kv', v.f32(2.5)]], reshape: kv5 });
    gguferr(() => configOf(frac), 'corrupt', 'heads');
  });
});
