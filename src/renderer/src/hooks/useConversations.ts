// The conversation list and the open chat: its thread (the active branch), its remote server if it has one, the
// settings of the chat about to start, and keeping the engine's KV for the open chat (opened with it, reopened
// after a model load or a lost device).
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  DEFAULT_GENERATION_SETTINGS,
  type Conversation,
  type ConversationRemote,
  type ConversationThread,
  type GenerationSettings,
  type ModelInfo,
} from '../../../shared/api';
import { api, value } from '../api';
import { engine, useEngineEvents } from './engine';
import type { AnswerReportUpdates } from './useAnswerReport';

export interface ChatDraft {
  readonly systemPrompt: string;
  readonly settings: GenerationSettings;
}

export type SettingsChange = { systemPrompt?: string; settings?: Partial<GenerationSettings> };

interface ModelChoice {
  readonly list: readonly ModelInfo[];
  readonly selectedId: string | null;
  select(id: string): void;
  /** The user unloaded the model: opening a chat does not load its model again by itself. */
  readonly unloaded?: boolean;
}

export function useConversations(models: ModelChoice, report: AnswerReportUpdates, fail: (e: unknown) => void) {
  const [list, setList] = useState<Conversation[]>([]);
  const [activeId, setActiveId] = useState<number | null>(null);
  /** The open chat's remote server and model; null for a local chat. */
  const [activeRemote, setActiveRemote] = useState<ConversationRemote | null>(null);
  const [thread, setThread] = useState<ConversationThread | null>(null);
  /** The system prompt and settings of the next new chat. */
  const [draft, setDraft] = useState<ChatDraft>({ systemPrompt: '', settings: DEFAULT_GENERATION_SETTINGS });
  // Read after awaits (an answer ending), when the chat on screen may have changed.
  const activeRef = useRef<number | null>(null);
  useEffect(() => {
    activeRef.current = activeId;
  }, [activeId]);

  const active = list.find((c) => c.id === activeId) ?? null;

  const refresh = useCallback(() => value(api.listConversations()).then(setList), []);
  useEffect(() => void refresh().catch(fail), [refresh, fail]);

  useEngineEvents((e) => {
    // The open chat's KV comes back once a model is loaded (after a model switch or a lost device).
    if (e.type === 'loaded' && activeId !== null && activeRemote === null) engine().open(activeId);
    if (e.type === 'resumed' && e.report.conversationId === activeId) report.resumed(e.report);
  });

  const { list: modelList, selectedId: modelId, select: selectModel, unloaded } = models;
  const open = useCallback(
    async (id: number) => {
      const link = await value(api.getConversationRemote({ conversationId: id }));
      setActiveId(id);
      setActiveRemote(link);
      report.clear();
      setThread(await value(api.getMessages({ conversationId: id })));
      if (link) return; // answered by its server: the local engine keeps no state for it
      // A chat continues with the model it was kept with, when that model is still here.
      // (After a switch the worker opens it once the model is loaded: see 'loaded'.)
      const own = list.find((c) => c.id === id)?.modelId;
      if (own && own !== modelId && !unloaded && modelList.some((m) => m.id === own && m.available)) selectModel(own);
      else engine().open(id);
    },
    [list, modelList, modelId, selectModel, unloaded, report],
  );

  const newChat = useCallback(() => {
    setActiveId(null);
    setActiveRemote(null);
    setThread(null);
    report.clear();
  }, [report]);

  /** A chat just created by its first question (`remote`: where it runs) becomes the open one. */
  const started = useCallback(
    async (conv: Conversation, remote: ConversationRemote | null) => {
      setActiveId(conv.id);
      setActiveRemote(remote);
      setThread(null);
      report.clearResume();
      await refresh();
    },
    [refresh, report],
  );

  /** Reads the thread back after an answer, if that chat is still the one on screen. */
  const reread = useCallback(async (conversationId: number) => {
    if (activeRef.current === conversationId) setThread(await value(api.getMessages({ conversationId })));
  }, []);

  const rename = (id: number, title: string) => void value(api.renameConversation({ id, title })).then(refresh).catch(fail);

  const remove = (id: number) =>
    void value(api.deleteConversation({ id }))
      .then(() => {
        engine().forget(id);
        if (id === activeId) newChat();
        return refresh();
      })
      .catch(fail);

  const replace = (c: Conversation) => setList((all) => all.map((x) => (x.id === c.id ? c : x)));

  /** The open chat's settings (saved), or the next new chat's. */
  const changeSettings = (change: SettingsChange) => {
    if (!active) {
      setDraft((d) => ({ systemPrompt: change.systemPrompt ?? d.systemPrompt, settings: { ...d.settings, ...change.settings } }));
      return;
    }
    value(api.updateConversationSettings({ id: active.id, ...change }))
      .then(replace)
      .catch(fail);
  };

  /** Picking a model also makes it the open chat's model. */
  const keepModel = (modelId: string) => {
    if (activeId !== null) value(api.updateConversationSettings({ id: activeId, modelId })).then(replace).catch(fail);
  };

  const selectBranch = (conversationId: number, messageId: number) =>
    void value(api.selectBranch({ conversationId, messageId })).then(setThread).catch(fail);

  return {
    list,
    activeId,
    active,
    activeRemote,
    thread,
    draft,
    open,
    newChat,
    started,
    reread,
    showThread: setThread,
    refresh,
    rename,
    remove,
    changeSettings,
    keepModel,
    selectBranch,
  };
}

export type Conversations = ReturnType<typeof useConversations>;
