/// <reference lib="webworker" />
// The engine's Web Worker: owns the WebGPU device, the model (read over HTTP Range from its URL) and the paged KV
// cache, so the UI thread never waits on the GPU. One engine sequence per open conversation; after each answer
// the sequence's full KV blocks go to the SQLite store (persistSequence) with the exact token history, and a
// conversation not on the GPU is restored from the store (resumeFromStore) before its next prompt is run.
import { acquireDevice, GpuError, type GpuContext } from '../../../gpu/device';
import { Engine, type GenerateResult } from '../../../gpu/engine/engine';
import { persistSequence, resumeFromStore, type KvBlockStoreLike, type ResumeResult, type StoredKvBlock } from '../../../gpu/engine/resume';
import { httpSource } from '../../../gpu/gguf/http-source';
import { GgufFile } from '../../../gpu/gguf/reader';
import { KV_BLOCK_TOKENS } from '../../../gpu/kv/layout';
import { chatFormatOf, StreamingDecoder, tokenizerFromGguf, type Tokenizer } from '../../../gpu/tokenizer';
import { bytesToTokens, tokensToBytes, type ApiResult, type ConversationKv, type KvBlockRecord, type KvUsage } from '../../../shared/api';
import { fitPrompt, type FittedPrompt } from './prompt';
import type { FromWorker, GenerateRequest, ServerGenerateRequest, KvPicture, LoadRequest, ResumeReport, ResumeSourceShown, StoreMethod, ToWorker } from './protocol';

declare const self: DedicatedWorkerGlobalScope;
const post = (m: FromWorker): void => self.postMessage(m);

// ---- The store, through the UI thread ----

let nextCallId = 1;
const storeCalls = new Map<number, (r: ApiResult<unknown>) => void>();

async function storeCall<T>(method: StoreMethod, payload?: unknown): Promise<T> {
  const callId = nextCallId++;
  const result = await new Promise<ApiResult<unknown>>((resolve) => {
    storeCalls.set(callId, resolve);
    post({ type: 'store-call', callId, method, payload });
  });
  if (!result.ok) throw new Error(`${method}: ${result.error.message}`);
  return result.value as T;
}

const PUT_BATCH_BYTES = 32 * 2 ** 20;

