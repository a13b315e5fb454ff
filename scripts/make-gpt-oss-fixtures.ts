// Regenerates tests/fixtures/arch-gpt-oss.json and arch-gpt-oss-yarn.json: llama.cpp's CPU backend
// (scripts/llama-cpp-oracle.ts) run on the synthetic F32 gpt-oss files of tests/helpers/gpt-oss-synthetic.ts (plain
// RoPE, and YaRN) with F32 K/V, fed token ids directly: the raw
// logits after each prompt, and greedy tokens until GPT_OSS_FIXTURE_POSITIONS positions. CI reads the fixture and
// never needs llama.cpp.
//
//   npm install --prefix bench/peer     (once)
//   node --import tsx scripts/make-gpt-oss-fixtures.ts
import { GPT_OSS_FIXTURE_POSITIONS, SYNTHETIC_GPT_OSS, SYNTHETIC_GPT_OSS_YARN, syntheticGptOssGguf, syntheticGptOssPrompts } from '../tests/helpers/gpt-oss-synthetic';
import { closeOracle, runOracle, writeFixture } from './llama-cpp-oracle';

async function main(): Promise<void> {
  try {
    for (const [name, spec] of [['arch-gpt-oss', SYNTHETIC_GPT_OSS], ['arch-gpt-oss-yarn', SYNTHETIC_GPT_OSS_YARN]] as const) {
      const run = await runOracle({
        gguf: syntheticGptOssGguf(spec),
        vocab: spec.vocab,
        contextSize: spec.contextLength,
        prompts: syntheticGptOssPrompts(spec),
        positions: GPT_OSS_FIXTURE_POSITIONS,
      });
      writeFixture(name, { generator: 'scripts/make-gpt-oss-fixtures.ts', spec, positions: GPT_OSS_FIXTURE_POSITIONS, run });
    }
  } finally {
    await closeOracle();
  }
}

await main();
