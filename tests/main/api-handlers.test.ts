// The API behind the IPC channels, without Electron: every payload is validated (wrong types, unknown or
// missing fields, oversized strings -> 'invalid-request' naming the field), valid calls round-trip through
// the real store and library, and typed errors cross as { code, message }.
import { blockChecksum } from '../../src/store/block-checksum';
import { ok, testServices } from './helpers/services';
import { describe, expect, it } from 'vitest';
import { bytesToTokens, CHANNELS, DEFAULT_GENERATION_SETTINGS, EVENT_METHODS, type RemoteDelta, tokensToBytes, type ApiResult, type ModelImportProgress } from '../../src/shared/api';
import { createApiHandlers, invokeApi, throttleProgress, toApiError } from '../../src/main/api-handlers';
import { API_SCHEMAS, LIMITS, type ApiMethod } from '../../src/main/api-schemas';
import { closeLater, sharedModel, tempDir } from '../helpers/temp';
import { answer, httpServer, jsonError, sseHead, chunk } from './remote/helpers/http';

function api(picked: string | null = sharedModel('stories260K.gguf')) {
  const dir = tempDir();
  const services = testServices({ dir, picked });
  const handlers = createApiHandlers(services);
  const call = <M extends ApiMethod>(method: M, payload?: unknown, onImportProgress?: (p: ModelImportProgress) => void, onRemoteDelta?: (d: RemoteDelta) => void) =>
    invokeApi(handlers, method, payload, { ...(onImportProgress ? { onImportProgress } : {}), ...(onRemoteDelta ? { onRemoteDelta } : {}) });
  return { call, services };
}

