// Answers, local or remote: send, regenerate, edit and continue, the text as it streams, and stop (also Esc).
// A local answer runs in the engine and is saved here: the question before generation starts, the answer as an
// empty incomplete message at once, its text while it streams, its status and stats when it ends (a stopped one
// stays incomplete, a crash leaves it so). A remote chat streams through main instead (remoteSend: main saves the
// question and the answer; deltas arrive as events), shown the same way. Regenerate and edit make new branches.
import { useCallback, useEffect, useReducer, useState } from 'react';
import type { ApiResult, Conversation, ConversationRemote, Message, ThreadMessage } from '../../../shared/api';
import { api, value } from '../api';
import type { ChatTarget } from '../components/NewChatTarget';
import { remoteDeltaActions, storedStats, streamReducer, titleFrom } from './answer-state';
import { engine, useEngineEvents } from './engine';
import { modelReasoningOf, setModelReasoning } from './model-reasoning';
import type { AnswerReportUpdates } from './useAnswerReport';
import type { Conversations } from './useConversations';

/**
 * Streamed text is saved after 1 s, then after waits that double up to 30 s (ms): a few saves for a short answer,
 * one per 30 s for a long one, as main saves a remote answer, instead of rewriting (and re-indexing for search)
 * the whole text every second.
 */
const FIRST_SAVE_MS = 1000;
const MAX_SAVE_INTERVAL_MS = 30_000;
/** A server's error text kept with the failed answer. */
const MAX_ERROR_CHARS = 2000;

/** A remote answer's text and reasoning shown before new pieces arrive (a partial answer being continued). */
interface RemoteAnswerSoFar {
  readonly text: string;
  readonly reasoning: string;
}
const NOTHING_YET: RemoteAnswerSoFar = { text: '', reasoning: '' };

let remoteRequests = 0;
const newRemoteRequestId = (): string => `remote-${Date.now().toString(36)}-${++remoteRequests}`;

export interface AnswerContext {
  readonly chats: Conversations;
  /** Where the next new chat runs. */
  readonly target: ChatTarget;
  /** The selected local model (a new local chat is kept with it). */
  readonly modelId: string | null;
  readonly report: AnswerReportUpdates;
  readonly showError: (message: string | null) => void;
}

