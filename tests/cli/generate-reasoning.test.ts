// `generate --chat` with a model whose template speaks Qwen3's <think> markup and reads enable_thinking and
// reasoning_effort (stories260K's weights, a template added to a copy of its file): the JSON's text and reasoning
// are split, --no-think and --reasoning-effort reach the template (the prompt tokens are the template's rendering),
// and the flags are refused, as usage errors naming them, where the template has no such variable.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { parseGguf } from '../../src/gpu/gguf/reader';
import type { GgufTensorInfo } from '../../src/gpu/gguf/types';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { v, walkGguf, writeGguf } from '../gguf/writer';
import { modelPath, openModel } from '../helpers/shared';
import { tempDir } from '../helpers/temp';

const ROOT = resolve(__dirname, '../..');

/** Qwen3's shape in a few lines: thinking opens the reasoning for the model; off, an empty block is closed. */
const TEMPLATE =
  '{% for m in messages %}{{ m.content }}{% endfor %}' +
  '{% if reasoning_effort is defined %} Effort: {{ reasoning_effort }}.{% endif %}' +
  '{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% else %}<think>\n{% endif %}';

const utf8 = new TextEncoder();

function u64(x: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(x), true);
  return b;
}

/** The GGUF file's bytes with `tokenizer.chat_template` added to its metadata (tensor data copied unchanged). */
function withChatTemplate(bytes: Uint8Array, template: string): Uint8Array {
  const header = parseGguf(bytes);
  const infoBytes = (t: GgufTensorInfo): number => 8 + utf8.encode(t.name).byteLength + 4 + 8 * t.dims.length + 4 + 8;
  const headerEnd = walkGguf(bytes).headerEnd;
  const kvEnd = headerEnd - header.tensors.reduce((n, t) => n + infoBytes(t), 0);
  const kv = writeGguf({ metadata: [['tokenizer.chat_template', v.str(template)]], omitData: true });
  const kvBody = kv.subarray(24, walkGguf(kv).headerEnd);
  const head = [bytes.subarray(0, 16), u64(header.metadata.size + 1), bytes.subarray(24, kvEnd), kvBody, bytes.subarray(kvEnd, headerEnd)];
  const length = head.reduce((n, b) => n + b.byteLength, 0);
  const padded = Math.ceil(length / header.alignment) * header.alignment;
  const out = new Uint8Array(padded + bytes.byteLength - header.dataOffset);
  let at = 0;
  for (const b of head) {
    out.set(b, at);
    at += b.byteLength;
  }
  out.set(bytes.subarray(header.dataOffset), padded);
  return out;
}

function thinkingModel(): string {
  const file = join(tempDir(), 'stories260K-think.gguf');
  writeFileSync(file, withChatTemplate(readFileSync(modelPath('stories260K.gguf')), TEMPLATE));
  return file;
}

async function generate(model: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/generate.ts', '--model', model, '--reference', ...args];
  return promisify(execFile)(process.execPath, argv, { cwd: ROOT }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

const GREEDY = ['--max-tokens', '48', '--temperature', '0'];

describe('generate --chat: reasoning', () => {
  it('the template opened <think>: what the model writes is reasoning, and the JSON says so beside the text', async () => {
    const model = thinkingModel();
    const r = JSON.parse((await generate(model, '--chat', '--prompt', 'Once upon a time', ...GREEDY, '--json')).stdout);
    const tokenizer = tokenizerFromGguf(openModel('stories260K.gguf').metadata);
    expect(r.prompt_tokens).toEqual(tokenizer.encode('Once upon a time<think>\n', { parseSpecial: true }));
    expect(r.reasoning.length).toBeGreaterThan(10);
    expect(r.text).toBe('');
  });

  it('--no-think renders the template with enable_thinking false: the answer is text, its reasoning empty', async () => {
    const model = thinkingModel();
    const r = JSON.parse((await generate(model, '--chat', '--no-think', '--prompt', 'Once upon a time', ...GREEDY, '--json')).stdout);
    const tokenizer = tokenizerFromGguf(openModel('stories260K.gguf').metadata);
    expect(r.prompt_tokens).toEqual(tokenizer.encode('Once upon a time<think>\n\n</think>\n\n', { parseSpecial: true }));
    expect(r.reasoning).toBe('');
    expect(r.text.length).toBeGreaterThan(10);
  });

  it('plain output: the answer on stdout, the reasoning on stderr under "Thinking:"', async () => {
    const model = thinkingModel();
    const json = JSON.parse((await generate(model, '--chat', '--prompt', 'Once upon a time', ...GREEDY, '--json')).stdout);
    const plain = await generate(model, '--chat', '--prompt', 'Once upon a time', ...GREEDY);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('Once upon a time\n'); // the prompt echoed, no answer text: it was all reasoning
    expect(plain.stderr.startsWith(`Thinking:\n${json.reasoning}\n\n`)).toBe(true);
  });

  it('--reasoning-effort reaches the template', async () => {
    const model = thinkingModel();
    const r = JSON.parse((await generate(model, '--chat', '--reasoning-effort', 'high', '--prompt', 'Hi', '--max-tokens', '24', '--json')).stdout);
    const tokenizer = tokenizerFromGguf(openModel('stories260K.gguf').metadata);
    expect(r.prompt_tokens).toEqual(tokenizer.encode('Hi Effort: high.<think>\n', { parseSpecial: true }));
  });

  it('--session keeps the answer and its reasoning apart in the stored message (GPU run)', async () => {
    const model = thinkingModel();
    const db = join(tempDir(), 'session.sqlite');
    const args = ['--session', db, '--conversation', 'c', '--chat', '--prompt', 'Once upon a time', '--max-tokens', '16', '--temperature', '0', '--json'];
    const argv = ['--import', 'tsx', '--import', './scripts/wgsl-hooks.mjs', 'src/cli/generate.ts', '--model', model, ...args];
    const r = JSON.parse((await promisify(execFile)(process.execPath, argv, { cwd: ROOT })).stdout);
    expect(r.reasoning.length).toBeGreaterThan(0);
    const raw = new Database(db, { readonly: true });
    const rows = raw.prepare('SELECT role, content, reasoning FROM messages ORDER BY id').all();
    raw.close();
    expect(rows).toEqual([
      { role: 'user', content: 'Once upon a time', reasoning: '' },
      { role: 'assistant', content: r.text, reasoning: r.reasoning },
    ]);
  }, 120_000);

  it.each([
    [['--chat', '--no-think'], /^error: --no-think: this model's chat template has no thinking switch/],
    [['--chat', '--reasoning-effort', 'low'], /^error: --reasoning-effort: this model's chat template does not read reasoning_effort/],
    [['--no-think'], /^error: --no-think needs --chat/],
    [['--think', '--no-think'], /^error: --think and --no-think contradict each other/],
  ])('%j on a model without such a template variable is a usage error (exit 2)', async (flags, message) => {
    const r = await generate(modelPath('stories260K.gguf'), '--prompt', 'Once', '--max-tokens', '4', ...flags);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('a bad --reasoning-effort names the levels', async () => {
    const r = await generate(thinkingModel(), '--chat', '--reasoning-effort', 'max', '--prompt', 'Hi', '--max-tokens', '4');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --reasoning-effort must be one of low, medium, high, not "max"/);
  });

  it('--help documents where the thinking goes', async () => {
    const r = await generate(modelPath('stories260K.gguf'), '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/reasoning on stderr under a "Thinking:" header/);
    expect(r.stdout).toMatch(/--no-think/);
  });
});
