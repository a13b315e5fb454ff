// `generate --session`: a conversation kept in a SQLite file across processes. The second run, a new process,
// resumes from the KV blocks the first one saved (resume_source disk) and generates exactly what the same run
// gives when those blocks are gone and the history is recomputed.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { modelPath } from '../helpers/shared';
import { tempDir } from '../helpers/temp';

const ROOT = resolve(__dirname, '../..');

async function turn(db: string, prompt: string): Promise<{ generated_tokens: number[]; resume_source: string; reused_tokens: number; text: string }> {
  const args = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/generate.ts', '--model', modelPath('stories260K.gguf'), '--session', db, '--conversation', 'story', '--prompt', prompt, '--max-tokens', '24', '--temperature', '0', '--json'];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT });
  return JSON.parse(stdout);
}

describe('generate --session', () => {
  it('a new process resumes from the saved KV blocks, exactly as a recompute of the history', async () => {
    const dir = tempDir();
    const kept = join(dir, 'kept.sqlite');
    const lost = join(dir, 'lost.sqlite');
    const first = await turn(kept, 'Once upon a time');
    expect(first.resume_source).toBe('none');
    expect((await turn(lost, 'Once upon a time')).generated_tokens).toEqual(first.generated_tokens);
    // The second file loses its KV blocks (the conversation's text and token history stay).
    const db = new Database(lost);
    db.exec('DELETE FROM kv_blocks');
    db.close();
    const resumed = await turn(kept, ' Then');
    const recomputed = await turn(lost, ' Then');
    expect(resumed.resume_source).toBe('disk');
    expect(resumed.reused_tokens).toBeGreaterThanOrEqual(16);
    expect(recomputed.resume_source).toBe('recompute');
    expect(resumed.generated_tokens).toEqual(recomputed.generated_tokens);
    expect(resumed.text).toBe(recomputed.text);
  });
});
