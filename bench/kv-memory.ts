// KV memory under a mixed workload on the real engine: eight conversations decoded together, four of them sharing
// a system prompt, with prompts and answers of assorted lengths. Measured while they are all alive:
// - kv_waste_pct: slots of the allocated physical blocks that hold no token (paging leaves at most one partly filled
//   block per sequence; a contiguous max-context cache would waste the rest of every sequence's context);
// - prefix_blocks_shared: physical blocks referenced by more than one sequence (the shared system prompt).
import { openGgufFile } from '../src/node/file-source';
import type { GpuContext } from '../src/gpu/device';
import { Engine } from '../src/gpu/engine/engine';
import { KV_BLOCK_TOKENS } from '../src/gpu/kv/layout';

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
