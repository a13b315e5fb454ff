/// <reference lib="webworker" />
// The engine's Web Worker: owns the WebGPU device, the model (read over HTTP Range from its URL) and the paged KV
// cache, so the UI thread never waits on the GPU. Conversations run through the engine's ConversationCache: one
// engine sequence per open conversation, restored from the KV tiers and the SQLite store (through the UI thread)
// when first opened, persisted after each answer.
import { acquireDevice, GpuError, type GpuContext } from '../../../gpu/device';
import { ConversationCache, type ConversationResume } from '../../../gpu/engine/conversation-cache';
import { fitPrompt, type FittedPrompt } from '../../../gpu/engine/conversation-prompt';
import { Engine } from '../../../gpu/engine/engine';
import { openHttpGguf } from '../../../gpu/gguf/http-source';
import type { GgufFile } from '../../../gpu/gguf/reader';
import { KV_BLOCK_TOKENS } from '../../../gpu/kv/layout';
import { chatFormatOf, tokenizerFromGguf, type Tokenizer } from '../../../gpu/tokenizer';
import { hasReasoningEffort, hasThinkingSwitch, promptEndsInThinking, reasoningTemplateKwargs, ReasoningDecoder, reasoningFormatOf, splitReasoning, type ReasoningDelta, type ReasoningFormat } from '../../../gpu/tokenizer/reasoning';
import type { KvUsage } from '../../../shared/api';
import type { FromWorker, GenerateRequest, ServerGenerateRequest, KvPicture, LoadRequest, ResumeReport, ResumeSourceShown, ToWorker } from './protocol';
import { StoreProxy } from './store-proxy';
import { chooseKernelVariants, type KernelChoice } from '../../../gpu/tuning/kernel-choice';
import { tuningStoreOver } from './tuning-proxy';

declare const self: DedicatedWorkerGlobalScope;
const post = (m: FromWorker): void => self.postMessage(m);

/** The store, through the UI thread. */
const store = new StoreProxy(post);

// ---- The loaded model ----

interface Loaded {
  readonly request: LoadRequest;
  readonly gpu: GpuContext;
  readonly file: GgufFile;
  readonly engine: Engine;
  readonly tokenizer: Tokenizer;
  readonly hasChatTemplate: boolean;
  readonly reasoningFormat: ReasoningFormat;
  readonly thinkingSwitch: boolean;
  /** Conversations with a sequence in this engine (a new engine starts with none: they resume from the store). */
  readonly conversations: ConversationCache;
}

let loading: Promise<Loaded | null> = Promise.resolve(null);
const running = new Map<number, AbortController>();
let reusedTokens = 0;
let promptTokens = 0;

