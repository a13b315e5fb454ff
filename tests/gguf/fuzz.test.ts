// Seeded fuzzing of the GGUF reader and readModelConfig: random truncations and header corruptions of every shared
// file (and two crafted Qwen models). Each case must parse or throw a GgufError, quickly, without absurd allocation;
// a file that parses must describe itself consistently, and the async prefix reader must agree with parseGguf.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../src/gpu/gguf/errors';
import { bufferSource, parseGguf, readGgufHeader } from '../../src/gpu/gguf/reader';
import type { GgufHeader } from '../../src/gpu/gguf/types';
import { readModelConfig } from '../../src/gpu/model/config';
import { modelPath } from '../helpers/shared';
import { craftModel, walkGguf, type GgufField } from './writer';
import { mulberry32 } from '../helpers/numeric';

/** A seeded stream (mulberry32), so every run fuzzes the same cases. */
function prng(seed: number): { next(): number; int(n: number): number } {
  const next = mulberry32(seed);
  return { next, int: (n) => Math.floor(next() * n) };
}

const CASE_TIME_LIMIT_MS = 2000;
const MEMORY_BOUND = 512 * 2 ** 20;

type Outcome = { header: GgufHeader } | { code: string };

/** Parses; anything thrown that is not a GgufError fails the test. */
function attempt(bytes: Uint8Array, what: () => string): Outcome {
  try {
    return { header: parseGguf(bytes) };
  } catch (e) {
    if (!(e instanceof GgufError)) throw new Error(`${what()}: parseGguf threw ${String(e)} instead of a GgufError`, { cause: e });
    return { code: e.code };
  }
}

/** A parsed header must be self-consistent: aligned, every tensor inside the file, sizes that add up. */
function checkHeader(h: GgufHeader, size: number, what: string): void {
  const ok =
    h.dataOffset % h.alignment === 0 &&
    h.tensors.every(
      (t) => t.offset % h.alignment === 0 && h.dataOffset + t.offset + t.byteSize <= size && Number.isSafeInteger(t.elementCount) && t.byteSize >= 0,
    );
  if (!ok) throw new Error(`${what}: parsed header is inconsistent`);
}

/** If the header parses, readModelConfig either succeeds with sane numbers or throws a GgufError. */
function tryConfig(h: GgufHeader, what: string, tally: Map<string, number>): void {
  try {
    const c = readModelConfig(h);
    const counts = [c.dim, c.nLayers, c.nHeads, c.nKvHeads, c.headDim, c.ffnDim, c.contextLength];
    if (!counts.every((n) => Number.isInteger(n) && n >= 1) || c.nHeads % c.nKvHeads !== 0) {
      throw new Error(`${what}: readModelConfig accepted an inconsistent config ${JSON.stringify(c)}`);
    }
    bump(tally, 'config ok');
  } catch (e) {
    if (!(e instanceof GgufError)) throw new Error(`${what}: readModelConfig threw ${String(e)} instead of a GgufError`, { cause: e });
    bump(tally, `config ${e.code}`);
  }
}

const bump = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);

class Guard {
  private readonly base: number;
  maxMs = 0;
  constructor() {
    const m = process.memoryUsage();
    this.base = m.heapUsed + m.arrayBuffers;
  }
  /** Runs one case, bounding its time and the memory left afterwards. */
  run(what: () => string, fn: () => void): void {
    const t0 = performance.now();
    fn();
    const ms = performance.now() - t0;
    this.maxMs = Math.max(this.maxMs, ms);
    if (ms > CASE_TIME_LIMIT_MS) throw new Error(`${what()}: took ${ms.toFixed(0)} ms`);
    const m = process.memoryUsage();
    if (m.heapUsed + m.arrayBuffers - this.base > MEMORY_BOUND) throw new Error(`${what()}: memory grew past ${MEMORY_BOUND} bytes`);
  }
}

interface Subject {
  readonly name: string;
  readonly bytes: () => Uint8Array;
  readonly truncations: number;
  readonly corruptions: number;
}

