// `generate`'s command line as a user meets it: sampling values out of range are usage errors (exit 2) naming the
// flag, `--top-p 0` means greedy as it does on the server, and after an empty prompt (BOS alone) the text starts
// without the first token's leading space, as llama2.c prints it.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadReference, modelPath } from '../helpers/shared';

const ROOT = resolve(__dirname, '../..');

async function generate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/generate.ts', '--model', modelPath('stories260K.gguf'), '--reference', ...args];
  return promisify(execFile)(process.execPath, argv, { cwd: ROOT }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

describe('generate: sampling flags', () => {
  it.each([
    ['--top-k', '-1'],
    ['--top-p', '1.5'],
    ['--min-p', '2'],
    ['--repeat-penalty', '0'],
    ['--temperature', '-1'],
  ])('%s %s is a usage error (exit 2) that names the flag', async (flag, value) => {
    const r = await generate('--prompt', 'Once', '--max-tokens', '4', flag, value);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^error: ${flag} must be`));
    expect(r.stderr).not.toMatch(/topK|topP|minP|repetitionPenalty/);
  });

  it('--top-p 0 is greedy (as top_p 0 on the server), and any integer seed is taken', async () => {
    const greedy = JSON.parse((await generate('--prompt', 'Once upon a time', '--max-tokens', '24', '--temperature', '0', '--json')).stdout);
    const topP0 = JSON.parse((await generate('--prompt', 'Once upon a time', '--max-tokens', '24', '--temperature', '1.5', '--top-p', '0', '--seed', '-7', '--json')).stdout);
    expect(topP0.generated_tokens).toEqual(greedy.generated_tokens);
  });
});

describe('generate: an empty prompt', () => {
  it("starts the text without a leading space, equal to llama2.c's", async () => {
    const ref = loadReference('llama2c_stories260K_empty.json');
    const r = JSON.parse((await generate('--prompt', '', '--max-tokens', '40', '--temperature', '0', '--json')).stdout);
    expect(r.generated_tokens).toEqual(ref.generated_tokens.slice(0, r.generated_tokens.length));
    expect(r.text.startsWith(' ')).toBe(false);
    expect(ref.text.startsWith(r.text)).toBe(true);
  });
});
