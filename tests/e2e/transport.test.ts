// The pieces under the e2e tests, in Node: the host's wire format (byte payloads as raw attachments), the HTTP
// Range ByteSource against the host's real model route, and the prompt builder's reuse of exact token histories.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSource, HttpSourceError } from '../../src/gpu/gguf/http-source';
import { GgufFile } from '../../src/gpu/gguf/reader';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { buildPrompt } from '../../src/gpu/engine/conversation-prompt';
import { decodeFrame, encodeFrame, WireError } from '../../src/renderer/src/transport/wire';
import { WebSocket as WsWebSocket } from 'ws';
import { bytesToTokens, tokensToBytes, type ApiResult, type KvChatApi } from '../../src/shared/api';
import { createSocketApi } from '../../src/renderer/src/transport/socket-api';
import { loadReference, modelPath, openModel } from '../helpers/shared';
import { startHost, type TestHost } from './host';

describe('wire frames', () => {
  it('round-trips nested values with byte payloads as attachments, not JSON arrays', () => {
    const a = new Uint8Array([1, 2, 3, 255]);
    const b = new Uint8Array(1000).fill(7);
    const message = { id: 3, method: 'putKvBlocks', payload: { blocks: [{ hash: 'ab', bytes: a }, { hash: 'cd', bytes: b }], n: null, s: 'x' } };
    const frame = encodeFrame(message);
    // Raw bytes: the frame is barely larger than the payloads (a JSON array of 1000 sevens would be 2000+ bytes).
    expect(frame.byteLength).toBeLessThan(a.byteLength + b.byteLength + 200);
    const back = decodeFrame(frame) as typeof message;
    expect(back).toEqual(message);
    expect(back.payload.blocks[1]!.bytes).toBeInstanceOf(Uint8Array);
  });

  it('keeps Node Buffers binary and drops undefined fields', () => {
    const back = decodeFrame(encodeFrame({ b: Buffer.from([9, 8]), u: undefined })) as { b: Uint8Array };
    expect([...back.b]).toEqual([9, 8]);
    expect(Object.keys(back)).toEqual(['b']);
  });

  it('refuses malformed frames with a typed error', () => {
    expect(() => decodeFrame(new Uint8Array(2))).toThrow(WireError);
    const bad = encodeFrame({ x: new Uint8Array(4) }).slice(0, -2); // attachment cut short
    expect(() => decodeFrame(bad)).toThrow(/outside the frame/);
    const lying = new Uint8Array(8);
    new DataView(lying.buffer).setUint32(0, 100, true);
    expect(() => decodeFrame(lying)).toThrow(/exceeds/);
  });
});

describe('httpSource over the host model route', () => {
  let host: TestHost;
  let url: string;
  beforeAll(async () => {
    host = await startHost({ dataDir: mkdtempSync(join(tmpdir(), 'kvchat-e2e-src-')), staticDir: mkdtempSync(join(tmpdir(), 'kvchat-e2e-static-')) });
    const models = await host.call('listModels');
    if (!models.ok) throw new Error(models.error.message);
    const urlResult = await host.call('getModelUrl', { id: models.value[0]!.id });
    if (!urlResult.ok) throw new Error(urlResult.error.message);
    url = urlResult.value;
  });
  afterAll(() => host.close());

  it('reads the same bytes and header as the file on disk, by Range', async () => {
    let fetched = 0;
    const source = await httpSource(url, { onBytes: (n) => (fetched = n) });
    const local = openModel('stories260K.gguf');
    expect(source.size).toBe(local.source.size);
    const remote = await GgufFile.open(source);
    expect(remote.header.tensors.length).toBe(local.header.tensors.length);
    const t = local.header.tensors[3]!;
    expect(await remote.tensorBytes(remote.requireTensor(t.name))).toEqual(await local.tensorBytes(t));
    expect(fetched).toBeGreaterThan(0);
    await expect(source.read(source.size - 1, 2)).rejects.toThrow(RangeError);
  });

  it('a missing model is a clear error naming the URL', async () => {
    const missing = url.replace(/[^/]+$/, '123e4567-e89b-42d3-a456-426614174000');
    await expect(httpSource(missing)).rejects.toThrow(HttpSourceError);
    await expect(httpSource(missing)).rejects.toThrow(/Could not read the model at .*: 404/);
  });
});

