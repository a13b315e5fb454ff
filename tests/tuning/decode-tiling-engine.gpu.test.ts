// A flash-decode tiling chosen by the tuner reaches the engine: Engine.load applies it to its kernel context, and
// greedy decoding of a real model with it (two blocks a phase, one head a workgroup, several splits) gives the same
// tokens as the fixed rule.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { decodeTilingOf, type DecodeTiling } from '../../src/gpu/kernels/attention-decode';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';

const model = openModel('TinyStories-656K-Q4_0.gguf'); // 8 heads of 16 dims over 4 KV heads

describe('the engine and a tuned decode tiling', () => {
  it('applies the tiling given at load, and greedy decoding gives the same tokens as the fixed rule', async () => {
    const gpu = await testDevice();
    const greedy = async (opts: { decodeTiling?: DecodeTiling; decodeKeysPerSplit?: number }): Promise<number[]> => {
      const engine = await Engine.load(gpu, model, { maxSeqs: 1, contextLength: 128, ...opts });
      try {
        expect(decodeTilingOf(engine.ctx)).toEqual(opts.decodeTiling);
        const r = await engine.generate(engine.createSequence(), [1, 80, 147, 201, 282, 57], { maxNewTokens: 40, sampling: { temperature: 0 } });
        return r.tokens;
      } finally {
        engine.destroy();
      }
    };
    const fixed = await greedy({});
    // 16 keys a split: up to 3 splits of 46 positions, each phase of two blocks cut short by a split's end.
    expect(await greedy({ decodeTiling: { lanes: 4, headTile: 1, keysPerPhase: 32 }, decodeKeysPerSplit: 16 })).toEqual(fixed);
  }, 120_000);
});