function failed<T>(r: ApiResult<T>): { code: string; message: string } {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

describe('payload validation', () => {
  it.each<[ApiMethod, unknown, RegExp]>([
    ['renameConversation', { id: '1', title: 'x' }, /^Invalid request to renameConversation: id: Invalid input: expected number, received string$/],
    ['renameConversation', { id: 1 }, /title: Invalid input: expected string, received undefined/],
    ['renameConversation', { id: 1, title: 'x', admin: true }, /Unrecognized key: "admin"/],
    ['renameConversation', { id: 1, title: '   ' }, /title: must not be empty/],
    ['renameConversation', { id: 1, title: 'x'.repeat(LIMITS.title + 1) }, /title: Too big: expected string to have <=200 characters/],
    ['deleteConversation', { id: -3 }, /id: Too small/],
    ['deleteConversation', { id: 1.5 }, /id: Invalid input: expected int/],
    ['deleteConversation', null, /expected object, received null/],
    ['deleteConversation', [1], /expected object, received array/],
    ['listConversations', { sneaky: 1 }, /Invalid request to listConversations: takes no payload/],
    ['appendMessage', { conversationId: 1, parentId: null, role: 'root', content: 'x' }, /role: Invalid option/],
    ['appendMessage', { conversationId: 1, parentId: null, role: 'user', content: 'x'.repeat(LIMITS.content + 1) }, /content: Too big/],
    ['appendMessage', { conversationId: 1, role: 'user', content: 'x' }, /parentId: Invalid input/],
    ['updateMessage', { id: 1, stats: { tokensPerSecond: -1 } }, /stats\.tokensPerSecond: Too small/],
    ['updateMessage', { id: 1, stats: { gpuSecrets: 'x' } }, /Unrecognized key: "gpuSecrets"/],
    ['updateConversationSettings', { id: 1, settings: { temperature: 'hot' } }, /settings\.temperature: Invalid input: expected number/],
    ['updateConversationSettings', { id: 1, settings: { topP: 0 } }, /settings\.topP: Too small/],
    ['updateConversationSettings', { id: 1, settings: { seed: 2 ** 40 } }, /settings\.seed: Too big/],
    ['searchMessages', { query: 'q'.repeat(LIMITS.query + 1) }, /query: Too big/],
    ['renameModel', { id: 'not-a-uuid', name: 'x' }, /id: must be a model id/],
    ['deleteModel', { id: '123e4567-e89b-42d3-a456-426614174000', confirm: false }, /confirm: must be true: ask the user first/],
    ['deleteModel', { id: '123e4567-e89b-42d3-a456-426614174000' }, /confirm: must be true/],
    ['importDroppedModel', { path: 'models/relative.gguf', copy: true }, /path: must be an absolute file path/],
    ['addRemoteProvider', { name: ' ', baseUrl: 'http://x' }, /name: must not be empty/],
    ['addRemoteProvider', { name: 'a', baseUrl: 'http://x', apiKey: 7 }, /apiKey: Invalid input: expected string/],
    ['addRemoteProvider', { name: 'a', baseUrl: 'http://x', apiKey: 'k\nInjected: 1' }, /apiKey: must be one line/],
    ['addRemoteProvider', { name: 'a', baseUrl: 'http://x', token: 'k' }, /Unrecognized key: "token"/],
    ['updateRemoteProvider', { id: 0, name: 'a' }, /id: Too small/],
    ['listRemoteModels', { providerId: 'one' }, /providerId: Invalid input: expected number/],
    ['createRemoteConversation', { providerId: 1, model: '' }, /model: must not be empty/],
    ['remoteSend', { conversationId: 1, content: '  ', requestId: 'r1' }, /content: must not be empty/],
    ['remoteSend', { conversationId: 1, content: 'hi', requestId: 'a b' }, /requestId: must be 1 to 100 letters/],
    ['remoteContinue', { messageId: 1 }, /requestId: Invalid input/],
    ['remoteStop', { requestId: '' }, /requestId: must be 1 to 100/],
    ['importDroppedModel', { path: '/tmp/a\0b.gguf', copy: true }, /path: must be an absolute file path/],
    ['pickAndImportModel', { copy: 'yes' }, /copy: Invalid input: expected boolean/],
  ])('%s(%j) is refused', async (method, payload, message) => {
    const { call } = api();
    const error = failed(await call(method, payload));
    expect(error.code).toBe('invalid-request');
    expect(error.message).toMatch(message);
  });

  it('keeps the message short for a hostile payload and echoes no values', async () => {
    const { call } = api();
    const huge = 'x'.repeat(5_000_000);
    const error = failed(await call('createConversation', { title: huge, systemPrompt: huge, [huge.slice(0, 10_000)]: 1 }));
    expect(error.code).toBe('invalid-request');
    expect(error.message.length).toBeLessThanOrEqual(500);
  });

  it('has one schema per invoke channel, and CHANNELS names each once', () => {
    const invokeMethods = Object.keys(CHANNELS).filter((m) => !(EVENT_METHODS as readonly string[]).includes(m)).sort();
    expect(Object.keys(API_SCHEMAS).sort()).toEqual(invokeMethods);
    expect(new Set(Object.values(CHANNELS)).size).toBe(Object.keys(CHANNELS).length);
  });
});

describe('round trips', () => {
  it('conversations: create, list, rename, settings, delete', async () => {
    const { call } = api();
    const c = ok(await call('createConversation', { title: 'Bedtime', settings: { temperature: 0 }, systemPrompt: 'Be kind.' }));
    expect(c).toMatchObject({ title: 'Bedtime', systemPrompt: 'Be kind.', settings: { ...DEFAULT_GENERATION_SETTINGS, temperature: 0 } });
    expect(ok(await call('listConversations')).map((x) => x.id)).toEqual([c.id]);
    expect(ok(await call('renameConversation', { id: c.id, title: 'Stories' })).title).toBe('Stories');
    const u = ok(await call('updateConversationSettings', { id: c.id, settings: { topK: 5, temperature: undefined } }));
    expect(u.settings).toMatchObject({ topK: 5, temperature: 0 });
    expect(ok(await call('setConversationPinned', { id: c.id, pinned: true })).pinned).toBe(true);
    expect(ok(await call('listConversations')).map((x) => x.pinned)).toEqual([true]);
    expect(ok(await call('deleteConversation', { id: c.id }))).toBeUndefined();
    expect(failed(await call('deleteConversation', { id: c.id }))).toEqual({ code: 'conversation-not-found', message: `Conversation ${c.id} does not exist (it may have been deleted)` });
  });

  it('messages: append, stream an answer, branch, select, search', async () => {
    const { call } = api();
    const c = ok(await call('createConversation', {}));
    const q = ok(await call('appendMessage', { conversationId: c.id, parentId: null, role: 'user', content: 'Tell me about owls' }));
    const a = ok(await call('appendMessage', { conversationId: c.id, parentId: q, role: 'assistant', content: '', status: 'incomplete' }));
    ok(await call('updateMessage', { id: a, content: 'Owls hunt at night.' }));
    const done = ok(await call('updateMessage', { id: a, status: 'complete', tokenCount: 6, stats: { tokensPerSecond: 120, resumeSource: 'prefill' } }));
    expect(done).toMatchObject({ content: 'Owls hunt at night.', status: 'complete', stats: { tokensPerSecond: 120 } });
    const b = ok(await call('appendMessage', { conversationId: c.id, parentId: q, role: 'assistant', content: 'Owls are birds.' }));
    const thread = ok(await call('getMessages', { conversationId: c.id }));
    expect(thread.messages.map((m) => m.id)).toEqual([q, b]);
    expect(thread.messages[1]!.siblingIds).toEqual([a, b]);
    expect(ok(await call('selectBranch', { conversationId: c.id, messageId: a })).activeLeafId).toBe(a);
    const hits = ok(await call('searchMessages', { query: 'owls night' }));
    expect(hits.map((h) => h.messageId)).toEqual([a]);
    expect(ok(await call('searchMessages', { query: '" AND (', limit: 5 }))).toEqual([]);
    expect(failed(await call('appendMessage', { conversationId: c.id, parentId: 999, role: 'user', content: 'x' })).code).toBe('invalid-parent');
  });

  it('models: pick and import with progress, rename, verify, delete; a bad file is a readable error', async () => {
    const { call } = api();
    const progress: ModelImportProgress[] = [];
    const m = ok(await call('pickAndImportModel', { copy: true }, (p) => progress.push(p)));
    expect(m).toMatchObject({ architecture: 'llama', storedInPlace: false });
    expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['copy', 'verify']));
    expect(ok(await call('listModels')).map((x) => x.id)).toEqual([m!.id]);
    expect(ok(await call('renameModel', { id: m!.id, name: 'Tiny' })).name).toBe('Tiny');
    expect(ok(await call('verifyModel', { id: m!.id })).problem).toBeNull();
    const dropped = failed(await call('importDroppedModel', { path: sharedModel('quant-testvectors.gguf'), copy: false }));
    expect(dropped).toEqual({
      code: 'invalid-model',
      message: expect.stringMatching(/^quant-testvectors\.gguf cannot be used as a model: architecture "testvectors" is not supported/),
    });
    const duplicate = failed(await call('importDroppedModel', { path: sharedModel('stories260K.gguf'), copy: false }));
    expect(duplicate).toEqual({ code: 'duplicate', message: 'This model is already in the library as "Tiny"' });
    expect(ok(await call('deleteModel', { id: m!.id, confirm: true }))).toBeUndefined();
    expect(ok(await call('listModels'))).toEqual([]);
  });

  it('a cancelled dialog imports nothing', async () => {
    const { call } = api(null);
    expect(ok(await call('pickAndImportModel', { copy: false }))).toBeNull();
    expect(ok(await call('listModels'))).toEqual([]);
  });

  it('the app info', async () => {
    expect(ok(await api().call('getAppInfo'))).toMatchObject({ name: 'KVChat' });
  });
});

