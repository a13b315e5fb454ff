// KV memory under a mixed workload on the real engine: eight conversations decoded together, four of them sharing
// a system prompt, with prompts and answers of assorted lengths. Measured while they are all alive:
// - kv_waste_pct: slots of the allocated physical blocks that hold no token (paging leaves at most one partly filled
//   block per sequence; a contiguous max-context cache would waste the rest of every sequence's context);
// - prefix_blocks_shared: physical blocks referenced by more than one sequence (the shared system prompt).
// And the KV cache types (kvTypeBenchmark): bytes per token, decode speed, greedy agreement between f32/f16/q8_0/q4_0.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openGgufFile } from '../src/node/file-source';
import type { GpuContext } from '../src/gpu/device';
import { Engine } from '../src/gpu/engine/engine';
import type { GgufFile } from '../src/gpu/gguf/reader';
import { blockBytes, KV_BLOCK_TOKENS, type KvDtype } from '../src/gpu/kv/layout';
import { readModelConfig } from '../src/gpu/model/config';
import { tokenizerFromGguf } from '../src/gpu/tokenizer';

export interface KvMemoryFigures {
  readonly model: string;
  readonly context_length: number;
  readonly sequences: number;
  readonly logical_tokens: number;
  readonly physical_blocks: number;
  readonly filled_slots: number;
  readonly kv_waste_pct: number;
  readonly prefix_blocks_shared: number;
  /** What a contiguous cache reserving the full context per sequence would waste, for comparison. */
  readonly contiguous_waste_pct: number;
}

export async function kvMemoryBenchmark(gpu: GpuContext, path: string): Promise<KvMemoryFigures> {
  const { file, close } = await openGgufFile(path);
  const engine = await Engine.load(gpu, file, { maxSeqs: 8, maxBatchTokens: 128 });
  try {
    let state = 12345;
    const rand = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
    const token = (): number => 3 + rand(engine.config.vocabSize - 3);
    const system = Array.from({ length: 56 }, token);
    // The first conversation with the system prompt runs alone first, so its blocks are cached for the others.
    const first = engine.createSequence();
    await engine.generate(first, [...system, ...Array.from({ length: 12 }, token)], { maxNewTokens: 4 });
    const seqs = [first];
    const runs: Promise<unknown>[] = [];
    for (let i = 1; i < 8; i++) {
      const seq = engine.createSequence();
      seqs.push(seq);
      const user = Array.from({ length: 5 + rand(60) }, token);
      runs.push(engine.generate(seq, i < 4 ? [...system, ...user] : user, { maxNewTokens: 2 + rand(10) }));
    }
    await Promise.all(runs);
    const fill = new Map<number, number>();
    const refs = new Map<number, number>();
    let logical = 0;
    for (const seq of seqs) {
      const n = engine.sequenceTokens(seq).computed.length;
      logical += n;
      engine.kv.blocks.table(seq).forEach((block, i) => {
        fill.set(block, Math.max(fill.get(block) ?? 0, Math.min(KV_BLOCK_TOKENS, n - i * KV_BLOCK_TOKENS)));
        refs.set(block, (refs.get(block) ?? 0) + 1);
      });
    }
    const filled = [...fill.values()].reduce((a, b) => a + b, 0);
    const slots = fill.size * KV_BLOCK_TOKENS;
    const contiguous = seqs.length * engine.config.contextLength;
    const figures: KvMemoryFigures = {
      model: path.split(/[\\/]/).pop() ?? path,
      context_length: engine.config.contextLength,
      sequences: seqs.length,
      logical_tokens: logical,
      physical_blocks: fill.size,
      filled_slots: filled,
      kv_waste_pct: Math.round(((slots - filled) / slots) * 1000) / 10,
      prefix_blocks_shared: [...refs.values()].filter((r) => r > 1).length,
      contiguous_waste_pct: Math.round(((contiguous - logical) / contiguous) * 1000) / 10,
    };
    for (const seq of seqs) engine.releaseSequence(seq);
    return figures;
  } finally {
    engine.destroy();
    await close();
  }
}

/** What one KV cache type costs and how closely its greedy output follows the others. */
export interface KvTypeFigures {
  /** Bytes of K and V per token (every layer) for each type, on the shapes the benchmarks and the README name. */
  readonly bytes_per_token: Record<string, Record<KvDtype, number>>;
  /** Decode on a synthetic model after a `context`-token prompt, each type in the same run (best of two rounds). */
  readonly decode: { readonly model: string; readonly context: number; readonly tokens_per_s: Record<string, number> };
  /**
   * Greedy runs of the shared models' reference prompts (200 positions or EOS): for each pair of KV types, the
   * generated tokens that match before the first difference, and how many each run generated.
   */
  readonly greedy_agreement: readonly {
    readonly model: string;
    readonly reference: string;
    readonly generated: number;
    readonly q8_0_vs_f16: number;
    readonly q8_0_vs_f32: number;
    readonly q4_0_vs_f16: number;
    readonly f16_vs_f32: number;
    readonly f32_vs_reference: number;
  }[];
}

const KV_TYPES_MEASURED: readonly KvDtype[] = ['f32', 'f16', 'q8_0', 'q4_0'];

