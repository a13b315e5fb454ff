// npm run -s bench -- --mla [--quick] [--json] [--out FILE] [--context N] [--reps N] [--skip-gqa | --gqa 135M|tiny|1B]
// Multi-head latent attention's figures (issue 22):
// - KV bytes per token of a DeepSeek-V2-Lite-shaped MLA model against GQA models of similar size, from the engine's
//   own pool layout (layout.ts blockBytes over KV_BLOCK_TOKENS), at f16 and q8_0;
// - the resume of a long MLA chat from SQLite against recomputing it (bench/resume.ts resumeBenchmark: the real
//   store, a fresh pool, the conversation's blocks and tail swapped in), with the 135M GQA shape measured in the same
//   run, the two interleaved in every repetition; medians of the repetitions.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType } from '../src/gpu/gguf/types';
import { blockBytes, KV_BLOCK_TOKENS, type KvDtype, type KvLayout } from '../src/gpu/kv/layout';
import { acquireNodeDevice } from '../src/node/dawn-device';
import { SYNTHETIC_DEEPSEEK2_LITE_HEADS, syntheticDeepseek2Gguf, type SyntheticDeepseek2Spec } from '../tests/helpers/deepseek2-synthetic';
import { resumeBenchmark, type ResumeFigures } from './resume';
import { SHAPES, syntheticModel } from './synthetic';

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A model's cache geometry as the engine lays it out (KvLayout less the dtype). */
interface CacheShape {
  readonly model: string;
  readonly layout: Omit<KvLayout, 'dtype'>;
}

/**
 * DeepSeek-V2-Lite (15.7B total, 2.4B active): 27 layers, one cached row of latent 512 + RoPE key 64; against
 * Llama-3-8B (32 layers, 8 KV heads of 128) and the engine's 1B bench shape (16 layers, 8 KV heads of 64).
 */
export const CACHE_SHAPES: readonly CacheShape[] = [
  { model: 'DeepSeek-V2-Lite (MLA)', layout: { nLayers: 27, nKvHeads: 1, headDim: 512 + 64, latentDim: 512 } },
  { model: 'Llama-3-8B (GQA 8x128)', layout: { nLayers: 32, nKvHeads: 8, headDim: 128 } },
  { model: 'synthetic-1B (GQA 8x64)', layout: { nLayers: 16, nKvHeads: 8, headDim: 64 } },
];

const KV_DTYPES: readonly KvDtype[] = ['f16', 'q8_0'];

export interface KvBytesRow {
  readonly model: string;
  /** Bytes of one token's cache, every layer, by KV type. */
  readonly bytes_per_token: Record<string, number>;
  /** This model's bytes per token over the MLA model's, by KV type. */
  readonly vs_mla: Record<string, number>;
}

export function kvBytesPerToken(): KvBytesRow[] {
  const perToken = (s: CacheShape, dtype: KvDtype): number => blockBytes({ ...s.layout, dtype }) / KV_BLOCK_TOKENS;
  const mla = CACHE_SHAPES[0]!;
  return CACHE_SHAPES.map((s) => ({
    model: s.model,
    bytes_per_token: Object.fromEntries(KV_DTYPES.map((d) => [d, perToken(s, d)])),
    vs_mla: Object.fromEntries(KV_DTYPES.map((d) => [d, round(perToken(s, d) / perToken(mla, d), 2)])),
  }));
}

/**
 * DeepSeek-V2-Lite's attention exactly (16 heads of 128 + 64, latent 512, v_head 128) in the two-layer, 256-wide
 * model of the engine's tests (SYNTHETIC_DEEPSEEK2_LITE_HEADS), with room for an 8K context: the cache rows and the
 * attention work per token are V2-Lite's, the layers 2 of its 27.
 */
const MLA_RESUME_SPEC: SyntheticDeepseek2Spec = { ...SYNTHETIC_DEEPSEEK2_LITE_HEADS, contextLength: 8192 };

async function mlaResumeModel(dir: string): Promise<string> {
  const path = join(dir, 'synthetic-deepseek2-lite-heads-2L-8K-F32.gguf');
  if (await stat(path).then((st) => st.size > 0, () => false)) return path;
  await mkdir(dir, { recursive: true });
  await writeFile(path, syntheticDeepseek2Gguf(MLA_RESUME_SPEC));
  return path;
}

/** The medians of `runs` (same model and context), each timing and ratio on its own. */
interface ResumeMedians {
  readonly model: string;
  readonly layers: number;
  readonly context: number;
  readonly reps: number;
  readonly recompute_ms: number;
  readonly swap_in_ms: number;
  readonly restore_ms: number;
  readonly resume_speedup: number;
  readonly resume_mb_per_s: number;
  /** Bytes read back from SQLite: every saved block of the conversation, its tail included. */
  readonly bytes_read: number;
  readonly bytes_per_token: number;
  readonly reused_tokens: number;
  readonly runs: readonly ResumeFigures[];
}