describe('errors and progress', () => {
  it('an unexpected error crosses as internal, without its stack', () => {
    const quiet = console.error;
    console.error = () => {};
    try {
      expect(toApiError(new TypeError('x is undefined'))).toEqual({ ok: false, error: { code: 'internal', message: 'Something went wrong inside KVChat: x is undefined' } });
    } finally {
      console.error = quiet;
    }
  });

  it('progress is throttled but every phase change and the end come through', () => {
    const sent: ModelImportProgress[] = [];
    const send = throttleProgress((p) => sent.push(p), 10_000);
    for (let i = 1; i <= 100; i++) send({ phase: 'copy', bytesDone: i, bytesTotal: 100 });
    send({ phase: 'verify', bytesDone: 1, bytesTotal: 100 });
    expect(sent.map((p) => `${p.phase}:${p.bytesDone}`)).toEqual(['copy:1', 'copy:100', 'verify:1']);
  });
});

describe('KV cache through the API (binary payloads)', () => {
  const fp = 'ab'.repeat(32);
  const block = (hash: string, fill: number) => ({ hash, modelFingerprint: fp, layout: { key: 'f32:5x4x8' }, bytes: new Uint8Array(64).fill(fill) });

  it('puts blocks, reports which are stored, reads their bytes back as Uint8Array', async () => {
    const { call } = api();
    ok(await call('putKvBlocks', { blocks: [block('aa11aa11', 1), block('bb22bb22', 2)] }));
    expect(ok(await call('getStoredKvHashes', { hashes: ['aa11aa11', 'cc33cc33', 'bb22bb22'] })).sort()).toEqual(['aa11aa11', 'bb22bb22']);
    const got = ok(await call('getKvBlocks', { hashes: ['bb22bb22', 'cc33cc33'] }));
    expect(got).toHaveLength(1);
    expect(got[0]!.bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(got[0]!.bytes)).toBe(false);
    expect([...got[0]!.bytes]).toEqual(new Array(64).fill(2));
    expect(got[0]).toMatchObject({ hash: 'bb22bb22', modelFingerprint: fp, layout: { key: 'f32:5x4x8' }, checksum: blockChecksum(new Uint8Array(64).fill(2)) });
    expect(ok(await call('getKvUsage'))).toEqual({ blocks: 2, bytes: 128 });
  });

  it("saves a conversation's token history and block table; reads the tokens back as u32 bytes", async () => {
    const { call } = api();
    const c = ok(await call('createConversation', {}));
    expect(ok(await call('getConversationKv', { conversationId: c.id }))).toBeNull();
    ok(await call('putKvBlocks', { blocks: [block('aa11aa11', 1)] }));
    const tokens = tokensToBytes([1, 403, 70000, 2 ** 32 - 1]);
    ok(await call('saveConversationKv', { conversationId: c.id, modelFingerprint: fp, tokens, computed: 3, blockHashes: ['aa11aa11'] }));
    const kv = ok(await call('getConversationKv', { conversationId: c.id }))!;
    expect(kv.modelFingerprint).toBe(fp);
    expect(kv.computed).toBe(3);
    expect(bytesToTokens(kv.tokens)).toEqual([1, 403, 70000, 2 ** 32 - 1]);
  });

  it('drops, at the next start, the blocks no conversation names (a deleted conversation\'s, spilled cache)', async () => {
    const dir = tempDir();
    const open = () => {
      const services = testServices({ dir });
      return { services, call: <M extends ApiMethod>(m: M, payload?: unknown) => invokeApi(createApiHandlers(services), m, payload) };
    };
    const first = open();
    const kept = ok(await first.call('createConversation', {}));
    const deleted = ok(await first.call('createConversation', {}));
    ok(await first.call('putKvBlocks', { blocks: [block('aa11aa11', 1), block('bb22bb22', 2), block('cc33cc33', 3)] }));
    ok(await first.call('saveConversationKv', { conversationId: kept.id, modelFingerprint: fp, tokens: tokensToBytes([1]), computed: 1, blockHashes: ['aa11aa11'] }));
    ok(await first.call('saveConversationKv', { conversationId: deleted.id, modelFingerprint: fp, tokens: tokensToBytes([1]), computed: 1, blockHashes: ['bb22bb22'] }));
    ok(await first.call('deleteConversation', { id: deleted.id }));
    // Within a session nothing is collected: an engine may be between storing a block and naming it.
    expect(ok(await first.call('getKvUsage')).blocks).toBe(3);
    first.services.db.close();
    const second = open();
    closeLater(second.services.db);
    expect(ok(await second.call('getStoredKvHashes', { hashes: ['aa11aa11', 'bb22bb22', 'cc33cc33'] }))).toEqual(['aa11aa11']);
  });

  it('refuses JSON-encoded arrays, unknown blocks in a table, and unknown conversations with typed errors', async () => {
    const { call } = api();
    const c = ok(await call('createConversation', {}));
    expect(failed(await call('putKvBlocks', { blocks: [{ ...block('aa11aa11', 1), bytes: [1, 2, 3] }] })).message).toMatch(/bytes: must be bytes/);
    expect(failed(await call('saveConversationKv', { conversationId: c.id, modelFingerprint: fp, tokens: new Uint8Array(5), computed: 0, blockHashes: [] })).message).toMatch(
      /tokens: must hold whole u32 token ids/,
    );
    expect(failed(await call('saveConversationKv', { conversationId: c.id, modelFingerprint: fp, tokens: tokensToBytes([1]), computed: 0, blockHashes: ['dd44dd44'] })).code).toBe(
      'kv-unknown-block',
    );
    expect(failed(await call('saveConversationKv', { conversationId: c.id, modelFingerprint: fp, tokens: tokensToBytes([1]), computed: 2, blockHashes: [] })).message).toMatch(/computed/);
    expect(failed(await call('getConversationKv', { conversationId: 999 })).code).toMatch(/not-found/);
    expect(failed(await call('getKvBlocks', { hashes: ['not hex'] })).message).toMatch(/hashes\.0: must be a hex block hash/);
  });

  it('gives the model URL of a known model only', async () => {
    const { call } = api();
    const m = ok(await call('pickAndImportModel', { copy: false }))!;
    expect(ok(await call('getModelUrl', { id: m.id }))).toBe(`kvchat-model://${m.id}`);
    expect(failed(await call('getModelUrl', { id: '123e4567-e89b-42d3-a456-426614174000' })).code).toMatch(/not-found|unknown/);
  });
});