// The vocab files are almost all header (a full parse takes 14 ms for Llama's 32K tokens, 55 ms for GPT-2's 100K
// strings), so they get fewer cases to keep this file near 10 s on a 2-core machine.
const SUBJECTS: Subject[] = [
  ...['stories260K.gguf', 'stories260K-Q8_0.gguf', 'TinyStories-656K.gguf', 'TinyStories-656K-Q4_0.gguf', 'quant-testvectors.gguf'].map(
    (name) => ({ name, bytes: () => new Uint8Array(readFileSync(modelPath(name))), truncations: 300, corruptions: 300 }),
  ),
  { name: 'vocab/ggml-vocab-llama-spm.gguf', bytes: () => new Uint8Array(readFileSync(modelPath('vocab/ggml-vocab-llama-spm.gguf'))), truncations: 100, corruptions: 100 },
  { name: 'vocab/ggml-vocab-gpt-2.gguf', bytes: () => new Uint8Array(readFileSync(modelPath('vocab/ggml-vocab-gpt-2.gguf'))), truncations: 40, corruptions: 40 },
  { name: 'crafted qwen2', bytes: () => craftModel({ arch: 'qwen2', qkvBias: true, layers: 3, kvHeads: 1 }), truncations: 300, corruptions: 300 },
  { name: 'crafted qwen3', bytes: () => craftModel({ arch: 'qwen3', qkNorm: true, headDim: 16, keyLength: true, tied: true }), truncations: 300, corruptions: 300 },
];

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Values that stress count and length checks. */
function interestingU64(rng: ReturnType<typeof prng>, original: bigint): bigint {
  switch (rng.int(9)) {
    case 0:
      return 0n;
    case 1:
      return 1n;
    case 2:
      return 2n ** 64n - 1n;
    case 3:
      return 2n ** BigInt(8 + rng.int(56)); // 2^8 .. 2^63
    case 4:
      return (2n ** BigInt(16 + rng.int(48))) - 1n;
    case 5:
      return BigInt(rng.int(2 ** 31)) * BigInt(rng.int(2 ** 31)) + BigInt(rng.int(2 ** 31));
    case 6:
      return (original + BigInt(rng.int(33) - 16)) & (2n ** 64n - 1n);
    case 7:
      return original ^ (1n << BigInt(rng.int(64)));
    default:
      return original * BigInt(2 + rng.int(1000));
  }
}

