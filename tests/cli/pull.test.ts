// `npm run pull` end to end against the loopback Hub: --json output, the pulled file running with `generate`,
// clear failures (unknown repository or quant, unsupported model, checksum mismatch), and a pull killed with
// SIGKILL resuming from its part file.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { splitModel } from '../helpers/split-gguf';
import { sharedModel, tempDir } from '../helpers/temp';

const ROOT = resolve(__dirname, '../..');
const REPO = 'test/TinyStories-GGUF';
const Q8 = 'stories260K-Q8_0.gguf';
const F32 = 'stories260K-F32.gguf';
const bytesOf = (name: string): Uint8Array => new Uint8Array(readFileSync(sharedModel(name)));

let hub: HubServer;
afterEach(async () => hub?.close());

async function start(): Promise<string> {
  const gemma = Buffer.from(bytesOf('TinyStories-656K.gguf'));
  const at = gemma.indexOf('general.architecture') + 'general.architecture'.length + 12;
  gemma.write('gemma', at, 'utf8');
  hub = await startHubServer({
    [REPO]: [
      { path: Q8, bytes: bytesOf('stories260K-Q8_0.gguf') },
      { path: F32, bytes: bytesOf('stories260K.gguf') },
    ],
    'test/gemma-GGUF': [{ path: 'tiny-gemma-Q8_0.gguf', bytes: gemma }],
    'test/split-GGUF': splitModel().map((bytes, i) => ({ path: `crafted-F32-0000${i + 1}-of-00002.gguf`, bytes })),
  });
  return tempDir();
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(script: string, args: string[], env: Record<string, string> = {}, onSpawn?: (kill: () => void) => void): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', `src/cli/${script}.ts`, ...args], {
      cwd: ROOT,
      env: { ...process.env, HF_ENDPOINT: hub.endpoint, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    onSpawn?.(() => child.kill('SIGKILL'));
    child.on('exit', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

const downloads = () => hub.requests.filter((r) => r.method === 'GET' && r.range !== 'bytes=0-0' && !/^bytes=0-\d+$/.test(r.range ?? ''));

describe('npm run pull', () => {
  it('pulls REPO:quant (any case) through HF_ENDPOINT, prints one JSON object, and the file runs with generate', async () => {
    const dir = await start();
    const r = await cli('pull', [`${REPO}:q8_0`, '--dir', dir, '--json']);
    expect(r.stderr).toMatch(/architecture llama, context \d+, tokenizer llama/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ repo: REPO, files: [Q8], path: join(dir, Q8), bytes: statSync(sharedModel(Q8)).size, sha256: hub.sha256(REPO, Q8), resumed_bytes: 0 });
    expect(typeof out.seconds).toBe('number');
    expect(readdirSync(dir)).toEqual([Q8]);

    const gen = await cli('generate', ['--model', join(dir, Q8), '--prompt', 'Once upon a time', '--max-tokens', '12', '--temperature', '0', '--reference', '--json']);
    expect(gen.code).toBe(0);
    expect((JSON.parse(gen.stdout) as { generated_tokens: number[] }).generated_tokens.length).toBeGreaterThan(0);
  });

  it('pulls every part of a split model, each verified; the model is named by its first part', async () => {
    const dir = await start();
    const parts = ['crafted-F32-00001-of-00002.gguf', 'crafted-F32-00002-of-00002.gguf'];
    const r = await cli('pull', ['test/split-GGUF', '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/in 2 parts, architecture llama/);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ repo: 'test/split-GGUF', files: parts, path: join(dir, parts[0]!), sha256: hub.sha256('test/split-GGUF', parts[0]!) });
    expect(readdirSync(dir).sort()).toEqual(parts);
    expect(out.bytes).toBe(parts.reduce((n, p) => n + statSync(join(dir, p)).size, 0));
  });

  it('fails clearly for an unknown repository or quant, an unsupported model and a checksum mismatch', async () => {
    const dir = await start();
    const unknown = await cli('pull', ['test/nothing-here', '--dir', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/error: .* has no repository test\/nothing-here at revision main \(404\)/);
    const quant = await cli('pull', [`${REPO}:Q5_K_M`, '--dir', dir]);
    expect(quant.code).toBe(1);
    expect(quant.stderr).toMatch(/has no Q5_K_M file \(it has Q8_0, F32\)/);

    const gemma = await cli('pull', ['test/gemma-GGUF', '--dir', dir]);
    expect(gemma.code).toBe(1);
    expect(gemma.stderr).toMatch(/architecture gemma is not supported yet/);
    expect(hub.bytesSent('test/gemma-GGUF', 'tiny-gemma-Q8_0.gguf')).toBeLessThan(statSync(sharedModel('TinyStories-656K.gguf')).size / 2);

    hub.faults.wrongBytes = true;
    const bad = await cli('pull', [REPO, '--file', F32, '--dir', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does not match the Hub's checksum .* nothing was registered/);
    expect(readdirSync(dir)).toEqual([]);

    const usage = await cli('pull', ['--dir', dir]);
    expect(usage.code).toBe(2);
  });

  it('resumes from its part file after being killed with SIGKILL', async () => {
    const dir = await start();
    const part = join(dir, `${F32}.part`);
    hub.faults.bytesPerSecond = 256 * 1024;
    const killed = await cli('pull', [`${REPO}:F32`, '--dir', dir, '--json'], {}, (kill) => {
      const poll = setInterval(() => {
        if (existsSync(part) && statSync(part).size > 100_000) {
          clearInterval(poll);
          kill();
        }
      }, 20);
    });
    expect(killed.signal).toBe('SIGKILL');
    const kept = statSync(part).size;
    const size = statSync(sharedModel('stories260K.gguf')).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(size);

    hub.faults.bytesPerSecond = undefined;
    hub.requests.length = 0;
    const again = await cli('pull', [`${REPO}:F32`, '--dir', dir, '--json']);
    expect(again.code).toBe(0);
    const out = JSON.parse(again.stdout) as { resumed_bytes: number; path: string };
    expect(out.resumed_bytes).toBe(kept);
    expect(downloads().map((g) => [g.range, g.bytesSent])).toEqual([[`bytes=${kept}-`, size - kept]]);
    expect(readFileSync(out.path).equals(readFileSync(sharedModel('stories260K.gguf')))).toBe(true);
    expect(existsSync(part)).toBe(false);
  });
});
