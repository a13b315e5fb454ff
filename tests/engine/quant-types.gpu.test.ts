// End to end for Q2_K, Q3_K, IQ4_NL, IQ4_XS and MXFP4: a small Llama whose every matrix (embedding and output
// included) is random valid blocks of the type generates greedily on WebGPU exactly the tokens of the CPU reference
// forward pass run on the same file, which dequantizes every weight to f32 (src/gpu/model/cpu-reference.ts).
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { CpuReferenceModel } from '../../src/gpu/model/cpu-reference';
import { v, writeGguf, type TensorSpec } from '../gguf/writer';
import { testDevice } from '../helpers/gpu';
import { uniform } from '../helpers/numeric';
import { randomBlocks } from '../helpers/random-blocks';
import { argmax } from '../helpers/shared';

// dim and ffn are multiples of 256 (the K-quant and IQ4_XS super-block); head dim 64, GQA 2:1.
const DIM = 256;
const FFN = 512;
const LAYERS = 2;
const HEADS = 4;
const KV_HEADS = 2;
const VOCAB = 320;
const PROMPT = 20; // from GEMM_MIN_TOKENS (16) on: the prefill GEMM, then the decode matvec
const NEW_TOKENS = 24;

/** A (rows, cols) matrix of random blocks of `type`, values of the order of 1 / sqrt(cols). */
function matrix(name: string, type: number, rows: number, cols: number, seed: number): TensorSpec {
  const perBlock = type === GgmlType.IQ4_NL || type === GgmlType.MXFP4 ? 32 : 256;
  return { name, dims: [cols, rows], type, data: randomBlocks(type, (rows * cols) / perBlock, seed, 1 / Math.sqrt(cols)) };
}

/** An RMSNorm weight: (n) f32 near 1. */
function norm(name: string, n: number, seed: number): TensorSpec {
  const next = uniform(seed);
  return { name, dims: [n], type: GgmlType.F32, data: new Uint8Array(Float32Array.from({ length: n }, () => 0.8 + 0.4 * next()).buffer) };
}

function tinyModel(type: number): GgufFile {
  const hd = DIM / HEADS;
  let seed = 1000 * type;
  const tensors: TensorSpec[] = [matrix('token_embd.weight', type, VOCAB, DIM, ++seed)];
  for (let l = 0; l < LAYERS; l++) {
    tensors.push(
      norm(`blk.${l}.attn_norm.weight`, DIM, ++seed),
      matrix(`blk.${l}.attn_q.weight`, type, HEADS * hd, DIM, ++seed),
      matrix(`blk.${l}.attn_k.weight`, type, KV_HEADS * hd, DIM, ++seed),
      matrix(`blk.${l}.attn_v.weight`, type, KV_HEADS * hd, DIM, ++seed),
      matrix(`blk.${l}.attn_output.weight`, type, DIM, HEADS * hd, ++seed),
      norm(`blk.${l}.ffn_norm.weight`, DIM, ++seed),
      matrix(`blk.${l}.ffn_gate.weight`, type, FFN, DIM, ++seed),
      matrix(`blk.${l}.ffn_up.weight`, type, FFN, DIM, ++seed),
      matrix(`blk.${l}.ffn_down.weight`, type, DIM, FFN, ++seed),
    );
  }
  tensors.push(norm('output_norm.weight', DIM, seed + 1), matrix('output.weight', type, VOCAB, DIM, seed + 2));
  const metadata = [
    ['general.architecture', v.str('llama')],
    ['general.alignment', v.u32(32)],
    ['llama.context_length', v.u32(128)],
    ['llama.embedding_length', v.u32(DIM)],
    ['llama.block_count', v.u32(LAYERS)],
    ['llama.feed_forward_length', v.u32(FFN)],
    ['llama.attention.head_count', v.u32(HEADS)],
    ['llama.attention.head_count_kv', v.u32(KV_HEADS)],
    ['llama.rope.dimension_count', v.u32(hd)],
    ['llama.rope.freq_base', v.f32(10000)],
    ['llama.attention.layer_norm_rms_epsilon', v.f32(1e-5)],
  ] as const;
  return GgufFile.fromBytes(writeGguf({ metadata, tensors }));
}

/** Greedy tokens of the CPU reference, and the smallest gap between the top two logits over the steps. */
async function cpuGreedy(file: GgufFile, prompt: readonly number[]): Promise<{ tokens: number[]; minGap: number }> {
  const m = await CpuReferenceModel.load(file);
  const tokens = [...prompt];
  const out: number[] = [];
  let minGap = Infinity;
  for (let pos = 0; out.length < NEW_TOKENS; pos++) {
    const logits = m.forward(tokens[pos]!, pos);
    if (pos < prompt.length - 1) continue;
    const best = argmax(logits);
    const second = Math.max(...Array.from(logits).filter((_, i) => i !== best));
    minGap = Math.min(minGap, logits[best]! - second);
    out.push(best);
    tokens.push(best);
  }
  return { tokens: out, minGap };
}

describe('new quant types end to end: WebGPU greedy tokens equal the CPU reference on the dequantized weights', () => {
  for (const type of [GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.MXFP4]) {
    it(`${ggmlTypeName(type)}`, async () => {
      const file = tinyModel(type);
      const next = uniform(7 + type);
      const prompt = Array.from({ length: PROMPT }, () => Math.floor(next() * VOCAB));
      const want = await cpuGreedy(file, prompt);
      const engine = await Engine.load(await testDevice(), file, { maxSeqs: 1 });
      try {
        const seq = engine.createSequence();
        const got = await engine.generate(seq, prompt, { maxNewTokens: NEW_TOKENS });
        engine.releaseSequence(seq);
        expect(got.tokens, `smallest top-2 logit gap on the CPU: ${want.minGap}`).toEqual(want.tokens);
        // Not a degenerate run (each type gives 18 to 23 distinct tokens of 24).
        expect(new Set(want.tokens).size).toBeGreaterThan(12);
      } finally {
        engine.destroy();
      }
    });
  }
});
