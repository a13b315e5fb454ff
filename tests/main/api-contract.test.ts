// The IPC contract's types and the schemas main parses with are one thing: every request type of src/shared/api.ts is
// derived from its zod schema. Here a typed sample of every request parses (the compiler checks each sample against
// the derived type, the schema checks it at run time), the KvChatApi methods take exactly those types, and the one
// KV block type (the engine's StoredKvBlock) is what the wire and the store carry.
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { StoredKvBlock as EngineStoredKvBlock } from '../../src/gpu/kv/cache';
import { API_SCHEMAS, parsePayload, type ApiMethod, type ApiPayload, type ApiRequest } from '../../src/main/api-schemas';
import { fullGenerationSettings } from '../../src/shared/api-schemas';
import {
  DEFAULT_GENERATION_SETTINGS,
  tokensToBytes,
  type BridgeFromRenderer,
  type KvBlockRecord,
  type KvChatApi,
  type ModelImportOptions,
  type StoredKvBlock,
} from '../../src/shared/api';
import type { KvBlock, KvBlockRow } from '../../src/store/kv-store';

const modelId = '123e4567-e89b-42d3-a456-426614174000';
const fingerprint = 'ab'.repeat(32);
const hashes = ['aa11aa11', 'bb22bb22'] as const; // a readonly array: callers may pass their own
const block: StoredKvBlock = { hash: 'aa11aa11', modelFingerprint: fingerprint, layout: { key: 'f32:5x4x8', layers: 5 }, checksum: 'c1', bytes: new Uint8Array(64).fill(1) };

