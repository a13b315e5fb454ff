// Regenerates tests/fixtures/arch-<arch>.json: llama.cpp's CPU backend (through node-llama-cpp, installed into
// bench/peer) run on the synthetic F32 Gemma files of tests/helpers/gemma-synthetic.ts with F32 K/V, fed token ids
// directly: the raw logits after each prompt, and greedy tokens (argmax of the raw logits, lowest id on a tie)
// until FIXTURE_POSITIONS positions. CI reads the fixtures and never needs llama.cpp.
//
//   npm install --prefix bench/peer     (once)
//   node --import tsx scripts/make-arch-fixtures.ts
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_POSITIONS, SYNTHETIC_GEMMA, syntheticGemmaGguf, syntheticPrompts } from '../tests/helpers/gemma-synthetic';
import { closeOracle, ROOT, runOracle } from './llama-cpp-oracle';

async function main(): Promise<void> {
  try {
    for (const spec of Object.values(SYNTHETIC_GEMMA)) {
      const run = await runOracle({
        gguf: syntheticGemmaGguf(spec),
        vocab: spec.vocab,
        contextSize: spec.contextLength,
        prompts: syntheticPrompts(spec),
        positions: FIXTURE_POSITIONS,
      });
      for (const c of run.cases) console.log(`${spec.arch}: prompt of ${c.prompt_tokens.length} -> ${c.generated_tokens.slice(0, 12).join(' ')} ...`);
      const fixture = { generator: 'scripts/make-arch-fixtures.ts', llama_cpp: run.llama_cpp, spec, positions: FIXTURE_POSITIONS, cases: run.cases };
      const out = join(ROOT, 'tests', 'fixtures', `arch-${spec.arch}.json`);
      writeFileSync(out, `${JSON.stringify(fixture)}\n`);
      console.log(`wrote ${out}`);
    }
  } finally {
    await closeOracle();
  }
}

await main();