describe('fuzz: parseGguf / readModelConfig never throw anything but GgufError', () => {
  for (const subject of SUBJECTS) {
    it(`${subject.name}: ${subject.truncations} truncations`, () => {
      const bytes = subject.bytes();
      const original = parseGguf(bytes);
      const { headerEnd } = walkGguf(bytes);
      const lastTensorEnd = Math.max(0, ...original.tensors.map((t) => original.dataOffset + t.offset + t.byteSize));
      const rng = prng(seedOf(subject.name));
      const guard = new Guard();
      const tally = new Map<string, number>();
      for (let i = 0; i < subject.truncations; i++) {
        const r = rng.next();
        // Biased toward the header: 55% inside it, 10% in the first 64 bytes, 35% anywhere in the file.
        const length =
          r < 0.55 ? rng.int(headerEnd + 1) : r < 0.65 ? rng.int(Math.min(64, bytes.byteLength)) : rng.int(bytes.byteLength);
        const what = (): string => `${subject.name} cut to ${length} bytes (case ${i})`;
        guard.run(what, () => {
          const out = attempt(bytes.subarray(0, length), what);
          if ('header' in out) {
            // Only a cut that keeps every tensor's data can parse, and then it must be the same header.
            if (length < lastTensorEnd || length < headerEnd) throw new Error(`${what()}: parsed although data or header is missing`);
            checkHeader(out.header, length, what());
            expect(out.header.tensors).toEqual(original.tensors);
            bump(tally, 'parsed');
            tryConfig(out.header, what(), tally);
          } else {
            bump(tally, out.code);
          }
        });
      }
      expect(tally.get('parsed') ?? 0).toBeLessThan(subject.truncations);
      console.log(`${subject.name} truncations: ${JSON.stringify(Object.fromEntries(tally))}, slowest ${guard.maxMs.toFixed(1)} ms`);
    });

    it(`${subject.name}: ${subject.corruptions} header corruptions (random bytes; counts, lengths, types, values aimed at)`, async () => {
      const bytes = subject.bytes().slice(); // mutated in place and restored after each case
      const view = new DataView(bytes.buffer);
      const { headerEnd, fields } = walkGguf(bytes, 64);
      const structural = fields.filter((f) => f.kind !== 'value');
      const values = fields.filter((f) => f.kind === 'value');
      const rng = prng(seedOf(subject.name) ^ 0x9e3779b9);
      const guard = new Guard();
      const tally = new Map<string, number>();
      const smallHeader = headerEnd < 100_000;
      for (let i = 0; i < subject.corruptions; i++) {
        const saved: [number, number][] = [];
        const poke = (at: number, value: number): void => {
          saved.push([at, bytes[at]!]);
          bytes[at] = value;
        };
        let desc: string;
        const mode = rng.next();
        if (mode < 0.4) {
          // 1 to 8 random bytes anywhere in the header (the magic and version mostly spared).
          const n = 1 + rng.int(8);
          const ats: number[] = [];
          for (let k = 0; k < n; k++) {
            const at = rng.next() < 0.05 ? rng.int(8) : 8 + rng.int(headerEnd - 8);
            ats.push(at);
            poke(at, rng.int(256));
          }
          desc = `random bytes at ${ats.join(',')}`;
        } else {
          // A count, length, type, dim or offset field (75%) or a scalar metadata value (25%) set to an interesting value.
          const pool = mode < 0.8 ? structural : values.length > 0 ? values : structural;
          const field: GgufField = pool[rng.int(pool.length)]!;
          if (field.size === 8) {
            const value = interestingU64(rng, view.getBigUint64(field.at, true));
            for (let k = 0; k < 8; k++) poke(field.at + k, Number((value >> BigInt(8 * k)) & 0xffn));
            desc = `${field.kind} at ${field.at} = ${value}`;
          } else {
            const value = rng.next() < 0.5 ? rng.int(16) : rng.next() < 0.5 ? 2 ** rng.int(32) - rng.int(2) : rng.int(2 ** 32);
            for (let k = 0; k < 4; k++) poke(field.at + k, (value >>> (8 * k)) & 0xff);
            desc = `${field.kind} at ${field.at} = ${value}`;
          }
        }
        const what = (): string => `${subject.name}: ${desc} (case ${i})`;
        let out: Outcome = { code: 'none' };
        guard.run(what, () => {
          out = attempt(bytes, what);
          if ('header' in out) {
            checkHeader(out.header, bytes.byteLength, what());
            bump(tally, 'parsed');
            tryConfig(out.header, what(), tally);
          } else {
            bump(tally, out.code);
          }
        });
        // The async reader, growing its prefix from a few bytes, must reach the same verdict.
        if (smallHeader && i % 5 === 0) {
          const async = await readGgufHeader(bufferSource(bytes), 1 + rng.int(256)).then(
            (header): Outcome => ({ header }),
            (e: unknown): Outcome => {
              if (!(e instanceof GgufError)) throw new Error(`${what()}: readGgufHeader threw ${String(e)}`, { cause: e });
              return { code: e.code };
            },
          );
          const sync: Outcome = out;
          if ('header' in sync) expect('header' in async && async.header, what()).toEqual(sync.header);
          else expect('code' in async && async.code, what()).toBe(sync.code);
        }
        for (let k = saved.length - 1; k >= 0; k--) bytes[saved[k]![0]] = saved[k]![1];
      }
      console.log(`${subject.name} corruptions: ${JSON.stringify(Object.fromEntries(tally))}, slowest ${guard.maxMs.toFixed(1)} ms`);
    });
  }
});