/** One valid request per invoke method, typed as the derived request type (a missing or extra method fails to compile). */
const SAMPLES: { readonly [M in ApiMethod]: ApiRequest<M> } = {
  getAppInfo: undefined,
  listModels: undefined,
  pickAndImportModel: { copy: true },
  importDroppedModel: { path: '/home/me/models/model.gguf', copy: false },
  renameModel: { id: modelId, name: 'My model' },
  deleteModel: { id: modelId, confirm: true },
  verifyModel: { id: modelId },
  findLocalModels: undefined,
  addLocalModel: { path: '/home/me/.ollama/models/blobs/sha256-' + 'ab'.repeat(32) },
  linkModelFolder: undefined,
  listLinkedFolders: undefined,
  unlinkModelFolder: { path: '/home/me/models' },
  listConversations: undefined,
  createConversation: { title: 'A chat', modelId: null, systemPrompt: 'Be brief.', settings: { temperature: 0, contextPolicy: 'stop', seed: null } },
  renameConversation: { id: 1, title: 'Renamed' },
  deleteConversation: { id: 1 },
  exportConversation: { id: 1, format: 'json', includeKv: true },
  importConversation: { text: '{}' },
  updateConversationSettings: { id: 1, settings: DEFAULT_GENERATION_SETTINGS, modelId },
  setConversationPinned: { id: 1, pinned: true },
  getMessages: { conversationId: 1 },
  selectBranch: { conversationId: 1, messageId: 2 },
  appendMessage: { conversationId: 1, parentId: null, role: 'user', content: 'Hello', status: 'complete', tokenCount: 2, stats: {} },
  updateMessage: { id: 3, content: 'Hi', status: 'incomplete', tokenCount: null, stats: { tokensPerSecond: 12.5, resumeSource: 'disk', stopReason: 'max-tokens' } },
  searchMessages: { query: 'hello', limit: 20 },
  getModelUrl: { id: modelId },
  getKvBlocks: { hashes },
  getStoredKvHashes: { hashes },
  putKvBlocks: { blocks: [block] as readonly StoredKvBlock[] },
  getConversationKv: { conversationId: 1 },
  saveConversationKv: { conversationId: 1, modelFingerprint: fingerprint, tokens: tokensToBytes([1, 2, 3]), computed: 2, blockHashes: hashes },
  getKvUsage: undefined,
  getKvStorage: undefined,
  setKvBudget: { bytes: 2 * 1024 ** 3 },
  forgetConversationKv: { conversationId: 1 },
  getKernelTuning: { key: 'kernel-variant/v1/matvec/nvidia / ampere / RTX 3060/llama q4_0:576x576' },
  setKernelTuning: { key: 'kernel-variant/v1/matvec/nvidia / ampere / RTX 3060/llama q4_0:576x576', variant: 'tpr8.wg64.wg' },
  clearKernelTuning: { adapter: 'nvidia / ampere / RTX 3060' },
  listRemoteProviders: undefined,
  addRemoteProvider: { name: 'Server', baseUrl: 'http://127.0.0.1:8080/v1', apiKey: 'k', allowInsecureKey: false },
  updateRemoteProvider: { id: 1, name: 'Renamed', apiKey: null },
  removeRemoteProvider: { id: 1 },
  listRemoteModels: { providerId: 1 },
  createRemoteConversation: { providerId: 1, model: 'gpt-x', title: 'Remote', systemPrompt: '' },
  getConversationRemote: { conversationId: 1 },
  remoteSend: { conversationId: 1, content: 'Hello', requestId: 'req-1' },
  remoteContinue: { messageId: 2, requestId: 'req_2' },
  remoteRegenerate: { messageId: 2, requestId: 'r3' },
  remoteStop: { requestId: 'r3' },
  getLocalServer: undefined,
  setLocalServer: { enabled: true, port: 8080, apiKey: '' },
  serverBridgeReply: { type: 'done', id: 1, result: { tokens: [1, 2] as readonly number[], stopReason: 'eos', promptTokens: 4, cachedTokens: 0 } },
  listCuratedModels: undefined,
  searchHub: { query: 'llama 3.2', limit: 30 },
  listHubFiles: { repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF' },
  probeHubFile: { repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF', file: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf' },
  startDownload: { repo: 'Qwen/Qwen3-0.6B-GGUF', file: 'Qwen3-0.6B-Q8_0.gguf' },
  pauseDownload: { id: 1 },
  resumeDownload: { id: 1 },
  cancelDownload: { id: 1 },
  listDownloads: undefined,
  getHubSettings: undefined,
  setHubSettings: { endpoint: 'https://hf-mirror.com', token: 'hf_abc123' },
};

/** Exact type identity (not mere assignability). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe('the IPC contract: derived types and schemas agree', () => {
  it.each(Object.keys(API_SCHEMAS) as ApiMethod[])('a typed %s request parses, unchanged', (method) => {
    const sample = SAMPLES[method];
    const parsed: ApiPayload<typeof method> = parsePayload(method, sample);
    expect(parsed).toEqual(sample);
  });

  it('has a sample for every method and no other', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(Object.keys(API_SCHEMAS).sort());
  });

  it('every KvChatApi method takes its schema-derived request (importDroppedModel: a File and the options)', () => {
    type Param<M extends ApiMethod> = Parameters<KvChatApi[M]>[0];
    type NotDerived = { [M in ApiMethod]: Equal<Param<M>, ApiRequest<M>> extends true ? never : M }[ApiMethod];
    expectTypeOf<NotDerived>().toEqualTypeOf<'importDroppedModel' | 'serverBridgeReply'>();
    // The bridge's messages are typed as parsed (mutable arrays), the same shape.
    expectTypeOf<Param<'serverBridgeReply'>>().toEqualTypeOf<ApiPayload<'serverBridgeReply'>>();
    expectTypeOf<Parameters<KvChatApi['importDroppedModel']>>().toEqualTypeOf<[File, ModelImportOptions]>();
    expectTypeOf<ModelImportOptions>().toEqualTypeOf<ApiRequest<'pickAndImportModel'>>();
    // The payload main receives is what the renderer sends, minus the readonly marks.
    expectTypeOf<ApiPayload<'importDroppedModel'>>().toEqualTypeOf<{ path: string; copy: boolean }>();
    expectTypeOf<BridgeFromRenderer>().toExtend<ApiRequest<'serverBridgeReply'>>();
  });

  it('the default generation settings are valid settings', () => {
    expect(fullGenerationSettings.parse(DEFAULT_GENERATION_SETTINGS)).toEqual(DEFAULT_GENERATION_SETTINGS);
  });
});

describe('one KV block type', () => {
  it('the wire, the store and the API all carry the engine\'s StoredKvBlock', () => {
    expectTypeOf<StoredKvBlock>().toEqualTypeOf<EngineStoredKvBlock>();
    expectTypeOf<KvBlockRecord>().toEqualTypeOf<EngineStoredKvBlock>();
    expectTypeOf<KvBlock>().toEqualTypeOf<EngineStoredKvBlock>();
    expectTypeOf<KvBlockRow>().toExtend<EngineStoredKvBlock>();
    expectTypeOf<Awaited<ReturnType<KvChatApi['getKvBlocks']>>>().toEqualTypeOf<import('../../src/shared/api').ApiResult<EngineStoredKvBlock[]>>();
    // Both ways: an engine block can be sent as it is, and a parsed one handed to the engine as it is.
    type SentBlock = ApiRequest<'putKvBlocks'>['blocks'][number];
    type ParsedBlock = ApiPayload<'putKvBlocks'>['blocks'][number];
    expectTypeOf<EngineStoredKvBlock>().toExtend<SentBlock>();
    expectTypeOf<SentBlock>().toExtend<EngineStoredKvBlock>();
    expectTypeOf<ParsedBlock>().toExtend<EngineStoredKvBlock>();
  });

  it('a block viewing part of a larger buffer, or a Node Buffer, parses as bytes', () => {
    const view = new Uint8Array(new ArrayBuffer(256), 64, 64);
    for (const bytes of [view, Buffer.alloc(64, 3)]) {
      const engineBlock: EngineStoredKvBlock = { ...block, bytes };
      const [parsed] = parsePayload('putKvBlocks', { blocks: [engineBlock] }).blocks;
      expect(parsed!.bytes).toBe(bytes);
    }
  });
});
