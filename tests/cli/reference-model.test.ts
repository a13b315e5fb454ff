// `generate --reference` runs the CPU reference of the model's architecture: a synthetic Gemma 3, gpt-oss and
// DeepSeek-V2 (MLA) file each generates, through the CLI, the greedy tokens of its own reference class (the Llama
// reference cannot read them: no attn_k / attn_v, other norms and feed-forwards).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { referenceKind } from '../../src/cli/reference-model';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { loadCpuWeights, type CpuWeights } from '../../src/gpu/model/cpu-reference';
import { Deepseek2CpuReference } from '../../src/gpu/model/cpu-reference-deepseek2';
import { GemmaCpuReference } from '../../src/gpu/model/cpu-reference-gemma';
import { GptOssCpuReference } from '../../src/gpu/model/cpu-reference-gpt-oss';
import { readModelConfig, type ModelConfig } from '../../src/gpu/model/config';
import { cpuGreedyTo, type CpuForward } from '../helpers/cpu-greedy';
import { SYNTHETIC_DEEPSEEK2, syntheticDeepseek2Gguf } from '../helpers/deepseek2-synthetic';
import { SYNTHETIC_GEMMA, syntheticGemmaGguf } from '../helpers/gemma-synthetic';
import { SYNTHETIC_GPT_OSS, syntheticGptOssGguf } from '../helpers/gpt-oss-synthetic';
import { tempDir } from '../helpers/temp';

const ROOT = resolve(__dirname, '../..');
/** Positions the CLI may use: prompt plus generated tokens (its --max-tokens). */
const POSITIONS = 24;

async function generateReference(model: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/generate.ts', '--model', model, '--reference', '--prompt', 'abc', '--max-tokens', String(POSITIONS), '--temperature', '0', '--json'];
  return promisify(execFile)(process.execPath, argv, { cwd: ROOT }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

const CASES: { readonly name: string; readonly kind: ReturnType<typeof referenceKind>; readonly bytes: () => Uint8Array; readonly reference: (c: ModelConfig, w: CpuWeights) => CpuForward }[] = [
  { name: 'gemma3', kind: 'gemma', bytes: () => syntheticGemmaGguf(SYNTHETIC_GEMMA.gemma3), reference: (c, w) => new GemmaCpuReference(c, w) },
  { name: 'gpt-oss', kind: 'gpt-oss', bytes: () => syntheticGptOssGguf(SYNTHETIC_GPT_OSS), reference: (c, w) => new GptOssCpuReference(c, w) },
  { name: 'deepseek2', kind: 'deepseek2', bytes: () => syntheticDeepseek2Gguf(SYNTHETIC_DEEPSEEK2), reference: (c, w) => new Deepseek2CpuReference(c, w) },
];

describe('generate --reference', () => {
  it.each(CASES)('runs the $name reference on a $name file', async ({ kind, bytes, reference }) => {
    const data = bytes();
    const path = join(tempDir(), 'model.gguf');
    writeFileSync(path, data);
    const file = GgufFile.fromBytes(data);
    const config = readModelConfig(file.header);
    expect(referenceKind(config)).toBe(kind);

    const r = await generateReference(path);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { backend: string; prompt_tokens: number[]; generated_tokens: number[]; stop_reason: string };
    expect(out.backend).toBe('reference');
    const expected = cpuGreedyTo(reference(config, await loadCpuWeights(file)), out.prompt_tokens, POSITIONS + 1).tokens;
    // All of them, or up to an end-of-generation token the greedy run also chose.
    if (out.stop_reason !== 'eos') expect(out.generated_tokens).toHaveLength(expected.length);
    expect(out.generated_tokens.length).toBeGreaterThan(0);
    expect(out.generated_tokens).toEqual(expected.slice(0, out.generated_tokens.length));
  });

  it('keeps the Llama reference for the Llama-like families', () => {
    expect(referenceKind({})).toBe('llama');
  });
});
