// Regenerates tests/fixtures/arch-phi3-short.json, arch-phi3-long.json and arch-llama-yarn.json: llama.cpp's CPU
// backend (scripts/llama-cpp-oracle.ts) on the synthetic F32 files of tests/helpers/phi3-synthetic.ts. The Phi-3 model
// runs twice: with a context of at most its original one (LongRoPE's short factors) and past it (the long factors).
//
//   npm install --prefix bench/peer     (once)
//   node --import tsx scripts/make-phi3-fixtures.ts
import { FIXTURE_CONTEXTS, FIXTURE_POSITIONS, SYNTHETIC_ROPE, syntheticPrompts, syntheticRopeGguf, type SyntheticRopeSpec } from '../tests/helpers/phi3-synthetic';
import { closeOracle, runOracle, writeFixture } from './llama-cpp-oracle';

const RUNS: readonly { name: string; spec: SyntheticRopeSpec; contextSize: number }[] = [
  { name: 'phi3-short', spec: SYNTHETIC_ROPE.phi3, contextSize: FIXTURE_CONTEXTS.phi3Short },
  { name: 'phi3-long', spec: SYNTHETIC_ROPE.phi3, contextSize: FIXTURE_CONTEXTS.phi3Long },
  { name: 'llama-yarn', spec: SYNTHETIC_ROPE.llamaYarn, contextSize: FIXTURE_CONTEXTS.llamaYarn },
];

async function main(): Promise<void> {
  try {
    for (const { name, spec, contextSize } of RUNS) {
      const run = await runOracle({ gguf: syntheticRopeGguf(spec), vocab: spec.vocab, contextSize, prompts: syntheticPrompts(spec), positions: FIXTURE_POSITIONS });
      writeFixture(`arch-${name}`, { generator: 'scripts/make-phi3-fixtures.ts', spec, contextSize: contextSize, positions: FIXTURE_POSITIONS, run });
    }
  } finally {
    await closeOracle();
  }
}

await main();
