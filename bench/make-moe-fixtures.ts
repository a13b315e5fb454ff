// Regenerates tests/fixtures/qwen3moe-llamacpp.json: llama.cpp's CPU backend (through node-llama-cpp, installed into
// bench/peer by `npm ci --prefix bench/peer --omit=optional`) on the synthetic F32 Qwen3-MoE model of
// tests/helpers/moe-model.ts, with F32 KV and without flash attention: greedy tokens (64 positions) and first-position logits per prompt.
// Run: node --import tsx bench/make-moe-fixtures.ts
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildMoeModel, MOE_FIXTURE_SPEC, moeFixturePrompts, type MoeFixture } from '../tests/helpers/moe-model';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NLC = join(ROOT, 'bench', 'peer', 'node_modules', 'node-llama-cpp');
const POSITIONS = 64;

interface Seq {
  evaluate(tokens: number[], o: { temperature: number }): AsyncGenerator<number, void>;
  controlledEvaluate(input: (number | [number, object])[]): Promise<({ next?: { logits?: Map<number, number> } } | undefined)[]>;
  clearHistory(): Promise<void>;
}

async function main(): Promise<void> {
  const nlc = (await import(join(NLC, 'dist', 'index.js'))) as {
    getLlama(o: object): Promise<{ llamaCppRelease: { repo: string; release: string }; loadModel(o: object): Promise<{ createContext(o: object): Promise<{ getSequence(): Seq }> }> }>;
  };
  const version = (JSON.parse(readFileSync(join(NLC, 'package.json'), 'utf8')) as { version: string }).version;
  const dir = mkdtempSync(join(tmpdir(), 'moe-fixture-'));
  const path = join(dir, 'qwen3moe.gguf');
  writeFileSync(path, buildMoeModel(MOE_FIXTURE_SPEC));
  try {
    const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
    const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
    const context = await model.createContext({
      contextSize: MOE_FIXTURE_SPEC.contextLength,
      batchSize: 512,
      threads: 2,
      sequences: 1,
      // llama.cpp's CPU flash attention rounds to f16 inside (its logits move by ~5e-3 and greedy tokens diverge
      // within 64 positions on this model); the plain attention path is f32 throughout.
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    const seq = context.getSequence();
    const cases = [];
    for (const prompt of moeFixturePrompts()) {
      await seq.clearHistory();
      const out = await seq.controlledEvaluate([...prompt.slice(0, -1), [prompt.at(-1)!, { generateNext: { logits: true } }]]);
      const map = out.at(-1)?.next?.logits;
      if (!map || map.size !== MOE_FIXTURE_SPEC.vocab) throw new Error(`llama.cpp returned ${map?.size} logits, expected ${MOE_FIXTURE_SPEC.vocab}`);
      const logits = Array.from({ length: MOE_FIXTURE_SPEC.vocab }, (_, i) => map.get(i)!);
      await seq.clearHistory();
      const generated: number[] = [];
      for await (const t of seq.evaluate(prompt, { temperature: 0 })) {
        if (generated.push(t) >= POSITIONS) break;
      }
      cases.push({ prompt_tokens: prompt, generated_tokens: generated, first_generated_position_logits: logits });
    }
    const fixture: MoeFixture = {
      llama_cpp: `${llama.llamaCppRelease.repo}@${llama.llamaCppRelease.release} (node-llama-cpp ${version}), CPU backend, 2 threads, F32 weights and KV, no flash attention`,
      spec: MOE_FIXTURE_SPEC,
      cases,
    };
    writeFileSync(join(ROOT, 'tests', 'fixtures', 'qwen3moe-llamacpp.json'), JSON.stringify(fixture) + '\n');
    console.log(cases.map((c) => c.generated_tokens.join(' ')).join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