/** Loads the model (once: a second request for the same file answers at once, unless `force`d after a device loss). */
async function load(request: LoadRequest, force = false): Promise<Loaded | null> {
  const previous = await loading.catch(() => null);
  const same = previous?.request.modelId === request.modelId && previous.request.fingerprint === request.fingerprint && previous.request.kvType === request.kvType &&
    previous.request.contextLength === request.contextLength;
  if (!force && previous && same) {
    post(loadedMessage(previous));
    return previous;
  }
  if (previous) destroyLoaded(previous);
  loadCancelled = false;
  let gpu: GpuContext | undefined;
  try {
    gpu = await acquireDevice(self.navigator.gpu);
    // A split model's other parts are `?part=k` of the same URL (the model protocol serves them by index).
    const file = await openHttpGguf(request.url);
    const tuned = await tunedVariants(gpu, file, request);
    if (loadCancelled) throw new LoadCancelled(); // an unload while kernels were timed
    const engine = await Engine.load(gpu, file, {
      maxSeqs: 4,
      ...(tuned ? { matvecVariant: tuned.matvecVariant, gemmVariant: tuned.gemmVariant } : {}),
      ...(tuned?.decodeKeysPerSplit !== undefined ? { decodeKeysPerSplit: tuned.decodeKeysPerSplit } : {}),
      ...(tuned?.decodeTiling ? { decodeTiling: tuned.decodeTiling } : {}),
      // Blocks are named by the file's fingerprint, so stored blocks are found again after a restart; the
      // store is the engine's last tier (RAM overflow goes there, prefix matches look there last).
      modelFingerprint: request.fingerprint,
      kvStore: store,
      // Absent: the engine's default (f16 where the device has shader-f16).
      ...(request.kvType ? { kvDtype: request.kvType } : {}),
      ...(request.contextLength ? { contextLength: request.contextLength } : {}),
      onProgress: (p) => {
        // An unload while loading: stop between two tensors (the device and what was uploaded are freed below).
        if (loadCancelled) throw new LoadCancelled();
        post({ type: 'load-progress', modelId: request.modelId, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal });
      },
    });
    const loaded: Loaded = {
      request,
      gpu,
      file,
      engine,
      tokenizer: tokenizerFromGguf(file.metadata),
      // The model's own template, or ChatML for a ChatML vocabulary; plain base models continue raw text.
      hasChatTemplate: chatFormatOf(file.metadata) !== 'plain',
      reasoningFormat: reasoningFormatOf(file.metadata),
      thinkingSwitch: hasThinkingSwitch(file.metadata),
      conversations: new ConversationCache(engine, store, {
        onRestored: (conversationId, r) => {
          post({ type: 'resumed', report: shownResume(conversationId, r) });
          void postKvPicture(loaded);
        },
      }),
    };
    void gpu.lost.then((e) => onDeviceLost(loaded, e));
    if (loadCancelled) throw new LoadCancelled(); // asked to unload during the last step
    post(loadedMessage(loaded));
    void postKvPicture(loaded);
    return loaded;
  } catch (e) {
    try {
      gpu?.device.destroy(); // its buffers (the weights uploaded so far, the KV pool) go with it
    } catch {
      // already lost
    }
    if (e instanceof LoadCancelled) return null; // the unload reports 'unloaded'
    const code = e instanceof GpuError ? e.code : ((e as { code?: string }).code ?? 'load-failed');
    post({ type: 'load-error', modelId: request.modelId, code, message: (e as Error).message });
    return null;
  }
}

// ---- Kernel variants measured on this device (src/gpu/tuning) ----

const tuningStore = tuningStoreOver(store);

/**
 * The stored kernel choices for this device and model shape, or at its first load a bounded measurement (about 2 s,
 * with progress) that main then keeps. A failure keeps the fixed rules: tuning never stops a model from loading.
 */
async function tunedVariants(gpu: GpuContext, file: GgufFile, request: LoadRequest): Promise<KernelChoice | undefined> {
  try {
    return await chooseKernelVariants(gpu, file, {
      store: tuningStore,
      kvDtype: request.kvType ?? (gpu.caps.f16 ? 'f16' : 'f32'),
      measure: true,
      onProgress: (p) => post({ type: 'tune-progress', modelId: request.modelId, kernel: p.kernel, fraction: p.fraction }),
    });
  } catch (e) {
    console.warn(`KVChat: kernel tuning failed, using the fixed rules: ${(e as Error).message}`);
    return undefined;
  }
}

/** "Re-tune kernels": forgets what was measured on the loaded model's device; its next load measures again. */
async function forgetTuning(): Promise<void> {
  const m = await loading.catch(() => null);
  if (!m) return post({ type: 'tuning-cleared', adapter: null, removed: 0 });
  const adapter = m.gpu.adapterDescription;
  try {
    post({ type: 'tuning-cleared', adapter, removed: await store.call<number>('clearKernelTuning', { adapter }) });
  } catch (e) {
    post({ type: 'tuning-cleared', adapter, removed: 0, error: (e as Error).message });
  }
}

/** Set by an unload: a load in progress stops at its next tensor. */
let loadCancelled = false;
class LoadCancelled extends Error {
  constructor() {
    super('loading was cancelled');
  }
}

/** Frees the engine's GPU buffers and its device (its lost promise then finds a newer engine, or none, and does nothing). */
function destroyLoaded(m: Loaded): void {
  try {
    m.engine.destroy();
    m.gpu.device.destroy();
  } catch {
    // A lost device's buffers may refuse destroy(); they are gone anyway.
  }
}

/**
 * Unloads the model: answers in flight are stopped and finish (each persists its conversation's KV, as after every
 * answer, so idle conversations' KV is already in the store), then the engine and its device are freed.
 */
async function unload(): Promise<null> {
  const previous = await loading.catch(() => null);
  for (const c of running.values()) c.abort();
  for (const c of serverRunning.values()) c.abort();
  await Promise.allSettled([...answering]);
  if (previous) destroyLoaded(previous);
  post({ type: 'unloaded' });
  return null;
}

