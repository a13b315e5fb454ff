// DeepSeek-V2 (MLA) against llama.cpp: the synthetic F32 models of tests/helpers/deepseek2-synthetic.ts, whose greedy
// tokens (64 positions) and first logits llama.cpp's CPU backend produced (tests/fixtures/arch-deepseek2*.json, from
// scripts/make-deepseek2-fixtures.ts). Our GPU engine runs MLA in the absorbed form over a latent KV cache (one row
// of kvLoraRank + ropeDim values a token) and must reproduce them: f32 KV on SwiftShader, f16 KV where the device
// has shader-f16 (lavapipe). The expanded-form CPU reference is checked against the same fixtures in
// tests/model/deepseek2.test.ts. The latent blocks persist to SQLite and resume like any other.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { resumeFromStore } from '../../src/gpu/engine/resume';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GgmlType } from '../../src/gpu/gguf/types';
import { Deepseek2CpuReference } from '../../src/gpu/model/cpu-reference-deepseek2';
import { blockBytes, bytesPerElement } from '../../src/gpu/kv/layout';
import { ConversationRepository } from '../../src/store/conversations';
import { openDatabase } from '../../src/store/database';
import { KvBlockStore } from '../../src/store/kv-store';
import { DEEPSEEK2_FIXTURE_POSITIONS, DEEPSEEK2_FIXTURES, SYNTHETIC_DEEPSEEK2, SYNTHETIC_DEEPSEEK2_LITE_HEADS, syntheticDeepseek2Gguf } from '../helpers/deepseek2-synthetic';
import { readOracleFixture } from '../helpers/oracle-fixture';
import { cpuGreedyTo, maxAbsDiff } from '../helpers/cpu-greedy';
import { testDevice } from '../helpers/gpu';
import { saveConversationKv } from '../helpers/saved-conversation';

async function engineGreedy(engine: Engine, prompt: readonly number[]): Promise<{ tokens: number[]; first: Float32Array }> {
  const seq = engine.createSequence();
  try {
    const r = await engine.generate(seq, prompt, { maxNewTokens: DEEPSEEK2_FIXTURE_POSITIONS - prompt.length, stopTokens: new Set(), captureFirstLogits: true });
    return { tokens: r.tokens, first: r.firstLogits! };
  } finally {
    engine.releaseSequence(seq);
  }
}

describe('deepseek2 (MLA, absorbed) on the GPU equals llama.cpp', () => {
  for (const [name, spec] of DEEPSEEK2_FIXTURES) {
    it(`${name}: identical greedy tokens for ${DEEPSEEK2_FIXTURE_POSITIONS} positions, first logits within 1e-3 (f32 KV) or 1e-2 (f16 KV)`, async () => {
      const fixture = readOracleFixture(name);
      const gpu = await testDevice();
      const engine = await Engine.load(gpu, GgufFile.fromBytes(syntheticDeepseek2Gguf(spec)), { maxSeqs: 1 });
      try {
        const layout = engine.pool.layout;
        expect(layout).toMatchObject({ nKvHeads: 1, headDim: spec.kvLoraRank + spec.rope, latentDim: spec.kvLoraRank });
        const bound = layout.dtype === 'f16' ? 1e-2 : 1e-3;
        for (const c of fixture.cases) {
          const r = await engineGreedy(engine, c.prompt_tokens);
          expect(maxAbsDiff(r.first, c.first_generated_position_logits)).toBeLessThan(bound);
          expect(r.tokens).toEqual(c.generated_tokens);
        }
      } finally {
        engine.destroy();
      }
    });
  }

  it('attn_k_b / attn_v_b in Q8_0 or Q4_0 (blocks the per-head matvec decodes as it reads): the CPU reference\'s greedy tokens over their dequantized values', async () => {
    const prompt = readOracleFixture('arch-deepseek2-lite-heads').cases[0]!.prompt_tokens;
    const positions = prompt.length + 16;
    const gpu = await testDevice();
    for (const type of [GgmlType.Q8_0, GgmlType.Q4_0] as const) {
      const file = GgufFile.fromBytes(syntheticDeepseek2Gguf(SYNTHETIC_DEEPSEEK2_LITE_HEADS, type));
      expect(file.requireTensor('blk.0.attn_k_b.weight').type).toBe(type);
      const want = cpuGreedyTo(await Deepseek2CpuReference.load(file), prompt, positions);
      const engine = await Engine.load(gpu, file, { maxSeqs: 1 });
      try {
        const seq = engine.createSequence();
        const r = await engine.generate(seq, prompt, { maxNewTokens: positions - prompt.length, stopTokens: new Set(), captureFirstLogits: true });
        expect(maxAbsDiff(r.firstLogits!, want.first)).toBeLessThan(engine.pool.layout.dtype === 'f16' ? 1e-2 : 1e-3);
        expect(r.tokens).toEqual(want.tokens);
      } finally {
        engine.destroy();
      }
    }
  });

  it('the three prompts decoded together (batched MLA decode, experts grouped across sequences) give llama.cpp\'s tokens', async () => {
    const fixture = readOracleFixture('arch-deepseek2');
    const engine = await Engine.load(await testDevice(), GgufFile.fromBytes(syntheticDeepseek2Gguf(SYNTHETIC_DEEPSEEK2)), { maxSeqs: 3 });
    try {
      const runs = fixture.cases.map(async (c) => (await engineGreedy(engine, c.prompt_tokens)).tokens);
      expect(await Promise.all(runs)).toEqual(fixture.cases.map((c) => c.generated_tokens));
    } finally {
      engine.destroy();
    }
  });
});

