// The chat app: conversations on the left, the active thread in the middle, settings / models / KV cache on the
// right, the status bar below. The engine runs in a Web Worker (EngineClient); the store is reached through the
// typed API only. A question is saved before generation starts; an answer is saved when it ends (a stopped one
// as incomplete), as a new branch when it regenerates or follows an edit. A chat on a remote server streams through
// main instead (remoteSend: main saves the question and the answer; deltas arrive as events), with the same view.
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  DEFAULT_GENERATION_SETTINGS,
  type ApiResult,
  type AddRemoteProviderRequest,
  type Conversation,
  type ConversationRemote,
  type ConversationThread,
  type GenerationSettings,
  type MessageStats,
  type Message,
  type ModelInfo,
  type RemoteProviderInfo,
  type ThreadMessage,
} from '../../shared/api';
import { api, value } from './api';
import { Composer } from './components/Composer';
import { KvPanel } from './components/KvPanel';
import { MessageView } from './components/Message';
import { ModelManager } from './components/ModelManager';
import { NewChatTarget, type ChatTarget } from './components/NewChatTarget';
import { RemoteServers, type RemoteModels } from './components/RemoteServers';
import { LocalServer } from './components/LocalServer';
import { SettingsPanel } from './components/SettingsPanel';
import { Sidebar } from './components/Sidebar';
import { StatusBar } from './components/StatusBar';
import { EngineClient, type EngineEvent } from './engine/client';
import type { AnswerStats, KvPicture, ResumeReport } from './engine/protocol';

type ModelState =
  | { readonly phase: 'none' }
  | { readonly phase: 'loading'; readonly done: number; readonly total: number; readonly note?: string }
  | { readonly phase: 'ready'; readonly contextLength: number; readonly adapter: string }
  | { readonly phase: 'error'; readonly message: string };

type Finished = Extract<EngineEvent, { type: 'done' } | { type: 'generate-error' }>;

interface Stream {
  /** The engine's request number, or (remote) the id we gave remoteSend. */
  readonly requestId: number | string;
  readonly remote: boolean;
  readonly conversationId: number;
  /** The thread shown above the answer being written. */
  readonly base: readonly ThreadMessage[];
  readonly text: string;
}

const SELECTED_MODEL_KEY = 'kvchat.selectedModel';
let engineSingleton: EngineClient | undefined;
function engine(): EngineClient {
  if (!engineSingleton) {
    engineSingleton = new EngineClient(api);
    // Outside Electron (the test host) the e2e tests reach the engine's diagnostics here.
    if (!('kvchat' in window)) Object.assign(window, { kvchatDebug: { loseDevice: () => engineSingleton!.loseDevice() } });
  }
  return engineSingleton;
}

let remoteRequests = 0;
const newRemoteRequestId = (): string => `remote-${Date.now().toString(36)}-${++remoteRequests}`;

function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0]!.slice(0, 60).trim();
  return line || 'New chat';
}

function storedStats(r: Extract<Finished, { type: 'done' }>): MessageStats {
  const s = r.stats;
  return {
    tokensPerSecond: s.tokensPerSecond,
    timeToFirstTokenMs: s.timeToFirstTokenMs,
    promptTokens: s.promptTokens,
    generatedTokens: s.generatedTokens,
    resumeSource: s.resume.source,
    recomputedTokens: Math.max(0, s.promptTokens - s.resume.reusedTokens),
    stopReason: r.stopReason,
    ...(s.droppedTokens > 0 ? { droppedTokens: s.droppedTokens } : {}),
  };
}

