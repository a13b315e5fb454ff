// `npm run serve` as a user runs it: a separate process on its own device, bound to 127.0.0.1, guarded by an API
// key, with a shorter context, printing its URL; its greedy output equals the CLI `generate` (raw and --chat) for the same prompt and
// positions, and SIGINT stops it cleanly.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { modelPath, openModel } from '../helpers/shared';

const ROOT = resolve(__dirname, '../..');
const NODE_ARGS = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs'];
const MODEL = modelPath('stories260K.gguf');
const run = promisify(execFile);

let serve: ChildProcessWithoutNullStreams | undefined;

afterAll(() => {
  if (serve && serve.exitCode === null) serve.kill('SIGKILL');
});

/** Starts the server process and resolves with the URL it prints. */
function startServe(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  serve = spawn(process.execPath, [...NODE_ARGS, 'src/cli/serve.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  return new Promise((ok, fail) => {
    serve!.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /(http:\/\/\S+\/v1)/.exec(out)?.[1];
      if (url) ok(url);
    });
    serve!.stderr.on('data', (d: Buffer) => (err += d.toString()));
    serve!.on('exit', (code) => fail(new Error(`serve exited with ${code}: ${err}`)));
  });
}

/** The CLI's greedy generation: positions = max-tokens, as llama2.c's -n. */
async function cliGenerate(prompt: string, positions: number, chat: boolean): Promise<number[]> {
  const args = [...NODE_ARGS, 'src/cli/generate.ts', '--model', MODEL, '--prompt', prompt, '--max-tokens', String(positions), '--temperature', '0', '--json', ...(chat ? ['--chat'] : [])];
  const { stdout } = await run(process.execPath, args, { cwd: ROOT, env: process.env });
  return (JSON.parse(stdout) as { generated_tokens: number[] }).generated_tokens;
}

describe('npm run serve', () => {
  it('serves on 127.0.0.1 with an API key; greedy output equals the CLI generate; SIGINT exits 0', async () => {
    const url = await startServe(['--model', MODEL, '--port', '0', '--api-key', 'k3y', '--context', '128']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect((await fetch(`${url}/models`)).status).toBe(401);
    const auth = { authorization: 'Bearer k3y', 'content-type': 'application/json' };
    const models = (await (await fetch(`${url}/models`, { headers: auth })).json()) as { data: { id: string }[] };
    expect(models.data[0]!.id).toBe('stories260K');

    const prompt = 'Once upon a time';
    const positions = 40;
    const tokenizer = tokenizerFromGguf(openModel('stories260K.gguf').metadata);
    const promptTokens = tokenizer.encode(prompt, {}).length;
    const post = async (path: string, body: object): Promise<any> => (await fetch(`${url}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) })).json();
    const maxTokens = positions - promptTokens + 1;
    // One CLI run (--chat: the prompt-building path the server duplicates); raw completions equal the references,
    // which the CLI equals too (tests/engine), so a second process would add only time.
    const [completion, chat, cliChat] = await Promise.all([
      post('/completions', { prompt, max_tokens: maxTokens, temperature: 0 }),
      post('/chat/completions', { messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, temperature: 0 }),
      cliGenerate(prompt, positions, true),
    ]);
    expect(cliChat).toHaveLength(maxTokens);
    expect(chat.choices[0].message.content).toBe(tokenizer.decode(cliChat, { continuation: true }));
    // This base model's chat is its turns' plain text, so the raw completion is the same story.
    expect(completion.choices[0].text).toBe(chat.choices[0].message.content);

    // --context 128: a prompt that fits the model's 512 but not the served context is refused.
    const long = await post('/completions', { prompt: Array.from({ length: 129 }, () => 300), max_tokens: 1 });
    expect(long.error.code).toBe('context_length_exceeded');

    const exited = new Promise<number | null>((r) => serve!.on('exit', r));
    serve!.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('--tune measures kernel variants on this device before serving and keeps them; the greedy answer is unchanged', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'kvchat-serve-tune-'));
    const url = await startServe(['--model', MODEL, '--port', '0', '--tune'], { XDG_CACHE_HOME: cache });
    const stored = JSON.parse(readFileSync(join(cache, 'kvchat', 'kernel-variants.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(stored).some((k) => k.includes('flash-decode'))).toBe(true);
    const prompt = 'Once upon a time';
    const tokenizer = tokenizerFromGguf(openModel('stories260K.gguf').metadata);
    const positions = 30;
    const maxTokens = positions - tokenizer.encode(prompt, {}).length + 1;
    const [served, fixedKernels] = await Promise.all([
      fetch(`${url}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0 }) }).then((r) => r.json() as Promise<any>),
      cliGenerate(prompt, positions, false),
    ]);
    expect(served.choices[0].text).toBe(tokenizer.decode(fixedKernels, { continuation: true }));
    const exited = new Promise<number | null>((r) => serve!.on('exit', r));
    serve!.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('refuses a bad port with a usage error (exit 2)', async () => {
    await expect(startServe(['--model', MODEL, '--port', 'http'])).rejects.toThrow(/exited with 2: error: --port must be a port number/);
  });
});