describe('deepseek2 latent KV blocks persist and resume', () => {
  it("a conversation resumed from SQLite in a new engine continues with llama.cpp's tokens; a block is one latent row a token", async () => {
    const fixture = readOracleFixture('arch-deepseek2').cases[2]!; // a 40-token prompt, 24 generated
    const spec = SYNTHETIC_DEEPSEEK2;
    const fingerprint = 'test-fingerprint-synthetic-deepseek2';
    const file = GgufFile.fromBytes(syntheticDeepseek2Gguf(spec));
    const gpu = await testDevice();
    const dbPath = join(mkdtempSync(join(tmpdir(), 'kvchat-mla-resume-')), 'store.sqlite');
    let db = openDatabase(dbPath);
    const conversation = new ConversationRepository(db).createConversation({ title: 'mla' }).id;
    const before = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: fingerprint });
    // K and V in one row of kvLoraRank + rope values: 160 a token and layer, against 2 x 8 heads x 96 expanded.
    const layout = before.pool.layout;
    expect(blockBytes(layout)).toBe(spec.layers * 16 * (spec.kvLoraRank + spec.rope) * bytesPerElement(layout.dtype));
    const b = before.createSequence();
    const first = await before.generate(b, fixture.prompt_tokens, { maxNewTokens: 8, stopTokens: new Set() });
    expect(first.tokens).toEqual(fixture.generated_tokens.slice(0, 8));
    const hashes = await saveConversationKv(before, b, fingerprint, new KvBlockStore(db), conversation);
    before.destroy();
    db.close();

    db = openDatabase(dbPath);
    const reopened = new KvBlockStore(db);
    const history = reopened.conversationTokens(conversation)!;
    const after = await Engine.load(gpu, file, { maxSeqs: 1, modelFingerprint: fingerprint });
    try {
      const c = after.createSequence();
      const resumed = await resumeFromStore(after, c, fingerprint, history.tokens, reopened);
      expect(resumed.source).toBe('disk');
      expect(resumed.reusedTokens).toBe(hashes.length * 16);
      const rest = await after.generate(c, history.tokens.slice(resumed.reusedTokens), { maxNewTokens: DEEPSEEK2_FIXTURE_POSITIONS - history.tokens.length, stopTokens: new Set() });
      expect(rest.tokens).toEqual(fixture.generated_tokens.slice(8));
    } finally {
      after.destroy();
      db.close();
    }
  });
});
