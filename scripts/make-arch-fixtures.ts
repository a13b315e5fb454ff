// Regenerates tests/fixtures/arch-<arch>.json: llama.cpp's CPU backend (through node-llama-cpp, installed into
// bench/peer) run on the synthetic F32 Gemma files of tests/helpers/gemma-synthetic.ts with F32 K/V, fed token ids
// directly: the raw logits after each prompt, and greedy tokens (argmax of the raw logits, lowest id on a tie)
// until FIXTURE_POSITIONS positions. CI reads the fixtures and never needs llama.cpp.
//
//   npm install --prefix bench/peer     (once)
//   node --import tsx scripts/make-arch-fixtures.ts
import { FIXTURE_POSITIONS, SYNTHETIC_GEMMA, syntheticGemmaGguf, syntheticPrompts } from '../tests/helpers/gemma-synthetic';
import { closeOracle, runOracle, writeFixture } from './llama-cpp-oracle';

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
      writeFixture(`arch-${spec.arch}`, { generator: 'scripts/make-arch-fixtures.ts', spec, positions: FIXTURE_POSITIONS, run });
    }
  } finally {
    await closeOracle();
  }
}

await main();