export function App(): React.JSX.Element {
  const [models, setModels] = useState<ModelInfo[]>([]);
  const [modelId, setModelId] = useState<string | null>(null);
  const [modelState, setModelState] = useState<ModelState>({ phase: 'none' });
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [activeId, setActiveId] = useState<number | null>(null);
  const [thread, setThread] = useState<ConversationThread | null>(null);
  const [draft, setDraft] = useState<{ systemPrompt: string; settings: GenerationSettings }>({ systemPrompt: '', settings: DEFAULT_GENERATION_SETTINGS });
  const [stream, setStream] = useState<Stream | null>(null);
  const [stats, setStats] = useState<AnswerStats | null>(null);
  const [resume, setResume] = useState<ResumeReport | null>(null);
  const [kv, setKv] = useState<KvPicture | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** Answers saved since the app started (tests wait on it: data-answers). */
  const [answered, setAnswered] = useState(0);
  const [providers, setProviders] = useState<RemoteProviderInfo[]>([]);
  const [remoteModels, setRemoteModels] = useState<ReadonlyMap<number, RemoteModels>>(new Map());
  /** Where the next new chat runs. */
  const [target, setTarget] = useState<ChatTarget>({ kind: 'local' });
  /** The open chat's remote server and model; null for a local chat. */
  const [activeRemote, setActiveRemote] = useState<ConversationRemote | null>(null);
  const activeRemoteRef = useRef<ConversationRemote | null>(null);
  activeRemoteRef.current = activeRemote;
  const activeRef = useRef<number | null>(null);
  const finished = useRef(new Map<number, (r: Finished) => void>());
  /** The text streamed so far per request (saved while it streams). */
  const streamed = useRef(new Map<number, string>());
  activeRef.current = activeId;

  const active = conversations.find((c) => c.id === activeId) ?? null;
  const fail = useCallback((e: unknown) => setError((e as Error).message), []);

  const refreshModels = useCallback(async (selectId?: string) => {
    const list = await value(api.listModels());
    setModels(list);
    setModelId((current) => {
      const wanted = selectId ?? current ?? localStorage.getItem(SELECTED_MODEL_KEY);
      return list.find((m) => m.id === wanted && m.available)?.id ?? list.find((m) => m.available)?.id ?? null;
    });
  }, []);
  const refreshConversations = useCallback(async () => setConversations(await value(api.listConversations())), []);

  const refreshRemoteModels = useCallback((providerId: number) => {
    const set = (state: RemoteModels) => setRemoteModels((m) => new Map(m).set(providerId, state));
    set({ loading: true });
    value(api.listRemoteModels({ providerId }))
      .then((list) => set({ models: list.map((x) => x.id) }))
      .catch((e: Error) => set({ error: e.message }));
  }, []);
  const refreshProviders = useCallback(async () => {
    const list = await value(api.listRemoteProviders());
    setProviders(list);
    list.forEach((p) => refreshRemoteModels(p.id));
  }, [refreshRemoteModels]);

  // Remote answers as they stream (the same view as the engine's tokens).
  useEffect(
    () => api.onRemoteDelta((d) => setStream((s) => (s && s.requestId === d.requestId ? { ...s, text: s.text + d.text } : s))),
    [],
  );
  // A .gguf opened from the OS (double-click, launch argument) that main has imported: list it and select it.
  useEffect(() => api.onModelOpened((m) => void refreshModels(m.id).catch(fail)), [refreshModels, fail]);
  // The local API server (in main) asks the loaded engine for generations; its answers go back the same way.
  useEffect(() => api.onServerBridge((m) => engine().serverRequest(m)), []);
  // Engine events.
  useEffect(
    () =>
      engine().on((e) => {
        switch (e.type) {
          case 'load-progress':
            return setModelState({ phase: 'loading', done: e.bytesDone, total: e.bytesTotal });
          case 'loaded':
            // The open chat's KV comes back now (after a model switch or a lost device).
            if (activeRef.current !== null && activeRemoteRef.current === null) engine().open(activeRef.current);
            void api.serverBridgeReply({ type: 'model', modelId: e.modelId, contextLength: e.contextLength, kvBlocks: e.kvBlocks });
            return setModelState({ phase: 'ready', contextLength: e.contextLength, adapter: e.adapter });
          case 'load-error':
            void api.serverBridgeReply({ type: 'model', modelId: null, contextLength: 0, kvBlocks: 0 });
            return setModelState({ phase: 'error', message: e.message });
          case 'device-lost':
            void api.serverBridgeReply({ type: 'model', modelId: null, contextLength: 0, kvBlocks: 0 });
            return setModelState({ phase: 'loading', done: 0, total: 0, note: e.message });
          case 'resumed':
            if (e.report.conversationId === activeRef.current) setResume(e.report);
            return;
          case 'token':
            if (streamed.current.has(e.requestId)) streamed.current.set(e.requestId, streamed.current.get(e.requestId)! + e.text);
            return setStream((s) => (s && s.requestId === e.requestId ? { ...s, text: s.text + e.text } : s));
          case 'kv':
            return setKv(e.picture);
          case 'server-token':
            void api.serverBridgeReply({ type: 'token', id: e.id, token: e.token });
            return;
          case 'server-done':
            void api.serverBridgeReply({ type: 'done', id: e.id, result: e.result });
            return;
          case 'server-error':
            void api.serverBridgeReply({ type: 'error', id: e.id, message: e.message.slice(0, 2000) });
            return;
          case 'done':
          case 'generate-error':
            finished.current.get(e.requestId)?.(e);
            finished.current.delete(e.requestId);
            return;
        }
      }),
    [],
  );

  useEffect(() => {
    refreshModels().catch(fail);
    refreshConversations().catch(fail);
    refreshProviders().catch(fail);
  }, [refreshModels, refreshConversations, refreshProviders, fail]);

  // A remote target without a model yet takes the server's first one once its list arrives.
  useEffect(() => {
    if (target.kind !== 'remote' || target.providerId === null || target.model !== '') return;
    const state = remoteModels.get(target.providerId);
    const first = state && 'models' in state ? state.models[0] : undefined;
    if (first !== undefined) setTarget({ ...target, model: first });
  }, [target, remoteModels]);

  // Load the selected model into the worker (again only when the selection or its file changes).
  const selected = models.find((m) => m.id === modelId);
  const loadKey = selected ? `${selected.id}:${selected.fingerprint}` : null;
  useEffect(() => {
    if (!selected) return;
    localStorage.setItem(SELECTED_MODEL_KEY, selected.id);
    setModelState({ phase: 'loading', done: 0, total: selected.size });
    setStats(null);
    value(api.getModelUrl({ id: selected.id }))
      .then((url) => engine().load(selected.id, url, selected.fingerprint))
      .catch((e: Error) => setModelState({ phase: 'error', message: e.message }));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `selected` is named by loadKey
  }, [loadKey]);

  const openConversation = useCallback(
    async (id: number) => {
      const link = await value(api.getConversationRemote({ conversationId: id }));
      setActiveId(id);
      setActiveRemote(link);
      setResume(null);
      setStats(null);
      setThread(await value(api.getMessages({ conversationId: id })));
      if (link) return; // answered by its server: the local engine keeps no state for it
      // A chat continues with the model it was kept with, when that model is still here.
      // (After a switch the worker opens it once the model is loaded: see 'loaded'.)
      const own = conversations.find((c) => c.id === id)?.modelId;
      if (own && own !== modelId && models.some((m) => m.id === own && m.available)) setModelId(own);
      else engine().open(id);
    },
    [conversations, models, modelId],
  );

  /** Picking a model also makes it the open chat's model. */
  const selectModel = useCallback(
    (id: string) => {
      setModelId(id);
      if (activeId !== null) {
        value(api.updateConversationSettings({ id: activeId, modelId: id }))
          .then((c) => setConversations((list) => list.map((x) => (x.id === c.id ? c : x))))
          .catch(fail);
      }
    },
    [activeId, fail],
  );

  /** After an answer, local or remote, whatever its outcome: the stream ends and the thread is read back. */
  const answerEnded = useCallback(
    async (conversationId: number) => {
      setStream(null);
      if (activeRef.current === conversationId) setThread(await value(api.getMessages({ conversationId })));
      await refreshConversations();
      setAnswered((n) => n + 1);
    },
    [refreshConversations],
  );

  /**
   * Runs the engine on `base` (ending with the question `userId`) and writes the answer under it: saved at once as
   * an empty incomplete message, its text saved as it streams (at most once a second), and finally its status
   * (complete, or incomplete when stopped) and stats. An answer cut short by a crash stays incomplete.
   */
  const answer = useCallback(
    async (conv: Conversation, base: readonly ThreadMessage[], userId: number) => {
      const answerId = await value(api.appendMessage({ conversationId: conv.id, parentId: userId, role: 'assistant', content: '', status: 'incomplete' }));
      const requestId = engine().generate({
        conversationId: conv.id,
        systemPrompt: conv.systemPrompt,
        turns: base.map((m) => ({ role: m.role, content: m.content, tokenCount: m.tokenCount })),
        settings: conv.settings,
      });
      const done = new Promise<Finished>((resolve) => finished.current.set(requestId, resolve));
      streamed.current.set(requestId, '');
      setStream({ requestId, remote: false, conversationId: conv.id, base, text: '' });
      // Saves are chained so the final update always lands last.
      let saves: Promise<unknown> = Promise.resolve();
      let savedText = '';
      const saveProgress = () => {
        const text = streamed.current.get(requestId) ?? '';
        if (text === savedText) return;
        savedText = text;
        saves = saves.then(() => api.updateMessage({ id: answerId, content: text }));
      };
      const timer = setInterval(saveProgress, 1000);
      const r = await done;
      clearInterval(timer);
      streamed.current.delete(requestId);
      try {
        await saves;
        if (r.type === 'done') {
          const status = r.stopReason === 'cancelled' ? 'incomplete' : 'complete';
          await value(api.updateMessage({ id: answerId, content: r.text, status, tokenCount: r.tokenCount, stats: storedStats(r) }));
          if (r.stats.userTokenCount !== null) await value(api.updateMessage({ id: userId, tokenCount: r.stats.userTokenCount }));
          setStats(r.stats);
          setResume(r.stats.resume);
        } else {
          const errorMessage = r.message.slice(0, 2000);
          await value(api.updateMessage({ id: answerId, status: 'error', stats: { stopReason: 'error', errorMessage } }));
          setError(r.message);
        }
      } finally {
        await answerEnded(conv.id);
      }
    },
    [answerEnded],
  );

  /**
   * A remote answer: main saves the question (for send) and the answer as it streams; here we only show `base`, then
   * the text as it arrives (after `before`, a partial answer being continued), and re-read the thread at the end. A
   * failure shows its message; whatever arrived stays saved, incomplete, with a Continue button.
   */
  const remoteAnswer = useCallback(
    async (conv: Conversation, base: readonly ThreadMessage[], before: string, start: (requestId: string) => Promise<ApiResult<Message>>) => {
      const requestId = newRemoteRequestId();
      setStats(null);
      setStream({ requestId, remote: true, conversationId: conv.id, base, text: before });
      try {
        await value(start(requestId));
      } catch (e) {
        setError((e as Error).message);
      } finally {
        await answerEnded(conv.id);
      }
    },
    [answerEnded],
  );

  const send = useCallback(
    async (text: string) => {
      setError(null);
      let conv = active;
      let remote = activeRemote;
      if (!conv && target.kind === 'remote') {
        if (target.providerId === null || target.model === '') throw new Error('Choose a server and one of its models');
        conv = await value(
          api.createRemoteConversation({ providerId: target.providerId, model: target.model, title: titleFrom(text), systemPrompt: draft.systemPrompt }),
        );
        conv = await value(api.updateConversationSettings({ id: conv.id, settings: draft.settings }));
        remote = { conversationId: conv.id, providerId: target.providerId, model: target.model };
        setActiveId(conv.id);
        setActiveRemote(remote);
        setThread(null);
        setResume(null);
        await refreshConversations();
      }
      if (conv && remote) {
        const id = conv.id;
        const shownBefore = id === thread?.conversationId ? thread.messages : [];
        const question: ThreadMessage = { id: -2, conversationId: id, parentId: null, role: 'user', content: text, tokenCount: null, stats: {}, status: 'complete', createdAt: Date.now(), siblingIds: [] };
        await remoteAnswer(conv, [...shownBefore, question], '', (requestId) => api.remoteSend({ conversationId: id, content: text, requestId }));
        return;
      }
      if (!conv) {
        conv = await value(api.createConversation({ title: titleFrom(text), modelId, systemPrompt: draft.systemPrompt, settings: draft.settings }));
        setActiveId(conv.id);
        setResume(null);
        await refreshConversations();
      }
      const parentId = conv.id === thread?.conversationId ? thread.activeLeafId : null;
      const userId = await value(api.appendMessage({ conversationId: conv.id, parentId, role: 'user', content: text }));
      const t = await value(api.getMessages({ conversationId: conv.id }));
      setThread(t);
      await answer(conv, t.messages, userId);
    },
    [active, activeRemote, answer, draft, modelId, refreshConversations, remoteAnswer, target, thread],
  );

  const regenerate = useCallback(
    async (assistantId: number) => {
      if (!active || !thread) return;
      const i = thread.messages.findIndex((m) => m.id === assistantId);
      const question = thread.messages[i - 1];
      if (i < 1 || !question) return;
      setError(null);
      if (activeRemote) {
        await remoteAnswer(active, thread.messages.slice(0, i), '', (requestId) => api.remoteRegenerate({ messageId: assistantId, requestId }));
        return;
      }
      await answer(active, thread.messages.slice(0, i), question.id);
    },
    [active, activeRemote, answer, remoteAnswer, thread],
  );

  /** Remote chats: asks the server to go on from a partial answer, appending to that same message. */
  const continueAnswer = useCallback(
    async (assistantId: number) => {
      if (!active || !thread || !activeRemote) return;
      const i = thread.messages.findIndex((m) => m.id === assistantId);
      const partial = thread.messages[i];
      if (!partial) return;
      setError(null);
      await remoteAnswer(active, thread.messages.slice(0, i), partial.content, (requestId) => api.remoteContinue({ messageId: assistantId, requestId }));
    },
    [active, activeRemote, remoteAnswer, thread],
  );

  const edit = useCallback(
    async (userMessageId: number, content: string) => {
      if (!active || !thread) return;
      const i = thread.messages.findIndex((m) => m.id === userMessageId);
      const parentId = thread.messages[i - 1]?.id ?? null;
      const userId = await value(api.appendMessage({ conversationId: active.id, parentId, role: 'user', content }));
      const t = await value(api.getMessages({ conversationId: active.id }));
      setThread(t);
      await answer(active, t.messages, userId);
    },
    [active, answer, thread],
  );

  const stop = useCallback(() => {
    if (!stream) return;
    if (typeof stream.requestId === 'string') void value(api.remoteStop({ requestId: stream.requestId })).catch(fail);
    else engine().stop(stream.requestId);
  }, [stream, fail]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && stop();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [stop]);

  const changeSettings = useCallback(
    (change: { systemPrompt?: string; settings?: Partial<GenerationSettings> }) => {
      if (!active) {
        setDraft((d) => ({ systemPrompt: change.systemPrompt ?? d.systemPrompt, settings: { ...d.settings, ...change.settings } }));
        return;
      }
      value(api.updateConversationSettings({ id: active.id, ...change }))
        .then((c) => setConversations((list) => list.map((x) => (x.id === c.id ? c : x))))
        .catch(fail);
    },
    [active, fail],
  );

  const newChat = () => {
    setActiveId(null);
    setActiveRemote(null);
    setThread(null);
    setStats(null);
    setResume(null);
  };

  const busy = stream !== null;
  const shown: readonly ThreadMessage[] = stream && stream.conversationId === activeId ? stream.base : activeId !== null ? (thread?.messages ?? []) : [];
  const model = models.find((m) => m.id === modelId);
  const ready = modelState.phase === 'ready';
  // The chat on screen (or the new one about to start) runs on a remote server: no local model needed.
  const remoteShown: { providerId: number | null; model: string } | null =
    activeId !== null ? activeRemote : target.kind === 'remote' ? target : null;
  const remoteProvider = providers.find((p) => p.id === remoteShown?.providerId);
  const canAnswer = remoteShown ? remoteShown.providerId !== null && remoteShown.model !== '' : ready;

  return (
    <div className="app">
      <header className="top">
        <strong>KVChat</strong>
        <span data-testid="model-status" data-phase={modelState.phase} className={`model-status ${modelState.phase}`}>
          {modelState.phase === 'none' && 'No model: import one to start'}
          {modelState.phase === 'loading' &&
            (modelState.note ?? `Loading ${model?.name ?? 'model'}… ${modelState.total ? Math.round((100 * modelState.done) / modelState.total) : 0}%`)}
          {modelState.phase === 'ready' && `${model?.name ?? 'Model'} ready`}
          {modelState.phase === 'error' && modelState.message}
        </span>
      </header>
      {error && (
        <div className="banner error" role="alert" data-testid="error">
          {error} <button onClick={() => setError(null)}>×</button>
        </div>
      )}
      <Sidebar
        conversations={conversations}
        activeId={activeId}
        onOpen={(id) => void openConversation(id).catch(fail)}
        onNew={newChat}
        onRename={(id, title) => void value(api.renameConversation({ id, title })).then(refreshConversations).catch(fail)}
        onDelete={(id) =>
          void value(api.deleteConversation({ id }))
            .then(() => {
              engine().forget(id);
              if (id === activeId) newChat();
              return refreshConversations();
            })
            .catch(fail)
        }
      />
      <main className="chat" data-testid="chat" data-answers={answered}>
        <div className="messages" data-testid="messages">
          {shown.length === 0 && !stream && <p className="empty muted">Type a message to start{model ? ` with ${model.name}` : ''}.</p>}
          {shown.map((m) => (
            <MessageView
              key={m.id}
              message={m}
              busy={busy || !canAnswer}
              editable={activeRemote === null}
              onSelectSibling={(id) => void value(api.selectBranch({ conversationId: m.conversationId, messageId: id })).then(setThread).catch(fail)}
              onRegenerate={() => void regenerate(m.id).catch(fail)}
              onEdit={(content) => void edit(m.id, content).catch(fail)}
              {...(activeRemote ? { onContinue: () => void continueAnswer(m.id).catch(fail) } : {})}
            />
          ))}
          {stream && stream.conversationId === activeId && (
            <MessageView
              message={{ id: -1, role: 'assistant', content: stream.text, status: 'incomplete', siblingIds: [], stats: {} }}
              streaming
              busy
              onSelectSibling={() => {}}
              onRegenerate={() => {}}
              onEdit={() => {}}
            />
          )}
        </div>
        {activeId === null && <NewChatTarget target={target} providers={providers} models={remoteModels} onChange={setTarget} />}
        <Composer disabled={!canAnswer} busy={busy} onSend={(text) => void send(text).catch(fail)} onStop={stop} />
      </main>
      <div className="side-panels">
        <SettingsPanel systemPrompt={active?.systemPrompt ?? draft.systemPrompt} settings={active?.settings ?? draft.settings} onChange={changeSettings} />
        <ModelManager models={models} selectedId={modelId} locked={busy} onSelect={selectModel} onChanged={(id) => void refreshModels(id).catch(fail)} />
        <RemoteServers
          providers={providers}
          models={remoteModels}
          onAdd={async (request: AddRemoteProviderRequest) => {
            await value(api.addRemoteProvider(request));
            await refreshProviders();
          }}
          onRemove={(id) =>
            void value(api.removeRemoteProvider({ id }))
              .then(() => {
                setTarget((t) => (t.kind === 'remote' && t.providerId === id ? { kind: 'local' } : t));
                return refreshProviders();
              })
              .catch(fail)
          }
          onRefreshModels={refreshRemoteModels}
        />
        <LocalServer modelLoaded={ready} />
        <KvPanel picture={kv} />
      </div>
      <StatusBar
        model={
          remoteShown
            ? `remote: ${remoteProvider?.name ?? 'removed server'}/${remoteShown.model || '–'}`
            : model
              ? `${model.name} (${model.quantization})`
              : 'no model'
        }
        stats={stats}
        resume={resume}
        contextUsed={stats?.contextUsed ?? resume?.historyTokens ?? 0}
        contextLength={ready ? modelState.contextLength : null}
      />
    </div>
  );
}