/** Answers (chat and local server) in flight: an unload waits for them to persist before it frees the engine. */
const answering = new Set<Promise<void>>();
function track(p: Promise<void>): void {
  answering.add(p);
  void p.finally(() => answering.delete(p));
}

function loadedMessage(m: Loaded): FromWorker {
  return {
    type: 'loaded',
    modelId: m.request.modelId,
    contextLength: m.engine.config.contextLength,
    adapter: m.gpu.adapterDescription,
    hasChatTemplate: m.hasChatTemplate,
    kvBlocks: m.engine.pool.blocks,
    reasoningFormat: m.reasoningFormat,
    thinkingSwitch: m.thinkingSwitch,
    reasoningEffort: hasReasoningEffort(m.file.metadata),
  };
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

/** A resume as the UI shows it: nothing reused means the prompt is computed by prefill. */
function shownResume(conversationId: number, r: ConversationResume): ResumeReport {
  const source: ResumeSourceShown = r.source === 'gpu' || r.source === 'ram' || r.source === 'disk' ? r.source : 'prefill';
  return { conversationId, source, ms: r.ms, reusedTokens: r.reusedTokens, historyTokens: r.historyTokens };
}

async function generate(req: GenerateRequest): Promise<void> {
  const m = await loading;
  if (!m) throw new Error('no model is loaded');
  await m.conversations.openConversation(req.conversationId);
  const ctx = m.engine.config.contextLength;
  const policy = req.settings.contextPolicy;
  // Room wanted for the answer when turns must be dropped: its max tokens, but at most a quarter of the context.
  const wantedRoom = Math.min(req.settings.maxTokens, Math.floor(ctx / 4));
  const history = m.conversations.history(req.conversationId);
  // A chat with thinking switched off tells a template that has the switch (Qwen3's enable_thinking); a chat's
  // reasoning effort reaches a template that reads it (gpt-oss's harmony).
  const templateKwargs = reasoningTemplateKwargs(m.file.metadata, { thinking: req.settings.thinking, effort: req.settings.reasoningEffort });
  const built = fitPrompt(m.tokenizer, m.file.metadata, m.hasChatTemplate, req.systemPrompt, req.turns, history, ctx, wantedRoom, policy, templateKwargs);
  const room = ctx - built.tokens.length;
  if (room < 1) {
    const why = policy === 'stop' ? 'the chat settings say to stop at the limit' : 'even the last message alone does not fit';
    throw new Error(`the conversation takes ${built.tokens.length} tokens; the model's context is ${ctx} (${why}). Start a new chat, or shorten the message.`);
  }
  const maxNewTokens = policy === 'stop' ? Math.min(req.settings.maxTokens, room) : req.settings.maxTokens;
  await answer(m, req, built, maxNewTokens);
}

async function answer(m: Loaded, req: GenerateRequest, built: FittedPrompt, maxNewTokens: number): Promise<void> {
  const controller = new AbortController();
  running.set(req.requestId, controller);
  const startsInReasoning = m.reasoningFormat === 'think' && promptEndsInThinking(m.tokenizer, built.tokens);
  const decoder = new ReasoningDecoder(m.tokenizer, m.reasoningFormat, { continuation: true, startsInReasoning });
  const postDelta = (d: ReasoningDelta): void => {
    if (d.reasoning) post({ type: 'reasoning', requestId: req.requestId, text: d.reasoning });
    if (d.content) post({ type: 'token', requestId: req.requestId, text: d.content });
  };
  const s = req.settings;
  // The KV picture follows the answer as it streams (blocks fill, go shared, move to RAM), at most every LIVE_KV_MS.
  let generated = 0;
  let lastPicture = 0;
  try {
    const a = await m.conversations.generate(req.conversationId, built.tokens, {
      maxNewTokens,
      // Past the context during the answer: the engine shifts (keeping the system prompt) or stops, and says so.
      contextPolicy: s.contextPolicy === 'stop' ? { kind: 'stop' } : { kind: s.contextPolicy, keepTokens: Math.min(built.keepTokens, Math.floor(m.engine.config.contextLength / 2) - 1) },
      sampling: { temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP, repetitionPenalty: s.repeatPenalty, seed: s.seed ?? (Math.random() * 2 ** 32) >>> 0 },
      stopTokens: m.tokenizer.endOfGeneration,
      signal: controller.signal,
      onToken: (t) => {
        postDelta(decoder.push(t));
        generated++;
        if (performance.now() - lastPicture >= LIVE_KV_MS) {
          lastPicture = performance.now();
          void postKvPicture(m, { conversationId: req.conversationId, contextTokens: built.tokens.length + generated });
        }
      },
    });
    // The answer stands without its KV kept: the next resume recomputes what is missing.
    if (a.persistError !== undefined) console.warn('KVChat: could not persist the KV cache', a.persistError);
    promptTokens += built.tokens.length;
    reusedTokens += a.reusedPromptTokens;
    postDelta(decoder.flush());
    const { result } = a;
    const special = m.reasoningFormat === 'harmony';
    const answerText = splitReasoning(m.reasoningFormat, m.tokenizer.decode(result.tokens, { continuation: true, special }), { startsInReasoning });
    const n = result.tokens.length;
    const decodeMs = result.totalMs - result.timeToFirstTokenMs;
    post({
      type: 'done',
      requestId: req.requestId,
      text: answerText.content,
      reasoning: answerText.reasoning,
      tokenCount: n,
      stopReason: result.stopReason === 'aborted' ? 'cancelled' : result.stopReason,
      stats: {
        tokensPerSecond: n > 1 && decodeMs > 0 ? ((n - 1) / decodeMs) * 1000 : 0,
        timeToFirstTokenMs: result.timeToFirstTokenMs,
        promptTokens: built.tokens.length,
        generatedTokens: n,
        contextUsed: m.conversations.history(req.conversationId).length,
        resume: shownResume(req.conversationId, a.resume),
        userTokenCount: built.lastTurnTokens,
        droppedTokens: built.droppedTokens + result.contextShifts.reduce((n, shift) => n + shift.droppedTokens, 0),
      },
    });
  } finally {
    running.delete(req.requestId);
    void postKvPicture(m);
  }
}

/** The least time between two KV pictures while an answer streams (ms): live, but not a store call per token. */
const LIVE_KV_MS = 250;

interface SnapshotCapable {
  kvSnapshot?: () => { blocks: number; blockBytes: number; states: Uint8Array; ramBlocks?: number; ramBytes?: number };
}

async function postKvPicture(m: Loaded, live?: KvPicture['live']): Promise<void> {
  const snap = (m.engine as unknown as SnapshotCapable).kvSnapshot?.();
  const blocks = snap?.blocks ?? m.engine.pool.blocks;
  let states = snap?.states;
  if (!states) {
    // Without a per-block picture: the used count, drawn as the first cells.
    states = new Uint8Array(blocks);
    states.fill(1, 0, blocks - m.engine.freeKvBlocks);
  }
  const disk = await store.call<KvUsage>('getKvUsage').catch(() => ({ blocks: 0, bytes: 0 }));
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
    ...(live ? { live } : {}),
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
    m.conversations.releaseIdle(Math.ceil((req.tokens.length + req.options.maxNewTokens) / KV_BLOCK_TOKENS));
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
      store.settle(msg.callId, msg.result);
      return;
    case 'load':
      loading = load(msg);
      return;
    case 'open':
      void loading.then((m) => m?.conversations.openConversation(msg.conversationId)).catch(() => {});
      return;
    case 'generate':
      track(generate(msg).catch((err: unknown) => post({ type: 'generate-error', requestId: msg.requestId, message: (err as Error).message })));
      return;
    case 'stop':
      running.get(msg.requestId)?.abort();
      return;
    case 'forget':
      void loading.then((m) => {
        if (m?.conversations.forget(msg.conversationId)) void postKvPicture(m);
      });
      return;
    case 'server-generate':
      track(serverGenerate(msg).catch((err: unknown) => post({ type: 'server-error', id: msg.id, message: (err as Error).message })));
      return;
    case 'unload':
      loadCancelled = true;
      loading = unload();
      return;
    case 'server-abort':
      serverRunning.get(msg.id)?.abort();
      return;
    case 'forget-tuning':
      void forgetTuning();
      return;
    case 'lose-device':
      void loading.then((m) => m?.gpu.device.destroy());
      return;
  }
};