function medians(model: string, layers: number, runs: readonly ResumeFigures[]): ResumeMedians {
  const m = (k: 'recompute_ms' | 'swap_in_ms' | 'restore_ms' | 'resume_speedup' | 'resume_mb_per_s'): number => round(median(runs.map((r) => r[k])));
  const last = runs[runs.length - 1]!;
  return {
    model,
    layers,
    context: last.context,
    reps: runs.length,
    recompute_ms: m('recompute_ms'),
    swap_in_ms: m('swap_in_ms'),
    restore_ms: m('restore_ms'),
    resume_speedup: m('resume_speedup'),
    resume_mb_per_s: m('resume_mb_per_s'),
    bytes_read: last.bytes,
    bytes_per_token: round(last.bytes / last.context, 1),
    reused_tokens: last.reused_tokens,
    runs,
  };
}

const numberArg = (argv: readonly string[], flag: string, fallback: number): number => {
  const i = argv.indexOf(flag);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} takes a positive integer, not ${argv[i + 1]}`);
  return n;
};

export async function runMlaBench(argv: readonly string[]): Promise<void> {
  const args = new Set(argv);
  const quick = args.has('--quick');
  const context = numberArg(argv, '--context', quick ? 512 : 4096);
  const reps = numberArg(argv, '--reps', quick ? 1 : 3);
  const t0 = performance.now();

  const kvBytes = kvBytesPerToken();
  for (const r of kvBytes) {
    log(`KV bytes/token ${r.model.padEnd(26)} ${KV_DTYPES.map((d) => `${d} ${r.bytes_per_token[d]} (${r.vs_mla[d]}x MLA)`).join(', ')}`);
  }

  const gpu = await acquireNodeDevice();
  log(`device: ${gpu.adapterDescription} (f16: ${gpu.caps.f16}); driver ${process.env.VK_ICD_FILENAMES ?? 'default'}`);
  const dir = join(tmpdir(), 'kvchat-bench-models');
  const models = [{ model: 'synthetic-deepseek2-lite-heads (MLA, 2 layers)', layers: MLA_RESUME_SPEC.layers, path: await mlaResumeModel(dir) }];
  if (!args.has('--skip-gqa')) {
    // The 135M geometry, or its 4-layer cut (`--gqa tiny`) where 30 layers of prefill at this context take too long.
    const name = argv.includes('--gqa') ? argv[argv.indexOf('--gqa') + 1]! : '135M';
    const shape = SHAPES[name];
    if (!shape) throw new Error(`--gqa ${name}: not one of ${Object.keys(SHAPES).join(', ')}`);
    models.push({ model: `${shape.name} Q8_0 (GQA 3x64, ${shape.layers} layers)`, layers: shape.layers, path: await syntheticModel(dir, shape, GgmlType.Q8_0) });
  }
  // An untimed short run of each first: the driver's shader cache warm, so no repetition pays the first compile.
  for (const m of models) await resumeBenchmark(gpu, m.path, 128);
  const runs = models.map(() => [] as ResumeFigures[]);
  for (let rep = 0; rep < reps; rep++) {
    // Interleaved, starting with a different model each time: a burst of load on this shared machine lands on both.
    for (let k = 0; k < models.length; k++) {
      const i = (k + rep) % models.length;
      const r = await resumeBenchmark(gpu, models[i]!.path, context);
      runs[i]!.push(r);
      log(`  rep ${rep + 1}/${reps} ${models[i]!.model}: recompute ${r.recompute_ms} ms, resume ${r.swap_in_ms} ms (restore ${r.restore_ms} ms, ${r.bytes} bytes): ${r.resume_speedup}x`);
    }
  }
  const resume = models.map((m, i) => medians(m.model, m.layers, runs[i]!));
  for (const r of resume) log(`resume ${r.model} @${r.context}: ${r.resume_speedup}x (recompute ${r.recompute_ms} ms, resume ${r.swap_in_ms} ms, ${(r.bytes_read / 2 ** 20).toFixed(2)} MiB read)`);

  const result = {
    device: gpu.adapterDescription,
    driver: process.env.VK_ICD_FILENAMES ?? null,
    quick,
    date: new Date().toISOString(),
    kv_bytes_per_token: kvBytes,
    mla_resume_speedup: resume[0]!.resume_speedup,
    resume,
    seconds: round((performance.now() - t0) / 1000, 1),
  };
  const outIdx = argv.indexOf('--out');
  if (outIdx >= 0 && argv[outIdx + 1]) await writeFile(argv[outIdx + 1]!, `${JSON.stringify(result, null, 2)}\n`);
  if (args.has('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
}