/** K+V bytes per token of every layer, by type (a pool's block is 16 tokens). */
export function kvBytesPerToken(nLayers: number, nKvHeads: number, headDim: number): Record<KvDtype, number> {
  const per = (dtype: KvDtype): number => blockBytes({ nLayers, nKvHeads, headDim, dtype }) / KV_BLOCK_TOKENS;
  return { f32: per('f32'), f16: per('f16'), q8_0: per('q8_0'), q4_0: per('q4_0') };
}

function agreement(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Median ms between tokens of a greedy decode of `steps` tokens after `prompt`. */
async function decodeStepMs(gpu: GpuContext, file: GgufFile, kvDtype: KvDtype, prompt: readonly number[], steps: number): Promise<number> {
  const engine = await Engine.load(gpu, file, { maxSeqs: 1, maxBatchTokens: 256, kvDtype, kvBlocks: Math.ceil((prompt.length + steps) / KV_BLOCK_TOKENS) + 20 });
  try {
    const times: number[] = [];
    let last = 0;
    await engine.generate(engine.createSequence(), prompt, {
      maxNewTokens: steps + 1,
      onToken: () => {
        const t = performance.now();
        if (last) times.push(t - last);
        last = t;
      },
    });
    return [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  } finally {
    engine.destroy();
  }
}

interface ReferenceRun {
  readonly prompt_tokens: number[];
  readonly generated_tokens: number[];
}

const SHARED_CASES = [
  ['stories260K.gguf', 'llama2c_stories260K_once_upon_a_time.json'],
  ['stories260K.gguf', 'llama2c_stories260K_empty.json'],
  ['stories260K-Q8_0.gguf', 'llama2c_stories260K-Q8_0-dequant_once_upon_a_time.json'],
  ['TinyStories-656K.gguf', 'llamacpp_TinyStories-656K-F32_once_upon_a_time.json'],
  ['TinyStories-656K-Q4_0.gguf', 'llamacpp_TinyStories-656K-Q4_0-dequant_once_upon_a_time.json'],
] as const;

/**
 * Bytes per token of each KV type, decode speed of q8_0 against f16 (and f32) KV on `decodeModel` after a
 * `context`-token prompt, and greedy agreement between the types on the shared models (`sharedDir`: ../shared).
 */
export async function kvTypeBenchmark(gpu: GpuContext, decodeModel: string, sharedDir: string, context: number, steps: number): Promise<KvTypeFigures> {
  const decode: Record<string, number> = {};
  const { file, close } = await openGgufFile(decodeModel);
  let model: string;
  try {
    const c = readModelConfig(file.header);
    model = c.name;
    const prompt = Array.from({ length: context }, (_, i) => 3 + ((i * 7919) % (c.vocabSize - 3)));
    // Two rounds in opposite orders, the faster of each type's two: a shared CPU driver drifts during a run.
    for (const order of [KV_TYPES_MEASURED, [...KV_TYPES_MEASURED].reverse()]) {
      for (const dtype of order) {
        const perS = Math.round((1000 / (await decodeStepMs(gpu, file, dtype, prompt, steps))) * 100) / 100;
        decode[dtype] = Math.max(decode[dtype] ?? 0, perS);
      }
    }
  } finally {
    await close();
  }
  const greedy: KvTypeFigures['greedy_agreement'][number][] = [];
  for (const [name, referenceName] of SHARED_CASES) {
    const { file: shared, close: closeShared } = await openGgufFile(join(sharedDir, 'models', name));
    try {
      const ref = JSON.parse(await readFile(join(sharedDir, 'reference', referenceName), 'utf8')) as ReferenceRun;
      const runs = {} as Record<KvDtype, number[]>;
      for (const kvDtype of KV_TYPES_MEASURED) {
        const engine = await Engine.load(gpu, shared, { maxSeqs: 1, kvDtype });
        try {
          const stopTokens = tokenizerFromGguf(shared.metadata).endOfGeneration;
          runs[kvDtype] = (await engine.generate(engine.createSequence(), ref.prompt_tokens, { maxNewTokens: ref.generated_tokens.length, stopTokens })).tokens;
        } finally {
          engine.destroy();
        }
      }
      greedy.push({
        model: name,
        reference: referenceName,
        generated: runs.q8_0.length,
        q8_0_vs_f16: agreement(runs.q8_0, runs.f16),
        q8_0_vs_f32: agreement(runs.q8_0, runs.f32),
        q4_0_vs_f16: agreement(runs.q4_0, runs.f16),
        f16_vs_f32: agreement(runs.f16, runs.f32),
        f32_vs_reference: agreement(runs.f32, ref.generated_tokens),
      });
    } finally {
      await closeShared();
    }
  }
  return {
    bytes_per_token: {
      'Llama-3.2-1B (16 layers, 8 KV heads, head dim 64)': kvBytesPerToken(16, 8, 64),
      'Llama-3.1-8B (32 layers, 8 KV heads, head dim 128)': kvBytesPerToken(32, 8, 128),
      'SmolLM-135M (30 layers, 3 KV heads, head dim 64)': kvBytesPerToken(30, 3, 64),
    },
    decode: { model, context, tokens_per_s: decode },
    greedy_agreement: greedy,
  };
}