describe('buildPrompt (raw continuation, stories260K)', () => {
  const file = openModel('stories260K.gguf');
  const tok = tokenizerFromGguf(file.metadata);
  const ref = loadReference('llama2c_stories260K_once_upon_a_time.json');
  const answerTokens = ref.generated_tokens.slice(0, 24);
  const answer = tok.decode(answerTokens, { continuation: true });
  const history = [...ref.prompt_tokens, ...answerTokens];
  const build = (turns: { role: 'user' | 'assistant'; content: string; tokenCount: number | null }[], h: number[] = history) => buildPrompt(tok, file.metadata, false, '', turns, h);

  it('a first message is the reference prompt: BOS and the text', () => {
    expect(build([{ role: 'user', content: ref.prompt, tokenCount: null }], [])).toEqual({ tokens: ref.prompt_tokens, lastTurnTokens: ref.prompt_tokens.length });
  });

  it('a follow-up keeps the exact stored history (sampled tokens included) and appends the new text', () => {
    const next = tok.encode(' One day', { addBos: false });
    const built = build([
      { role: 'user', content: ref.prompt, tokenCount: 5 },
      { role: 'assistant', content: answer, tokenCount: 24 },
      { role: 'user', content: ' One day', tokenCount: null },
    ]);
    expect(built.tokens).toEqual([...history, ...next]);
    expect(built.lastTurnTokens).toBe(next.length);
  });

  it('a history that no longer matches (an edited answer) is re-encoded from the text', () => {
    const built = build([
      { role: 'user', content: ref.prompt, tokenCount: 5 },
      { role: 'assistant', content: `${answer} (edited)`, tokenCount: 24 },
      { role: 'user', content: ' One day', tokenCount: null },
    ]);
    expect(built.tokens.slice(0, 5)).toEqual(ref.prompt_tokens);
    expect(built.tokens.slice(5)).toEqual([...tok.encode(`${answer} (edited)`, { addBos: false }), ...tok.encode(' One day', { addBos: false })]);
  });
});

describe('createSocketApi against the host (the renderer transport, in Node with ws)', () => {
  let host: TestHost;
  let api: KvChatApi;
  const data = mkdtempSync(join(tmpdir(), 'kvchat-e2e-sock-'));
  beforeAll(async () => {
    host = await startHost({ dataDir: data, staticDir: mkdtempSync(join(tmpdir(), 'kvchat-e2e-static-')) });
    (globalThis as { WebSocket?: unknown }).WebSocket ??= WsWebSocket;
    api = createSocketApi(`ws://localhost:${host.port}/api`);
  });
  afterAll(() => host.close());

  const ok = async <T>(p: Promise<ApiResult<T>>): Promise<T> => {
    const r = await p;
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    return r.value;
  };

  it('answers typed calls with the real services; KV bytes cross as raw bytes both ways', async () => {
    const [model] = await ok(api.listModels());
    expect(model!.name).toBe('stories260K (built in)');
    const c = await ok(api.createConversation({ title: 'over the socket' }));
    const bytes = new Uint8Array(20480).map((_, i) => i & 0xff);
    await ok(api.putKvBlocks({ blocks: [{ hash: 'abcdef01', modelFingerprint: model!.fingerprint, layout: { key: 'k' }, bytes }] }));
    await ok(api.saveConversationKv({ conversationId: c.id, modelFingerprint: model!.fingerprint, tokens: tokensToBytes([1, 2, 3]), computed: 2, blockHashes: ['abcdef01'] }));
    const [back] = await ok(api.getKvBlocks({ hashes: ['abcdef01'] }));
    expect(back!.bytes).toBeInstanceOf(Uint8Array);
    expect(back!.bytes).toEqual(bytes);
    expect(bytesToTokens((await ok(api.getConversationKv({ conversationId: c.id })))!.tokens)).toEqual([1, 2, 3]);
    const bad = await api.renameConversation({ id: c.id, title: '  ' });
    expect(bad.ok ? '' : bad.error.code).toBe('invalid-request');
  });

  it('streams import progress events, and imports a dropped file from its bytes', async () => {
    const seen: string[] = [];
    const off = api.onModelImportProgress((p) => seen.push(p.phase));
    host.pickQueue.push(modelPath('TinyStories-656K.gguf'));
    const picked = await ok(api.pickAndImportModel({ copy: true }));
    expect(picked!.quantization).toBe('F32');
    expect(seen).toContain('copy');
    off();
    const file = new File([readFileSync(modelPath('stories260K-Q8_0.gguf'))], 'stories260K-Q8_0.gguf');
    const dropped = await ok(api.importDroppedModel(file, { copy: true }));
    expect(dropped.quantization).toBe('Q8_0');
    const junk = await api.importDroppedModel(new File(['nope'], 'junk.gguf'), { copy: true });
    expect(junk.ok ? '' : junk.error.message).toMatch(/junk\.gguf|GGUF/);
    expect((await ok(api.listModels())).length).toBe(3);
  });
});

describe('buildPrompt (a model with a chat template)', () => {
  const file = openModel('vocab/ggml-vocab-gpt-2.gguf');
  const metadata = new Map(file.metadata);
  metadata.set('tokenizer.chat_template', "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}");
  const tok = tokenizerFromGguf(metadata);

  it("renders the whole thread (system prompt first) with the model's template", () => {
    const built = buildPrompt(tok, metadata, true, 'Be brief.', [
      { role: 'user', content: 'Hi', tokenCount: null },
      { role: 'assistant', content: 'Hello!', tokenCount: 3 },
      { role: 'user', content: 'Bye', tokenCount: null },
    ], []);
    expect(tok.decode(built.tokens)).toBe('[system] Be brief.\n[user] Hi\n[assistant] Hello!\n[user] Bye\n[assistant] ');
    expect(built.lastTurnTokens).toBeNull();
  });
});
