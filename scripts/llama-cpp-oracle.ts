// llama.cpp as the oracle of the architecture fixtures: its CPU backend (through node-llama-cpp, installed into
// bench/peer) on a synthetic F32 GGUF with F32 K/V and without flash attention (its CPU flash attention rounds through
// f16), fed token ids directly: the raw logits after each prompt, and greedy tokens (argmax of the raw logits, lowest
// id on a tie) until `positions` positions. Scripts that write fixtures call `runOracle`; CI never needs llama.cpp.
//
//   npm install --prefix bench/peer     (once)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGE = join(ROOT, 'bench', 'peer', 'node_modules', 'node-llama-cpp');

type Item = number | [number, { generateNext: { logits: true } }];
interface Sequence {
  controlledEvaluate(input: Item[]): Promise<({ next: { logits?: Map<number, number> } } | undefined)[]>;
  clearHistory(): Promise<void>;
}
interface Context { getSequence(): Sequence; dispose(): Promise<void> }
interface Model {
  createContext(o: Record<string, unknown>): Promise<Context>;
  dispose(): Promise<void>;
}
interface Llama {
  readonly llamaCppRelease: { readonly repo: string; readonly release: string };
  loadModel(o: { modelPath: string; gpuLayers: number }): Promise<Model>;
  dispose(): Promise<void>;
}

export interface OracleCase {
  readonly prompt_tokens: number[];
  readonly generated_tokens: number[];
  readonly first_generated_position_logits: number[];
}

export interface OracleRun {
  /** Which llama.cpp produced the cases, for the fixture's provenance field. */
  readonly llama_cpp: string;
  readonly cases: OracleCase[];
}

export interface OracleRequest {
  /** The synthetic model file. */
  readonly gguf: Uint8Array;
  readonly vocab: number;
  /** llama.cpp's n_ctx (LongRoPE and YaRN choices depend on it). */
  readonly contextSize: number;
  readonly prompts: readonly (readonly number[])[];
  /** Prompt plus generated tokens end at this many positions. */
  readonly positions: number;
}

/** Dense logits (vocab) from node-llama-cpp's token -> logit map. */
function dense(map: Map<number, number> | undefined, vocab: number): number[] {
  if (!map || map.size !== vocab) throw new Error(`expected ${vocab} logits, got ${map?.size ?? 'none'}`);
  return Array.from({ length: vocab }, (_, i) => map.get(i)!);
}

function argmax(x: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

async function lastLogits(seq: Sequence, tokens: readonly number[], vocab: number): Promise<number[]> {
  const items: Item[] = [...tokens.slice(0, -1), [tokens.at(-1)!, { generateNext: { logits: true } }]];
  const out = await seq.controlledEvaluate(items);
  return dense(out[items.length - 1]?.next.logits, vocab);
}

let llamaPromise: Promise<Llama> | undefined;

async function llama(): Promise<Llama> {
  llamaPromise ??= (async () => {
    const mod = (await import(join(PACKAGE, 'dist', 'index.js'))) as { getLlama(o: Record<string, unknown>): Promise<Llama> };
    return mod.getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
  })();
  return llamaPromise;
}

/** Runs every prompt of `req` through llama.cpp's CPU backend. */
export async function runOracle(req: OracleRequest): Promise<OracleRun> {
  const version = (await import(join(PACKAGE, 'package.json'), { with: { type: 'json' } })) as { default: { version: string } };
  const lib = await llama();
  const dir = mkdtempSync(join(tmpdir(), 'kvchat-oracle-'));
  try {
    const path = join(dir, 'model.gguf');
    writeFileSync(path, req.gguf);
    const model = await lib.loadModel({ modelPath: path, gpuLayers: 0 });
    const context = await model.createContext({
      contextSize: req.contextSize,
      batchSize: req.contextSize,
      threads: 2,
      sequences: 1,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      swaFullCache: true,
      flashAttention: false,
    });
    const seq = context.getSequence();
    const cases: OracleCase[] = [];
    for (const prompt of req.prompts) {
      await seq.clearHistory();
      const first = await lastLogits(seq, prompt, req.vocab);
      const generated = [argmax(first)];
      while (prompt.length + generated.length < req.positions) {
        generated.push(argmax(await lastLogits(seq, [generated.at(-1)!], req.vocab)));
      }
      cases.push({ prompt_tokens: [...prompt], generated_tokens: generated, first_generated_position_logits: first });
    }
    await context.dispose();
    await model.dispose();
    const r = lib.llamaCppRelease;
    return { llama_cpp: `${r.repo}@${r.release} (node-llama-cpp ${version.default.version}, CPU, 2 threads, F32 weights and K/V)`, cases };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Disposes llama.cpp; call once at the end of a script. */
export async function closeOracle(): Promise<void> {
  if (llamaPromise) await (await llamaPromise).dispose();
  llamaPromise = undefined;
}

/**
 * Writes tests/fixtures/<name>.json: the script that made it, llama.cpp's release, the model's spec (the tests check
 * it equals the model they build), the context when it matters, and the cases; keys in the fixtures' order.
 */
export function writeFixture(name: string, f: { readonly generator: string; readonly spec: unknown; readonly contextSize?: number; readonly positions: number; readonly run: OracleRun }): void {
  for (const c of f.run.cases) console.log(`${name}: prompt of ${c.prompt_tokens.length} -> ${c.generated_tokens.slice(0, 16).join(' ')} ...`);
  const context = f.contextSize === undefined ? {} : { context_size: f.contextSize };
  const fixture = { generator: f.generator, llama_cpp: f.run.llama_cpp, spec: f.spec, ...context, positions: f.positions, cases: f.run.cases };
  const out = join(ROOT, 'tests', 'fixtures', `${name}.json`);
  writeFileSync(out, `${JSON.stringify(fixture)}\n`);
  console.log(`wrote ${out}`);
}
