// `generate --session --kv-budget`: the budget is held after each run (kv_store_bytes in the JSON), the least
// recently used conversation loses its KV first, and it then resumes by recomputing, with the same greedy output
// as a conversation that kept its blocks.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { modelPath } from '../helpers/shared';
import { tempDir } from '../helpers/temp';

const ROOT = resolve(__dirname, '../..');

interface Turn {
  generated_tokens: number[];
  resume_source: string;
  kv_store_bytes: number;
  kv_evicted_conversations: number;
}

async function turn(db: string, conversation: string, prompt: string, budget?: number): Promise<Turn> {
  const args = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/generate.ts', '--model', modelPath('stories260K.gguf'), '--session', db, '--conversation', conversation];
  args.push('--prompt', prompt, '--max-tokens', '24', '--temperature', '0', '--json', ...(budget !== undefined ? ['--kv-budget', String(budget)] : []));
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT });
  return JSON.parse(stdout) as Turn;
}

describe('generate --session --kv-budget', () => {
  it('evicts the least recently used conversation, which then recomputes with identical output', async () => {
    const dir = tempDir();
    const shared = join(dir, 'budget.sqlite');
    const control = join(dir, 'control.sqlite');
    const a = await turn(shared, 'a', 'Once upon a time');
    // 'a' keeps one full 16-token block and its own partial tail block; 'b' (a longer prompt) two and its tail:
    // the budget holds b alone, not both.
    expect(a.kv_store_bytes).toBeGreaterThan(0);
    const budget = Math.floor(a.kv_store_bytes * 2);
    expect(await turn(control, 'a', 'Once upon a time')).toMatchObject({ generated_tokens: a.generated_tokens });
    const b = await turn(shared, 'b', 'Lily had a red kite and', budget);
    expect(b.kv_store_bytes).toBeLessThanOrEqual(budget);
    expect(b.kv_evicted_conversations).toBe(1);

    const recomputed = await turn(shared, 'a', ' Then', budget);
    const resumed = await turn(control, 'a', ' Then');
    expect(resumed.resume_source).toBe('disk');
    expect(recomputed.resume_source).toBe('recompute');
    expect(recomputed.generated_tokens).toEqual(resumed.generated_tokens);
    expect(recomputed.kv_store_bytes).toBeLessThanOrEqual(budget);
  });

  it('--kv-budget needs --session', async () => {
    const args = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/generate.ts', '--model', modelPath('stories260K.gguf'), '--prompt', 'x', '--kv-budget', '100'];
    const r = await promisify(execFile)(process.execPath, args, { cwd: ROOT }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--kv-budget needs --session/);
  });
});