const store: KvBlockStoreLike = {
  getBlocks: async (hashes) => new Map((await storeCall<KvBlockRecord[]>('getKvBlocks', { hashes })).map((b): [string, StoredKvBlock] => [b.hash, b])),
  storedHashes: async (hashes) => new Set(await storeCall<string[]>('getStoredKvHashes', { hashes })),
  putBlocks: async (blocks) => {
    // Batches of at most ~32 MiB: a large model's block is MiBs, and one IPC message should not hold a GiB.
    let batch: StoredKvBlock[] = [];
    let bytes = 0;
    for (const b of blocks) {
      if (batch.length > 0 && bytes + b.bytes.byteLength > PUT_BATCH_BYTES) {
        await storeCall('putKvBlocks', { blocks: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(b);
      bytes += b.bytes.byteLength;
    }
    if (batch.length > 0) await storeCall('putKvBlocks', { blocks: batch });
  },
};

// ---- The loaded model ----

interface Loaded {
  readonly request: LoadRequest;
  readonly gpu: GpuContext;
  readonly file: GgufFile;
  readonly engine: Engine;
  readonly tokenizer: Tokenizer;
  readonly hasChatTemplate: boolean;
  /** Conversations with a sequence in this engine (a new engine starts with none: they resume from the store). */
  readonly conversations: Map<number, ConversationState>;
  /** Restores in flight: a second caller (open, then a quick send) waits for the first. */
  readonly restoring: Map<number, Promise<ConversationState>>;
}

interface ConversationState {
  seq: number;
  /** The exact token history last saved (may run past what the sequence holds after a partial resume). */
  history: number[];
  /** How the sequence was restored, reported with the first answer after it. */
  resume: ResumeReport | null;
  lastUsed: number;
  busy: boolean;
}

let loading: Promise<Loaded | null> = Promise.resolve(null);
const running = new Map<number, AbortController>();
let reusedTokens = 0;
let promptTokens = 0;

/** Loads the model (once: a second request for the same file answers at once, unless `force`d after a device loss). */
async function load(request: LoadRequest, force = false): Promise<Loaded | null> {
  const previous = await loading.catch(() => null);
  if (!force && previous?.request.modelId === request.modelId && previous.request.fingerprint === request.fingerprint) {
    post({ type: 'loaded', modelId: request.modelId, contextLength: previous.engine.config.contextLength, adapter: previous.gpu.adapterDescription, hasChatTemplate: previous.hasChatTemplate, kvBlocks: previous.engine.pool.blocks });
    return previous;
  }
  try {
    previous?.engine.destroy();
    previous?.gpu.device.destroy(); // its lost promise then finds a newer engine and does nothing
  } catch {
    // A lost device's buffers may refuse destroy(); they are gone anyway.
  }
  try {
    const gpu = await acquireDevice(self.navigator.gpu);
    const source = await httpSource(request.url);
    const file = await GgufFile.open(source);
    const engine = await Engine.load(gpu, file, {
      maxSeqs: 4,
      // Blocks are named by the file's fingerprint, so stored blocks are found again after a restart; the
      // store is the engine's last tier (RAM overflow goes there, prefix matches look there last).
      modelFingerprint: request.fingerprint,
      kvStore: store,
      onProgress: (p) => post({ type: 'load-progress', modelId: request.modelId, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal }),
    });
    const loaded: Loaded = {
      request,
      gpu,
      file,
      engine,
      tokenizer: tokenizerFromGguf(file.metadata),
      // The model's own template, or ChatML for a ChatML vocabulary; plain base models continue raw text.
      hasChatTemplate: chatFormatOf(file.metadata) !== 'plain',
      conversations: new Map(),
      restoring: new Map(),
    };
    void gpu.lost.then((e) => onDeviceLost(loaded, e));
    post({ type: 'loaded', modelId: request.modelId, contextLength: engine.config.contextLength, adapter: gpu.adapterDescription, hasChatTemplate: loaded.hasChatTemplate, kvBlocks: engine.pool.blocks });
    void postKvPicture(loaded);
    return loaded;
  } catch (e) {
    const code = e instanceof GpuError ? e.code : ((e as { code?: string }).code ?? 'load-failed');
    post({ type: 'load-error', modelId: request.modelId, code, message: (e as Error).message });
    return null;
  }
}

/** The GPU went away (driver reset, sleep): reload the model; conversations come back from the stored KV. */
function onDeviceLost(loaded: Loaded, e: GpuError): void {
  void loading.then((current) => {
    if (current !== loaded) return; // an engine already replaced on purpose
    post({ type: 'device-lost', message: `${e.message}; reloading the model and resuming from the stored KV cache` });
    for (const c of running.values()) c.abort();
    loading = load(loaded.request, true);
  });
}

// ---- Conversations ----

/** The conversation's sequence, restored from the store the first time it is opened since the model loaded. */
function conversationState(m: Loaded, conversationId: number): Promise<ConversationState> {
  const known = m.conversations.get(conversationId);
  if (known) return Promise.resolve(known);
  let pending = m.restoring.get(conversationId);
  if (!pending) {
    pending = restoreConversation(m, conversationId).finally(() => m.restoring.delete(conversationId));
    m.restoring.set(conversationId, pending);
  }
  return pending;
}

async function restoreConversation(m: Loaded, conversationId: number): Promise<ConversationState> {
  const started = performance.now();
  const kv = await storeCall<ConversationKv | null>('getConversationKv', { conversationId });
  const history = kv && kv.modelFingerprint === m.request.fingerprint ? bytesToTokens(kv.tokens) : [];
  freeIdleSequences(m, Math.ceil(history.length / KV_BLOCK_TOKENS), conversationId);
  const seq = m.engine.createSequence();
  const r = await resumeFromStore(m.engine, seq, m.request.fingerprint, history, store);
  const resume: ResumeReport = { conversationId, source: shownSource(r.source), ms: performance.now() - started, reusedTokens: r.reusedTokens, historyTokens: history.length };
  const state: ConversationState = { seq, history, resume, lastUsed: performance.now(), busy: false };
  m.conversations.set(conversationId, state);
  post({ type: 'resumed', report: resume });
  void postKvPicture(m);
  return state;
}

/** resume.ts's sources as the UI names them: nothing reused means the prompt is computed by prefill. */
function shownSource(source: ResumeResult['source']): ResumeSourceShown {
  return source === 'gpu' || source === 'ram' || source === 'disk' ? source : 'prefill';
}

/** Releases least recently used idle sequences (their KV is already stored) until `blocks` are free. */
function freeIdleSequences(m: Loaded, blocks: number, keep: number): void {
  const idle = [...m.conversations.entries()].filter(([id, c]) => id !== keep && !c.busy).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
  for (const [id, c] of idle) {
    if (m.engine.freeKvBlocks >= blocks) return;
    m.engine.releaseSequence(c.seq);
    m.conversations.delete(id);
  }
}

const startsWith = (a: readonly number[], prefix: readonly number[]): boolean => prefix.length <= a.length && prefix.every((t, i) => a[i] === t);

/** Makes the sequence hold a prefix of `tokens`; returns the tokens still to run and how the KV got there. */
async function placePrompt(m: Loaded, conversationId: number, c: ConversationState, tokens: number[]): Promise<{ feed: number[]; resume: ResumeReport }> {
  const { computed, pending } = m.engine.sequenceTokens(c.seq);
  const current = [...computed, ...pending];
  if (current.length < tokens.length && startsWith(tokens, current)) {
    const resume = c.resume ?? { conversationId, source: 'gpu', ms: 0, reusedTokens: computed.length, historyTokens: c.history.length };
    c.resume = null;
    return { feed: tokens.slice(current.length), resume };
  }
  // A branch (regenerate, edit) or a shorter history: start a new sequence from the longest stored prefix.
  const started = performance.now();
  m.engine.releaseSequence(c.seq);
  c.seq = m.engine.createSequence();
  c.resume = null;
  const r = await resumeFromStore(m.engine, c.seq, m.request.fingerprint, tokens.slice(0, -1), store);
  return { feed: tokens.slice(r.reusedTokens), resume: { conversationId, source: shownSource(r.source), ms: performance.now() - started, reusedTokens: r.reusedTokens, historyTokens: c.history.length } };
}

async function generate(req: GenerateRequest): Promise<void> {
  const m = await loading;
  if (!m) throw new Error('no model is loaded');
  const c = await conversationState(m, req.conversationId);
  if (c.busy) throw new Error('this conversation is already generating');
  c.busy = true;
  c.lastUsed = performance.now();
  try {
    const ctx = m.engine.config.contextLength;
    const policy = req.settings.contextPolicy;
    // Room wanted for the answer when turns must be dropped: its max tokens, but at most a quarter of the context.
    const wantedRoom = Math.min(req.settings.maxTokens, Math.floor(ctx / 4));
    const built = fitPrompt(m.tokenizer, m.file.metadata, m.hasChatTemplate, req.systemPrompt, req.turns, c.history, ctx, wantedRoom, policy);
    const room = ctx - built.tokens.length;
    if (room < 1) {
      const why = policy === 'stop' ? 'the chat settings say to stop at the limit' : 'even the last message alone does not fit';
      throw new Error(`the conversation takes ${built.tokens.length} tokens; the model's context is ${ctx} (${why}). Start a new chat, or shorten the message.`);
    }
    const maxNewTokens = policy === 'stop' ? Math.min(req.settings.maxTokens, room) : req.settings.maxTokens;
    freeIdleSequences(m, Math.ceil((built.tokens.length + maxNewTokens) / KV_BLOCK_TOKENS), req.conversationId);
    const { feed, resume } = await placePrompt(m, req.conversationId, c, built.tokens);
    reusedTokens += built.tokens.length - feed.length;
    promptTokens += built.tokens.length;
    await answer(m, req, c, feed, resume, built, maxNewTokens);
  } finally {
    c.busy = false;
  }
}

async function answer(m: Loaded, req: GenerateRequest, c: ConversationState, feed: number[], resume: ResumeReport, built: FittedPrompt, maxNewTokens: number): Promise<void> {
  const promptLength = built.tokens.length;
  const controller = new AbortController();
  running.set(req.requestId, controller);
  const decoder = new StreamingDecoder(m.tokenizer, { continuation: true });
  const s = req.settings;
  try {
    const result = await m.engine.generate(c.seq, feed, {
      maxNewTokens,
      // Past the context during the answer: the engine shifts (keeping the system prompt) or stops, and says so.
      contextPolicy: s.contextPolicy === 'stop' ? { kind: 'stop' } : { kind: s.contextPolicy, keepTokens: Math.min(built.keepTokens, Math.floor(m.engine.config.contextLength / 2) - 1) },
      sampling: { temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP, repetitionPenalty: s.repeatPenalty, seed: s.seed ?? (Math.random() * 2 ** 32) >>> 0 },
      stopTokens: m.tokenizer.endOfGeneration,
      signal: controller.signal,
      onToken: (t) => {
        const text = decoder.push(t);
        if (text) post({ type: 'token', requestId: req.requestId, text });
      },
    });
    const tail = decoder.flush();
    if (tail) post({ type: 'token', requestId: req.requestId, text: tail });
    try {
      await persist(m, req.conversationId, c);
    } catch (e) {
      // The answer stands; only its KV is not kept (the next resume recomputes what is missing).
      console.warn('KVChat: could not persist the KV cache', e);
      c.history = [...m.engine.sequenceTokens(c.seq).computed, ...m.engine.sequenceTokens(c.seq).pending];
    }
    const n = result.tokens.length;
    const kvFrom = withPrefixCache(resume, result.prefix);
    reusedTokens += kvFrom.reusedTokens - resume.reusedTokens;
    const decodeMs = result.totalMs - result.timeToFirstTokenMs;
    post({
      type: 'done',
      requestId: req.requestId,
      text: m.tokenizer.decode(result.tokens, { continuation: true }),
      tokenCount: n,
      stopReason: result.stopReason === 'aborted' ? 'cancelled' : result.stopReason,
      stats: {
        tokensPerSecond: n > 1 && decodeMs > 0 ? ((n - 1) / decodeMs) * 1000 : 0,
        timeToFirstTokenMs: result.timeToFirstTokenMs,
        promptTokens: promptLength,
        generatedTokens: n,
        contextUsed: c.history.length,
        resume: kvFrom,
        userTokenCount: built.lastTurnTokens,
        droppedTokens: built.droppedTokens + result.contextShifts.reduce((n, shift) => n + shift.droppedTokens, 0),
      },
    });
  } finally {
    running.delete(req.requestId);
    void postKvPicture(m);
  }
}

/**
 * A new sequence may also find its prefix in the engine's own cache tiers (another conversation with the same
 * system prompt, blocks spilled to RAM or the store): when nothing was restored before, that is where its KV came from.
 */
function withPrefixCache(resume: ResumeReport, prefix: GenerateResult['prefix']): ResumeReport {
  if (!prefix || prefix.tokens <= resume.reusedTokens) return resume;
  return { ...resume, source: shownSource(prefix.source), ms: resume.ms + prefix.ms, reusedTokens: prefix.tokens };
}

/** The sequence's full blocks to the store, then its exact token history and block table. */
async function persist(m: Loaded, conversationId: number, c: ConversationState): Promise<void> {
  const { hashes } = await persistSequence(m.engine, c.seq, m.request.fingerprint, store);
  const { computed, pending } = m.engine.sequenceTokens(c.seq);
  c.history = [...computed, ...pending];
  await storeCall('saveConversationKv', { conversationId, modelFingerprint: m.request.fingerprint, tokens: tokensToBytes(c.history), computed: computed.length, blockHashes: hashes });
}

interface SnapshotCapable {
  kvSnapshot?: () => { blocks: number; blockBytes: number; states: Uint8Array; ramBlocks?: number; ramBytes?: number };
}

async function postKvPicture(m: Loaded): Promise<void> {
  const snap = (m.engine as unknown as SnapshotCapable).kvSnapshot?.();
  const blocks = snap?.blocks ?? m.engine.pool.blocks;
  let states = snap?.states;
  if (!states) {
    // Without a per-block picture: the used count, drawn as the first cells.
    states = new Uint8Array(blocks);
    states.fill(1, 0, blocks - m.engine.freeKvBlocks);
  }
  const disk = await storeCall<KvUsage>('getKvUsage').catch(() => ({ blocks: 0, bytes: 0 }));
  const picture: KvPicture = {
    blocks,
    blockBytes: snap?.blockBytes ?? 0,
    states,
    ramBlocks: snap?.ramBlocks ?? 0,
    ramBytes: snap?.ramBytes ?? 0,
    diskBlocks: disk.blocks,
    diskBytes: disk.bytes,
    reusedTokens,
    promptTokens,
  };
  post({ type: 'kv', picture });
}

// ---- The local server's requests (main's HTTP server, over the bridge) ----

const serverRunning = new Map<number, AbortController>();

/** One request of the local server: a sequence of its own, created and released here, tokens streamed back. */
async function serverGenerate(req: ServerGenerateRequest): Promise<void> {
  const controller = new AbortController();
  serverRunning.set(req.id, controller);
  const m = await loading;
  try {
    if (!m) throw new Error('no model is loaded');
    // Room for this request: idle conversations' sequences go first (their KV is already in the store).
    freeIdleSequences(m, Math.ceil((req.tokens.length + req.options.maxNewTokens) / KV_BLOCK_TOKENS), -1);
    const seq = m.engine.createSequence();
    try {
      const r = await m.engine.generate(seq, req.tokens, {
        maxNewTokens: req.options.maxNewTokens,
        sampling: req.options.sampling,
        stopTokens: new Set(req.options.stopTokens),
        signal: controller.signal,
        onToken: (token) => post({ type: 'server-token', id: req.id, token }),
      });
      post({ type: 'server-done', id: req.id, result: { tokens: r.tokens, stopReason: r.stopReason, promptTokens: r.promptTokens, cachedTokens: r.cachedTokens } });
    } finally {
      m.engine.releaseSequence(seq);
    }
  } finally {
    serverRunning.delete(req.id);
    if (m) void postKvPicture(m);
  }
}

// ---- Messages ----

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  switch (msg.type) {
    case 'store-result':
      storeCalls.get(msg.callId)?.(msg.result);
      storeCalls.delete(msg.callId);
      return;
    case 'load':
      loading = load(msg);
      return;
    case 'open':
      void loading.then((m) => m && conversationState(m, msg.conversationId)).catch(() => {});
      return;
    case 'generate':
      generate(msg).catch((err: unknown) => post({ type: 'generate-error', requestId: msg.requestId, message: (err as Error).message }));
      return;
    case 'stop':
      running.get(msg.requestId)?.abort();
      return;
    case 'forget':
      void loading.then((m) => {
        const c = m?.conversations.get(msg.conversationId);
        if (!m || !c || c.busy) return;
        m.engine.releaseSequence(c.seq);
        m.conversations.delete(msg.conversationId);
        void postKvPicture(m);
      });
      return;
    case 'server-generate':
      serverGenerate(msg).catch((err: unknown) => post({ type: 'server-error', id: msg.id, message: (err as Error).message }));
      return;
    case 'server-abort':
      serverRunning.get(msg.id)?.abort();
      return;
    case 'lose-device':
      void loading.then((m) => m?.gpu.device.destroy());
      return;
  }
};
