// Regenerates tests/fixtures/arch-<arch>.json: llama.cpp's CPU backend (through node-llama-cpp, installed into
// bench/peer) run on the synthetic F32 Gemma files of tests/helpers/gemma-synthetic.ts with F32 K/V, fed token ids
// directly: the raw logits after each prompt, and greedy tokens (argmax of the raw logits, lowest id on a tie)
// until FIXTURE_POSITIONS positions. CI reads the fixtures and never needs llama.cpp.
//
//   npm ci --prefix bench/peer --omit=optional     (once; NODE_LLAMA_CPP_SKIP_DOWNLOAD=true keeps it to prebuilt binaries)
//   node --import tsx scripts/make-arch-fixtures.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURE_POSITIONS, SYNTHETIC_GEMMA, syntheticGemmaGguf, syntheticPrompts } from '../tests/helpers/gemma-synthetic';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
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

async function main(): Promise<void> {
  const mod = (await import(join(PACKAGE, 'dist', 'index.js'))) as { getLlama(o: Record<string, unknown>): Promise<Llama> };
  const version = (await import(join(PACKAGE, 'package.json'), { with: { type: 'json' } })) as { default: { version: string } };
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
  const dir = mkdtempSync(join(tmpdir(), 'kvchat-arch-'));
  try {
    for (const spec of Object.values(SYNTHETIC_GEMMA)) {
      const path = join(dir, `${spec.arch}.gguf`);
      writeFileSync(path, syntheticGemmaGguf(spec));
      const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
      const context = await model.createContext({
        contextSize: spec.contextLength,
        batchSize: spec.contextLength,
        threads: 2,
        sequences: 1,
        experimentalKvCacheKeyType: 'F32',
        experimentalKvCacheValueType: 'F32',
        swaFullCache: true,
        // llama.cpp's CPU flash attention rounds through f16 (first logits ~3e-3 off an f64 reference here); the
        // plain path keeps scores and probabilities in f32.
        flashAttention: false,
      });
      const seq = context.getSequence();
      const cases = [];
      for (const prompt of syntheticPrompts(spec)) {
        await seq.clearHistory();
        const first = await lastLogits(seq, prompt, spec.vocab);
        const generated = [argmax(first)];
        while (prompt.length + generated.length < FIXTURE_POSITIONS) {
          generated.push(argmax(await lastLogits(seq, [generated.at(-1)!], spec.vocab)));
        }
        cases.push({ prompt_tokens: prompt, generated_tokens: generated, first_generated_position_logits: first });
        console.log(`${spec.arch}: prompt of ${prompt.length} -> ${generated.slice(0, 12).join(' ')} ...`);
      }
      await context.dispose();
      await model.dispose();
      const fixture = {
        generator: 'scripts/make-arch-fixtures.ts',
        llama_cpp: `${llama.llamaCppRelease.repo}@${llama.llamaCppRelease.release} (node-llama-cpp ${version.default.version}, CPU, 2 threads, F32 weights and K/V)`,
        spec,
        positions: FIXTURE_POSITIONS,
        cases,
      };
      const out = join(ROOT, 'tests', 'fixtures', `arch-${spec.arch}.json`);
      writeFileSync(out, `${JSON.stringify(fixture)}\n`);
      console.log(`wrote ${out}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await llama.dispose();
  }
}

await main();
