// `--kv-type f16|q8_0|q4_0` on `generate` and `serve`: the engine runs with that K/V cache type (generate's JSON says
// which), and any other value is a usage error (exit 2) that names the flag and the choices.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { modelPath } from '../helpers/shared';

const ROOT = resolve(__dirname, '../..');

async function cli(script: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', `src/cli/${script}.ts`, '--model', modelPath('stories260K.gguf'), ...args];
  return promisify(execFile)(process.execPath, argv, { cwd: ROOT }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

describe('--kv-type', () => {
  it('generate runs with a q8_0, q4_0 or f16 KV cache and reports it', async () => {
    for (const kvType of ['q8_0', 'q4_0', 'f16']) {
      const r = await cli('generate', '--prompt', 'Once upon a time', '--max-tokens', '24', '--temperature', '0', '--kv-type', kvType, '--json');
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { kv_type: string; generated_tokens: number[] };
      expect(out.kv_type).toBe(kvType);
      expect(out.generated_tokens.length).toBeGreaterThan(0);
    }
  });

  it.each([
    ['generate', '--prompt', 'Once'],
    ['serve', '--port', '0'],
  ])('%s refuses another type with a usage error (exit 2)', async (script, ...args) => {
    const r = await cli(script, ...args, '--kv-type', 'q5_0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --kv-type must be one of f16, q8_0, q4_0, not "q5_0"/);
  });
});
