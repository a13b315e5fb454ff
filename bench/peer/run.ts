// npm run -s bench -- --peer [--quick] [--json] [--profile] [--out FILE]
//   [--shape tiny,135M,1B,gemma3,qwen3moe,deepseek2,...] [--quant Q8_0,Q4_0,Q4_K] [--skip-greedy]: part of a plan
//   (a long full run in pieces); [--tune]: ours with the kernel variants the app would measure at its first load
//   of each model (reported under `tuned`)
// Our engine against llama.cpp (node-llama-cpp's prebuilt binaries: Vulkan, and its CPU backend as a second line)
// on the same device and the same GGUF files in one run: greedy, same context size, same prompt and token counts,
// 2 CPU threads; the engines take turns within each repetition and every figure is the median of the repetitions.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireNodeDevice } from '../../src/node/dawn-device';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { SHAPES, syntheticModel, type SyntheticShape } from '../synthetic';
import { ARCH_SHAPES, archModel, type ArchShape } from '../synthetic-arch';
import { ensurePeerInstalled, llamaCppEngine } from './llamacpp';
import { oursEngine } from './ours';
import { profileOurs, type StepProfile } from './profile';
import { benchPrompt, commonPrefix, median, type BenchEngine, type LoadedModel } from './types';

/** Lavapipe (Mesa's Vulkan on the CPU): the one Vulkan driver both engines run on here. */
export const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';
const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

type PlanQuant = GgmlType.Q8_0 | GgmlType.Q4_0 | GgmlType.Q4_K;

export interface PeerPlan {
  /** Llama-shaped models (bench/synthetic.ts), each in every type of `quants`. */
  readonly shapes: readonly SyntheticShape[];
  readonly quants: readonly PlanQuant[];
  /** Gemma 3-, Qwen3-MoE- and DeepSeek-V2-shaped models (bench/synthetic-arch.ts), each in every type of `archQuants`. */
  readonly archShapes: readonly ArchShape[];
  readonly archQuants: readonly PlanQuant[];
  readonly prefillTokens: number;
  /** Context lengths at which decode is timed (the prompt length before the timed steps). */
  readonly decodeContexts: readonly [number, number];
  readonly decodeSteps: number;
  readonly reps: number;
}

// Quick: our prefill runs at well under 100 tokens/s on lavapipe with 2 shared cores, so the short decode context
// doubles as the prefill prompt (its time to first token) and the long context is 512, not 2K.
export const QUICK_PLAN: PeerPlan = {
  shapes: [SHAPES.tiny!],
  quants: [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K],
  // Q8_0 only: each architecture model adds ~5 minutes here (`--quant Q4_K` takes the other type).
  archShapes: [ARCH_SHAPES['gemma3-quick']!, ARCH_SHAPES['qwen3moe-quick']!],
  archQuants: [GgmlType.Q8_0],
  prefillTokens: 128,
  decodeContexts: [128, 512],
  decodeSteps: 6,
  reps: 3,
};

export const FULL_PLAN: PeerPlan = {
  shapes: [SHAPES['135M']!, SHAPES['1B']!],
  quants: [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K],
  archShapes: [ARCH_SHAPES.gemma3!, ARCH_SHAPES.qwen3moe!],
  archQuants: [GgmlType.Q8_0, GgmlType.Q4_K],
  prefillTokens: 512,
  decodeContexts: [128, 2048],
  decodeSteps: 32,
  reps: 3,
};

/** The shared real models and the reference prompt each is checked on (the -dequant references for quantized files). */
const GREEDY_CASES = [
  { model: 'stories260K.gguf', reference: 'llama2c_stories260K_once_upon_a_time.json' },
  { model: 'stories260K-Q8_0.gguf', reference: 'llama2c_stories260K-Q8_0-dequant_once_upon_a_time.json' },
  { model: 'TinyStories-656K.gguf', reference: 'llamacpp_TinyStories-656K-F32_once_upon_a_time.json' },
  { model: 'TinyStories-656K-Q4_0.gguf', reference: 'llamacpp_TinyStories-656K-Q4_0-dequant_once_upon_a_time.json' },
] as const;
const EOS = 2;
/** The Llama-shaped models' vocabulary: the shared Llama-2 SentencePiece one. */
const LLAMA_VOCAB = 32000;
const GREEDY_CONTEXT = 512;