describe('remote providers', () => {
  const KEY = 'sk-test-secret-0123456789';

  it('adds, lists, updates and removes a provider without ever returning its key; bad URLs are typed errors', async () => {
    const { call } = api();
    const p = ok(await call('addRemoteProvider', { name: 'Lab', baseUrl: 'http://127.0.0.1:9/', apiKey: KEY }));
    expect(p).toMatchObject({ name: 'Lab', baseUrl: 'http://127.0.0.1:9', hasApiKey: true });
    const listed = ok(await call('listRemoteProviders'));
    expect(listed).toEqual([p]);
    expect(JSON.stringify(listed)).not.toContain(KEY);
    expect(ok(await call('updateRemoteProvider', { id: p.id, apiKey: null })).hasApiKey).toBe(false);
    const bad = failed(await call('addRemoteProvider', { name: 'x', baseUrl: 'ftp://example.com' }));
    expect(bad.code).toBe('invalid-url');
    ok(await call('removeRemoteProvider', { id: p.id }));
    expect(ok(await call('listRemoteProviders'))).toEqual([]);
    expect(failed(await call('listRemoteModels', { providerId: p.id })).code).toBe('provider-not-found');
  });

  it('round trip: models, a remote conversation, a streamed answer with deltas tagged by requestId, stop', async () => {
    let release: (() => void) | undefined;
    const server = await httpServer((req, res, _n, body) => {
      if (req.headers.authorization !== `Bearer ${KEY}`) return jsonError(res, 401, 'Incorrect API key provided');
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'tiny', object: 'model', owned_by: 'me' }] }));
        return;
      }
      if (body.includes('wait')) {
        // Streams one piece, then holds the request open until the test stops it.
        sseHead(res);
        res.write(chunk('part'));
        release = () => res.end();
        return;
      }
      answer(res, ['Hel', 'lo']);
    });
    const { call } = api();
    const p = ok(await call('addRemoteProvider', { name: 'Lab', baseUrl: server.url, apiKey: KEY }));
    expect(ok(await call('listRemoteModels', { providerId: p.id }))).toEqual([{ id: 'tiny', ownedBy: 'me' }]);
    const c = ok(await call('createRemoteConversation', { providerId: p.id, model: 'tiny', title: 'Remote' }));
    expect(ok(await call('getConversationRemote', { conversationId: c.id }))).toEqual({ conversationId: c.id, providerId: p.id, model: 'tiny' });

    const deltas: RemoteDelta[] = [];
    const m = ok(await call('remoteSend', { conversationId: c.id, content: 'hi', requestId: 'req-1' }, undefined, (d) => deltas.push(d)));
    expect(m).toMatchObject({ role: 'assistant', content: 'Hello', status: 'complete' });
    expect(deltas).toEqual([
      { requestId: 'req-1', messageId: m.id, text: 'Hel' },
      { requestId: 'req-1', messageId: m.id, text: 'lo' },
    ]);
    expect(server.requests.at(-1)!.body).toContain('"tiny"');

    const pending = call('remoteSend', { conversationId: c.id, content: 'wait', requestId: 'req-2' }, undefined, (d) => deltas.push(d));
    while (!deltas.some((d) => d.requestId === 'req-2')) await new Promise((r) => setTimeout(r, 10));
    expect(ok(await call('remoteStop', { requestId: 'req-2' }))).toBe(true);
    const stopped = ok(await pending);
    release?.();
    expect(stopped).toMatchObject({ content: 'part', status: 'incomplete' });
    expect(ok(await call('remoteStop', { requestId: 'req-2' }))).toBe(false);
    const thread = ok(await call('getMessages', { conversationId: c.id }));
    expect(thread.messages.map((x) => x.content)).toEqual(['hi', 'Hello', 'wait', 'part']);
  });

  it('a wrong key crosses as a typed 401 error that names the host and never the key', async () => {
    const server = await httpServer((_req, res) => jsonError(res, 401, 'Incorrect API key provided'));
    const { call } = api();
    const p = ok(await call('addRemoteProvider', { name: 'Lab', baseUrl: server.url, apiKey: 'wrong-key-42' }));
    const c = ok(await call('createRemoteConversation', { providerId: p.id, model: 'tiny' }));
    const e = failed(await call('remoteSend', { conversationId: c.id, content: 'hi', requestId: 'r' }));
    expect(e.code).toBe('unauthorized');
    expect(e.message).toMatch(/401|key/i);
    expect(e.message).toContain('127.0.0.1');
    expect(e.message).not.toContain('wrong-key-42');
    expect(failed(await call('remoteSend', { conversationId: 999, content: 'hi', requestId: 'r' })).code).toBe('not-remote');
  });
});
