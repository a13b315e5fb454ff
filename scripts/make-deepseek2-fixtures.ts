// Regenerates tests/fixtures/arch-deepseek2.json, -lite.json, -yarn.json and -lite-heads.json: llama.cpp's
// CPU backend (scripts/llama-cpp-oracle.ts) run on the synthetic F32 DeepSeek-V2 files of
// tests/helpers/deepseek2-synthetic.ts (low-rank query with softmax routing; full query with sigmoid routing; YaRN;
// V2-Lite's attention widths)
// with F32 K/V, fed token ids directly: the raw logits after each prompt, and greedy tokens until
// DEEPSEEK2_FIXTURE_POSITIONS positions. CI reads the fixtures and never needs llama.cpp.
//
//   npm install --prefix bench/peer     (once)
//   node --import tsx scripts/make-deepseek2-fixtures.ts
import { DEEPSEEK2_FIXTURE_POSITIONS, DEEPSEEK2_FIXTURES, syntheticDeepseek2Gguf, syntheticDeepseek2Prompts } from '../tests/helpers/deepseek2-synthetic';
import { closeOracle, runOracle, writeFixture } from './llama-cpp-oracle';

// `node --import tsx scripts/make-deepseek2-fixtures.ts arch-deepseek2-yarn` regenerates only the fixtures named.
const only = process.argv.slice(2);

async function main(): Promise<void> {
  try {
    for (const [name, spec] of DEEPSEEK2_FIXTURES.filter(([n]) => only.length === 0 || only.includes(n))) {
      const run = await runOracle({
        gguf: syntheticDeepseek2Gguf(spec),
        vocab: spec.vocab,
        contextSize: spec.contextLength,
        prompts: syntheticDeepseek2Prompts(spec),
        positions: DEEPSEEK2_FIXTURE_POSITIONS,
      });
      writeFixture(name, { generator: 'scripts/make-deepseek2-fixtures.ts', spec, positions: DEEPSEEK2_FIXTURE_POSITIONS, run });
    }
  } finally {
    await closeOracle();
  }
}

await main();