export interface GreedyCheck {
  readonly model: string;
  readonly tokens: number;
  /** Per engine: how many leading tokens equal ours, and equal the reference. */
  readonly engines: Record<string, { readonly same_as_ours: number; readonly same_as_reference: number; readonly length: number }>;
  /** Leading tokens where llama.cpp (Vulkan) equals ours, over the longer of the two generations. */
  readonly match_fraction: number;
  readonly identical: boolean;
  /** First position (0-based, in generated tokens) where ours and llama.cpp (Vulkan) differ, if they do. */
  readonly first_divergence?: number;
}

async function greedyCheck(engines: readonly BenchEngine[]): Promise<GreedyCheck[]> {
  const out: GreedyCheck[] = [];
  for (const c of GREEDY_CASES) {
    const ref = JSON.parse(await readFile(join(SHARED, 'reference', c.reference), 'utf8')) as { prompt_tokens: number[]; generated_tokens: number[] };
    const maxNew = ref.generated_tokens.length;
    const runs: Record<string, number[]> = {};
    const ms: string[] = [];
    for (const e of engines) {
      const t0 = performance.now();
      const m = await e.load(join(SHARED, 'models', c.model), GREEDY_CONTEXT);
      try {
        runs[e.name] = await m.greedy(ref.prompt_tokens, maxNew, new Set([EOS]));
      } finally {
        await m.dispose();
      }
      ms.push(`${e.name} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    log(`  greedy ${c.model}: ${ms.join(', ')}`);
    const ours = runs.ours!;
    const peer = runs['llama.cpp-vulkan']!;
    const same = commonPrefix(ours, peer);
    const longest = Math.max(ours.length, peer.length);
    out.push({
      model: c.model,
      tokens: maxNew,
      engines: Object.fromEntries(
        Object.entries(runs).map(([k, t]) => [k, { same_as_ours: commonPrefix(t, ours), same_as_reference: commonPrefix(t, ref.generated_tokens), length: t.length }]),
      ),
      match_fraction: round(same / longest, 4),
      identical: same === longest,
      ...(same < longest ? { first_divergence: same } : {}),
    });
    const r = out[out.length - 1]!;
    log(`greedy ${c.model}: ours vs llama.cpp ${r.identical ? 'identical' : `diverge at token ${same}`} (${(r.match_fraction * 100).toFixed(1)}%); ` +
      Object.entries(r.engines).map(([k, v]) => `${k} = reference for ${v.same_as_reference}/${ref.generated_tokens.length}`).join(', '));
  }
  return out;
}

export interface EngineFigures {
  readonly prefill_tokens_per_s: number;
  readonly decode_tokens_per_s: number;
  readonly decode_tokens_per_s_2k: number;
}

export interface ModelRow {
  readonly model: string;
  readonly quant: string;
  readonly file_mib: number;
  readonly context_size: number;
  readonly prefill_tokens: number;
  readonly decode_contexts: readonly number[];
  readonly decode_steps: number;
  readonly reps: number;
  readonly engines: Record<string, EngineFigures>;
  /** ours / llama.cpp per figure, against each peer backend. */
  readonly ratios: Record<string, EngineFigures>;
  /** Per engine: leading tokens equal to ours among `AGREEMENT_TOKENS` greedy ones after the decode prompt. */
  readonly greedy_same_as_ours: Record<string, number>;
}

/** A benched file: its model's label, and the vocabulary and BOS id its prompts are drawn with. */
interface BenchFile {
  readonly model: string;
  readonly path: string;
  readonly bytes: number;
  readonly vocab: number;
  readonly bos: number;
}

/**
 * Greedy tokens compared per timed model: a random-weight model's logits are near-ties often enough that a
 * difference in the last bits (8-bit activations on llama.cpp's CPU line) can flip one; a short run shows whether
 * the engines compute the same model, not more.
 */
const AGREEMENT_TOKENS = 16;

/** Context size both engines get: room for the longest decode run, in whole 256-token units (llama.cpp pads so). */
const contextFor = (plan: PeerPlan): number => Math.ceil((plan.decodeContexts[1] + plan.decodeSteps + 2) / 256) * 256;

async function benchModel(engines: readonly BenchEngine[], file: BenchFile, quant: GgmlType, plan: PeerPlan): Promise<ModelRow> {
  const contextSize = contextFor(plan);
  const prefill = benchPrompt(plan.prefillTokens, file.vocab, file.bos);
  const [c1, c2] = plan.decodeContexts;
  const short = benchPrompt(c1, file.vocab, file.bos);
  const long = benchPrompt(c2, file.vocab, file.bos);
  const loaded: [BenchEngine, LoadedModel][] = [];
  try {
    for (const e of engines) loaded.push([e, await e.load(file.path, contextSize)]);
    // Warm-up: pipelines compiled, buffers touched, caches filled, before anything is timed.
    const prefillFromDecode = plan.prefillTokens === c1;
    for (const [, m] of loaded) {
      if (!prefillFromDecode) await m.prefillMs(prefill);
      await m.decode(short, 2);
    }
    const samples = new Map(engines.map((e) => [e.name, { prefill: [] as number[], d1: [] as number[], d2: [] as number[] }]));
    for (let rep = 0; rep < plan.reps; rep++) {
      // Interleaved: each repetition runs every engine once, starting with a different one each time, so a burst of
      // load from other work on this shared machine lands on all engines alike.
      const order = loaded.map((_, i) => loaded[(i + rep) % loaded.length]!);
      for (const [e, m] of order) {
        const s = samples.get(e.name)!;
        const d1 = await m.decode(short, plan.decodeSteps);
        s.prefill.push(prefillFromDecode ? d1.prefillMs : await m.prefillMs(prefill));
        s.d1.push(d1.stepMs);
        s.d2.push((await m.decode(long, plan.decodeSteps)).stepMs);
        log(`  rep ${rep + 1}/${plan.reps} ${e.name}: prefill ${s.prefill.at(-1)!.toFixed(0)} ms, step ${s.d1.at(-1)!.toFixed(1)} / ${s.d2.at(-1)!.toFixed(1)} ms`);
      }
    }
    const figures: Record<string, EngineFigures> = {};
    for (const [name, s] of samples) {
      figures[name] = {
        prefill_tokens_per_s: round(plan.prefillTokens / (median(s.prefill) / 1000)),
        decode_tokens_per_s: round(1000 / median(s.d1)),
        decode_tokens_per_s_2k: round(1000 / median(s.d2)),
      };
    }
    const ours = figures.ours!;
    const ratios: Record<string, EngineFigures> = {};
    for (const [name, f] of Object.entries(figures)) {
      if (name === 'ours') continue;
      ratios[name] = {
        prefill_tokens_per_s: round(ours.prefill_tokens_per_s / f.prefill_tokens_per_s, 3),
        decode_tokens_per_s: round(ours.decode_tokens_per_s / f.decode_tokens_per_s, 3),
        decode_tokens_per_s_2k: round(ours.decode_tokens_per_s_2k / f.decode_tokens_per_s_2k, 3),
      };
    }
    const generated = new Map<string, number[]>();
    for (const [e, m] of loaded) generated.set(e.name, await m.greedy(short, AGREEMENT_TOKENS, new Set()));
    const oursTokens = generated.get('ours')!;
    return {
      model: file.model,
      quant: ggmlTypeName(quant),
      file_mib: round(file.bytes / 2 ** 20, 1),
      context_size: contextSize,
      prefill_tokens: plan.prefillTokens,
      decode_contexts: plan.decodeContexts,
      decode_steps: plan.decodeSteps,
      reps: plan.reps,
      engines: figures,
      ratios,
      greedy_same_as_ours: Object.fromEntries([...generated].filter(([k]) => k !== 'ours').map(([k, t]) => [k, commonPrefix(t, oursTokens)])),
    };
  } finally {
    for (const [, m] of loaded) await m.dispose();
  }
}

function printRow(r: ModelRow): void {
  for (const [name, f] of Object.entries(r.engines)) {
    const ratio = r.ratios[name];
    log(`  ${r.model} ${r.quant} ${name.padEnd(17)} prefill ${f.prefill_tokens_per_s} tok/s, decode@${r.decode_contexts[0]} ${f.decode_tokens_per_s} tok/s, decode@${r.decode_contexts[1]} ${f.decode_tokens_per_s_2k} tok/s` +
      (ratio ? `  (ours/this: ${ratio.prefill_tokens_per_s}, ${ratio.decode_tokens_per_s}, ${ratio.decode_tokens_per_s_2k})` : '') +
      (name in r.greedy_same_as_ours ? `; greedy = ours for ${r.greedy_same_as_ours[name]}/${AGREEMENT_TOKENS}` : ''));
  }
}

/** The quick or full plan, narrowed by `--shape` and `--quant` (comma lists). */
export function choosePlan(argv: readonly string[]): PeerPlan {
  const base = argv.includes('--quick') ? QUICK_PLAN : FULL_PLAN;
  const list = (flag: string): string[] | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? (argv[i + 1] ?? '').split(',').filter(Boolean) : undefined;
  };
  const shapeNames = list('--shape');
  const quantNames = list('--quant');
  // A --shape list names Llama shapes, architecture shapes or both; the kind it leaves out is not run.
  for (const n of shapeNames ?? []) {
    if (!SHAPES[n] && !ARCH_SHAPES[n]) throw new Error(`--shape ${n}: not one of ${[...Object.keys(SHAPES), ...Object.keys(ARCH_SHAPES)].join(', ')}`);
  }
  const shapes = shapeNames?.flatMap((n) => SHAPES[n] ?? []);
  const archShapes = shapeNames?.flatMap((n) => ARCH_SHAPES[n] ?? []);
  const quants = quantNames?.map((n) => {
    const q = base.quants.find((t) => ggmlTypeName(t) === n) ?? FULL_PLAN.quants.find((t) => ggmlTypeName(t) === n);
    if (q === undefined) throw new Error(`--quant ${n}: not one of ${FULL_PLAN.quants.map(ggmlTypeName).join(', ')}`);
    return q;
  });
  return { ...base, ...(shapes ? { shapes } : {}), ...(archShapes ? { archShapes } : {}), ...(quants ? { quants, archQuants: quants } : {}) };
}

export async function runPeerBench(argv: readonly string[]): Promise<void> {
  const args = new Set(argv);
  const quick = args.has('--quick');
  const plan = choosePlan(argv);
  // Both engines must see the same Vulkan driver: lavapipe, for the whole process (Dawn reads it when it first
  // enumerates adapters, below). llama.cpp hides CPU-type Vulkan devices unless they are named visible.
  process.env.VK_ICD_FILENAMES = process.env.KVCHAT_PEER_ICD ?? LAVAPIPE_ICD;
  process.env.GGML_VK_VISIBLE_DEVICES ??= '0';
  ensurePeerInstalled(log);
  const t0 = performance.now();
  const gpu = await acquireNodeDevice();
  log(`ours: WebGPU (Dawn) on ${gpu.adapterDescription}; driver ${process.env.VK_ICD_FILENAMES}`);
  const vulkan = await llamaCppEngine('vulkan');
  const cpu = await llamaCppEngine('cpu');
  for (const p of [vulkan, cpu]) log(`peer: ${p.info.engine} ${p.info.version} (${p.info.binding}), ${p.info.backend} on ${p.info.device}`);
  const tuned: { model: string; kernels: readonly { kernel: string; variant: string }[] }[] = [];
  const ours = oursEngine(gpu, {
    tune: args.has('--tune'),
    onTuned: (path, kernels) => {
      tuned.push({ model: basename(path), kernels });
      log(`ours tuned for ${basename(path)}: ${kernels.map((k) => `${k.kernel} ${k.variant}`).join(', ')}`);
    },
  });
  const engines: BenchEngine[] = [ours, vulkan, cpu];

  // The cross-check is against llama.cpp's Vulkan backend; its CPU backend runs too (8-bit activations for quantized
  // weights: it is expected to leave the Q4_0 reference early).
  const greedy = args.has('--skip-greedy') ? [] : await greedyCheck(engines);

  const dir = join(tmpdir(), 'kvchat-bench-models');
  const rows: ModelRow[] = [];
  const runs: { readonly model: string; readonly quant: PlanQuant; readonly vocab: number; readonly bos: number; readonly write: () => Promise<string> }[] = [
    ...plan.shapes.flatMap((shape) => plan.quants.map((quant) => ({ model: shape.name, quant, vocab: LLAMA_VOCAB, bos: 1, write: () => syntheticModel(dir, shape, quant) }))),
    ...plan.archShapes.flatMap((shape) =>
      plan.archQuants.map((quant) => ({ model: shape.name, quant, vocab: shape.spec.vocab, bos: shape.bos, write: () => archModel(dir, shape, quant) })),
    ),
  ];
  for (const r of runs) {
    const path = await r.write();
    const { size } = await stat(path);
    log(`${r.model} ${ggmlTypeName(r.quant)} (${(size / 2 ** 20).toFixed(0)} MiB, context ${contextFor(plan)}):`);
    const row = await benchModel(engines, { model: r.model, path, bytes: size, vocab: r.vocab, bos: r.bos }, r.quant, plan);
    printRow(row);
    rows.push(row);
  }
  await vulkan.close();
  await cpu.close();

  // --profile: where our time goes, per kernel, on the headline model (GPU timestamps of the real forward pass).
  let profile: StepProfile[] | undefined;
  if (args.has('--profile') && plan.shapes[0]) {
    const path = await syntheticModel(dir, plan.shapes[0], GgmlType.Q8_0);
    profile = await profileOurs(gpu, path, Math.min(plan.prefillTokens, 64), plan.decodeContexts, contextFor(plan));
    for (const p of profile) {
      log(`profile ${p.what}: GPU ${p.gpu_ms} ms (wall ${p.wall_ms} ms)${p.matmul_gb_per_s !== undefined ? `, matmul ${p.matmul_gb_per_s} GB/s` : ''}`);
      for (const k of p.kernels.slice(0, 5)) log(`  ${k.kernel.padEnd(28)} ${k.dispatches} dispatches, ${k.ms} ms (${(k.share * 100).toFixed(1)}%)`);
    }
  }

  const headline = rows.find((r) => r.quant === 'Q8_0') ?? rows[0]!;
  const peerRatio = headline.ratios['llama.cpp-vulkan']!;
  const matched = greedy.reduce((n, g) => n + g.match_fraction * Math.max(g.engines.ours!.length, g.engines['llama.cpp-vulkan']!.length), 0);
  const total = greedy.reduce((n, g) => n + Math.max(g.engines.ours!.length, g.engines['llama.cpp-vulkan']!.length), 0);
  const result = {
    device: gpu.adapterDescription,
    driver: process.env.VK_ICD_FILENAMES,
    cpu_threads: 2,
    quick,
    date: new Date().toISOString(),
    peer: { ...vulkan.info, cpu_line: cpu.info },
    headline_model: `${headline.model} ${headline.quant}`,
    decode_vs_llamacpp: peerRatio.decode_tokens_per_s,
    prefill_vs_llamacpp: peerRatio.prefill_tokens_per_s,
    decode_vs_llamacpp_2k: peerRatio.decode_tokens_per_s_2k,
    decode_vs_llamacpp_cpu: headline.ratios['llama.cpp-cpu']!.decode_tokens_per_s,
    peer_greedy_match: total ? round(matched / total, 4) : null,
    peer_greedy_identical_models: `${greedy.filter((g) => g.identical).length}/${greedy.length}`,
    peer_cpu_greedy_identical_models: `${greedy.filter((g) => { const c = g.engines['llama.cpp-cpu']!; return c.same_as_ours === Math.max(c.length, g.engines.ours!.length); }).length}/${greedy.length}`,
    greedy,
    ...(tuned.length > 0 ? { tuned } : {}),
    table: rows,
    ...(profile ? { profile } : {}),
    seconds: round((performance.now() - t0) / 1000, 1),
  };
  log(`done in ${result.seconds} s: decode ${result.decode_vs_llamacpp}x, prefill ${result.prefill_vs_llamacpp}x, decode@2K ${result.decode_vs_llamacpp_2k}x llama.cpp Vulkan; greedy match ${result.peer_greedy_match}`);
  const outIdx = argv.indexOf('--out');
  if (outIdx >= 0 && argv[outIdx + 1]) await writeFile(argv[outIdx + 1]!, `${JSON.stringify(result, null, 2)}\n`);
  if (args.has('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
}