export function useAnswer({ chats, target, modelId, report, showError }: AnswerContext) {
  const [stream, dispatch] = useReducer(streamReducer, null);
  /** Answers saved since the app started (tests wait on it: data-answers). */
  const [answered, setAnswered] = useState(0);

  useEngineEvents((e) => {
    if (e.type === 'token') dispatch({ type: 'text', requestId: e.requestId, text: e.text });
    if (e.type === 'reasoning') dispatch({ type: 'reasoning', requestId: e.requestId, text: e.text });
    // Mounted with the app, before any model loads: the settings panel asks here whether chats may switch thinking.
    if (e.type === 'loaded') setModelReasoning(modelReasoningOf(e));
  });
  useEffect(() => api.onRemoteDelta((d) => remoteDeltaActions(d).forEach(dispatch)), []);

  const { reread, refresh } = chats;
  /** After an answer, local or remote, whatever its outcome: the stream ends and the thread is read back. */
  const ended = useCallback(
    async (conversationId: number) => {
      dispatch({ type: 'end' });
      await reread(conversationId);
      await refresh();
      setAnswered((n) => n + 1);
    },
    [reread, refresh],
  );

  /** Runs the engine on `base` (ending with the question `userId`) and writes the answer under it. */
  const answerLocally = useCallback(
    async (conv: Conversation, base: readonly ThreadMessage[], userId: number) => {
      const answerId = await value(api.appendMessage({ conversationId: conv.id, parentId: userId, role: 'assistant', content: '', status: 'incomplete' }));
      const { requestId, finished } = engine().generate({
        conversationId: conv.id,
        systemPrompt: conv.systemPrompt,
        turns: base.map((m) => ({ role: m.role, content: m.content, tokenCount: m.tokenCount, ...(m.reasoning ? { reasoning: m.reasoning } : {}) })),
        settings: conv.settings,
      });
      let text = '';
      let reasoning = '';
      const unlisten = engine().on((e) => {
        if (e.type === 'token' && e.requestId === requestId) text += e.text;
        if (e.type === 'reasoning' && e.requestId === requestId) reasoning += e.text;
      });
      dispatch({ type: 'start', stream: { requestId, remote: false, conversationId: conv.id, base, text: '', reasoning: '' } });
      // Saves are chained so the final update always lands last.
      let saves: Promise<unknown> = Promise.resolve();
      let savedText = '';
      let savedReasoning = '';
      let wait = FIRST_SAVE_MS;
      let timer: ReturnType<typeof setTimeout>;
      const saveLater = (): void => {
        timer = setTimeout(() => {
          if (text !== savedText || reasoning !== savedReasoning) {
            const content = (savedText = text);
            const thought = (savedReasoning = reasoning);
            saves = saves.then(() => api.updateMessage({ id: answerId, content, reasoning: thought }));
          }
          wait = Math.min(wait * 2, MAX_SAVE_INTERVAL_MS);
          saveLater();
        }, wait);
      };
      saveLater();
      const r = await finished;
      clearTimeout(timer!);
      unlisten();
      try {
        await saves;
        if (r.type === 'done') {
          const status = r.stopReason === 'cancelled' ? 'incomplete' : 'complete';
          await value(api.updateMessage({ id: answerId, content: r.text, reasoning: r.reasoning, status, tokenCount: r.tokenCount, stats: storedStats(r) }));
          if (r.stats.userTokenCount !== null) await value(api.updateMessage({ id: userId, tokenCount: r.stats.userTokenCount }));
          report.answered(r.stats);
        } else {
          const errorMessage = r.message.slice(0, MAX_ERROR_CHARS);
          await value(api.updateMessage({ id: answerId, status: 'error', stats: { stopReason: 'error', errorMessage } }));
          showError(r.message);
        }
      } finally {
        await ended(conv.id);
      }
    },
    [ended, report, showError],
  );

  /**
   * A remote answer: main saves the question (for send) and the answer as it streams; here we only show `base`, then
   * the text and reasoning as they arrive (after `before`, a partial answer being continued), and re-read the thread
   * at the end. A failure shows its message; whatever arrived stays saved, incomplete, with a Continue button.
   */
  const answerRemotely = useCallback(
    async (conv: Conversation, base: readonly ThreadMessage[], before: RemoteAnswerSoFar, start: (requestId: string) => Promise<ApiResult<Message>>) => {
      const requestId = newRemoteRequestId();
      report.clearStats();
      dispatch({ type: 'start', stream: { requestId, remote: true, conversationId: conv.id, base, ...before } });
      try {
        await value(start(requestId));
      } catch (e) {
        showError((e as Error).message);
      } finally {
        await ended(conv.id);
      }
    },
    [ended, report, showError],
  );

  const { active, activeRemote, thread, draft } = chats;

  const send = async (text: string) => {
    showError(null);
    let conv = active;
    let remote: ConversationRemote | null = activeRemote;
    if (!conv && target.kind === 'remote') {
      if (target.providerId === null || target.model === '') throw new Error('Choose a server and one of its models');
      conv = await value(
        api.createRemoteConversation({ providerId: target.providerId, model: target.model, title: titleFrom(text), systemPrompt: draft.systemPrompt }),
      );
      conv = await value(api.updateConversationSettings({ id: conv.id, settings: draft.settings }));
      remote = { conversationId: conv.id, providerId: target.providerId, model: target.model };
      await chats.started(conv, remote);
    }
    if (conv && remote) {
      const id = conv.id;
      const shownBefore = id === thread?.conversationId ? thread.messages : [];
      // Shown until main has saved it and the thread is read back.
      const question: ThreadMessage = { id: -2, conversationId: id, parentId: null, role: 'user', content: text, reasoning: '', tokenCount: null, stats: {}, status: 'complete', createdAt: Date.now(), siblingIds: [] };
      await answerRemotely(conv, [...shownBefore, question], NOTHING_YET, (requestId) => api.remoteSend({ conversationId: id, content: text, requestId }));
      return;
    }
    if (!conv) {
      conv = await value(api.createConversation({ title: titleFrom(text), modelId, systemPrompt: draft.systemPrompt, settings: draft.settings }));
      await chats.started(conv, null);
    }
    const parentId = conv.id === thread?.conversationId ? thread.activeLeafId : null;
    const userId = await value(api.appendMessage({ conversationId: conv.id, parentId, role: 'user', content: text }));
    const t = await value(api.getMessages({ conversationId: conv.id }));
    chats.showThread(t);
    await answerLocally(conv, t.messages, userId);
  };

  /** A new answer to the question before `assistantId`, as a new branch. */
  const regenerate = async (assistantId: number) => {
    if (!active || !thread) return;
    const i = thread.messages.findIndex((m) => m.id === assistantId);
    const question = thread.messages[i - 1];
    if (i < 1 || !question) return;
    showError(null);
    if (activeRemote) {
      await answerRemotely(active, thread.messages.slice(0, i), NOTHING_YET, (requestId) => api.remoteRegenerate({ messageId: assistantId, requestId }));
      return;
    }
    await answerLocally(active, thread.messages.slice(0, i), question.id);
  };

  /** Remote chats: asks the server to go on from a partial answer, appending to that same message. */
  const continueAnswer = async (assistantId: number) => {
    if (!active || !thread || !activeRemote) return;
    const i = thread.messages.findIndex((m) => m.id === assistantId);
    const partial = thread.messages[i];
    if (!partial) return;
    showError(null);
    // Main keeps the reasoning of a partial answer that has text (the server goes on from that text) and replaces it
    // when the answer was cut off while still thinking (the server thinks again).
    const before = { text: partial.content, reasoning: partial.content !== '' ? partial.reasoning : '' };
    await answerRemotely(active, thread.messages.slice(0, i), before, (requestId) => api.remoteContinue({ messageId: assistantId, requestId }));
  };

  /** An edited question: a new branch from its parent, answered. */
  const edit = async (userMessageId: number, content: string) => {
    if (!active || !thread) return;
    const i = thread.messages.findIndex((m) => m.id === userMessageId);
    const parentId = thread.messages[i - 1]?.id ?? null;
    const userId = await value(api.appendMessage({ conversationId: active.id, parentId, role: 'user', content }));
    const t = await value(api.getMessages({ conversationId: active.id }));
    chats.showThread(t);
    await answerLocally(active, t.messages, userId);
  };

  const stop = useCallback(() => {
    if (!stream) return;
    if (typeof stream.requestId === 'string') void value(api.remoteStop({ requestId: stream.requestId })).catch((e: Error) => showError(e.message));
    else engine().stop(stream.requestId);
  }, [stream, showError]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && !e.shiftKey && stop(); // Shift+Esc focuses the composer
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [stop]);

  return { stream, busy: stream !== null, answered, send, regenerate, continueAnswer, edit, stop };
}
