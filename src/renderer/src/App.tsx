// The app's window: on the left its views (Chat, Discover, My models, Storage, Servers / API) and the conversations;
// in the middle the open view (the chat: its header with the model picker and the KV gauge, the thread, the
// composer); on the right the chat's inspector (settings, the KV picture); the status bar below.
// Each concern is a hook (hooks/): the models and the engine's loaded model, the conversations and the open chat,
// remote servers, answers (local or remote), the status bar's report, the layout; this file composes them and lays
// them out. The engine runs in a Web Worker (hooks/engine.ts); the store is reached through the typed API only.
import { useCallback, useState } from 'react';
import type { ThreadMessage } from '../../shared/api';
import { api, value } from './api';
import { ChatHeader } from './components/ChatHeader';
import { Composer } from './components/Composer';
import { neighbourConversation, groupConversations } from './components/conversation-groups';
import { DiscoverView } from './components/discover/DiscoverView';
import { Icon } from './components/icons';
import { Inspector } from './components/Inspector';
import { KvStorage } from './components/KvStorage';
import { LocalServer } from './components/LocalServer';
import { MessageView } from './components/Message';
import { ModelManager } from './components/ModelManager';
import { GpuRecoveryBanner, ModelNotice } from './components/ModelNotice';
import { NewChatTarget } from './components/NewChatTarget';
import { RemoteServers } from './components/RemoteServers';
import { ShortcutSheet } from './components/ShortcutSheet';
import { CONVERSATION_SEARCH_ID, Sidebar } from './components/Sidebar';
import { StatusBar } from './components/StatusBar';
import { ViewFrame } from './components/ViewFrame';
import { Welcome } from './components/Welcome';
import { useKvPicture } from './hooks/engine';
import { useAnswer } from './hooks/useAnswer';
import { useAnswerReport } from './hooks/useAnswerReport';
import { useConversations } from './hooks/useConversations';
import { useDiscover } from './hooks/useDiscover';
import { useLayout } from './hooks/useLayout';
import { useModels } from './hooks/useModels';
import { usePinnedConversations } from './hooks/usePinnedConversations';
import { useRemoteProviders } from './hooks/useRemoteProviders';
import { useShortcuts } from './hooks/useShortcuts';

const COMPOSER_ID = 'composer';
const focusById = (id: string): void => document.getElementById(id)?.focus();

export function App(): React.JSX.Element {
  const [error, setError] = useState<string | null>(null);
  const fail = useCallback((e: unknown) => setError((e as Error).message), []);
  const report = useAnswerReport();
  const models = useModels(fail, report.update.clearStats);
  const chats = useConversations(models, report.update, fail);
  const remote = useRemoteProviders(fail);
  const answer = useAnswer({ chats, target: remote.target, modelId: models.selectedId, report: report.update, showError: setError });
  const kv = useKvPicture();
  const layout = useLayout();
  const pins = usePinnedConversations(chats.list, chats.refresh, fail);
  const refreshModels = models.refresh;
  const discover = useDiscover(fail, useCallback(() => void refreshModels().catch(fail), [refreshModels, fail]));

  const { stream, busy } = answer;
  const { activeId, activeRemote } = chats;
  const { view, setView } = layout;
  const shown: readonly ThreadMessage[] = stream && stream.conversationId === activeId ? stream.base : activeId !== null ? (chats.thread?.messages ?? []) : [];
  const model = models.selected;
  const modelState = models.state;
  const ready = modelState.phase === 'ready';
  // The chat on screen (or the new one about to start) runs on a remote server: no local model needed.
  const remoteShown: { providerId: number | null; model: string } | null =
    activeId !== null ? activeRemote : remote.target.kind === 'remote' ? remote.target : null;
  const remoteProvider = remote.providers.find((p) => p.id === remoteShown?.providerId);
  const remoteName = remoteShown ? `${remoteProvider?.name ?? 'removed server'}/${remoteShown.model || '–'}` : null;
  const canAnswer = remoteShown ? remoteShown.providerId !== null && remoteShown.model !== '' : ready;
  const { stats, resume } = report;
  // While an answer streams the worker's KV pictures carry its context; afterwards the answer's stats do.
  const live = busy && kv?.live?.conversationId === activeId ? kv.live.contextTokens : null;
  const contextUsed = live ?? stats?.contextUsed ?? resume?.historyTokens ?? 0;
  const contextLength = ready ? modelState.contextLength : null;

  const openChat = (id: number) => {
    setView('chat');
    void chats.open(id).catch(fail);
  };
  const newChat = () => {
    setView('chat');
    chats.newChat();
    setTimeout(() => focusById(COMPOSER_ID));
  };
  const useModel = (id: string) => {
    models.select(id);
    chats.keepModel(id);
  };
  const lastAnswer = [...shown].reverse().find((m) => m.role === 'assistant');
  const switchChat = (step: 1 | -1) => {
    const next = neighbourConversation(groupConversations(chats.list, pins.pinned, Date.now()), activeId, step);
    if (next !== null) openChat(next);
  };

  useShortcuts({
    'new-chat': newChat,
    search: () => focusById(CONVERSATION_SEARCH_ID),
    'focus-composer': () => {
      setView('chat');
      focusById(COMPOSER_ID);
    },
    regenerate: () => {
      if (lastAnswer && !busy && canAnswer) void answer.regenerate(lastAnswer.id).catch(fail);
    },
    'previous-chat': () => switchChat(-1),
    'next-chat': () => switchChat(1),
    'toggle-inspector': layout.toggleInspector,
    shortcuts: () => layout.setSheetOpen(true),
  });

  return (
    <div className="app" data-inspector={view === 'chat' && layout.inspectorOpen ? 'open' : 'closed'}>
      <Sidebar
        nav={{ view, onView: setView, downloading: discover.downloads.some((d) => d.state === 'running') }}
        conversations={chats.list}
        activeId={activeId}
        pinned={pins.pinned}
        onOpen={openChat}
        onNew={newChat}
        onRename={chats.rename}
        onDelete={chats.remove}
        onTogglePin={pins.toggle}
      />
      <main className="workspace" id="main">
        <GpuRecoveryBanner state={modelState} />
        {error && (
          <div className="banner error" role="alert" data-testid="error">
            <span>{error}</span>
            <button className="icon-button" aria-label="Dismiss the error" onClick={() => setError(null)}>
              <Icon name="close" size={14} />
            </button>
          </div>
        )}
        <section className="chat" data-testid="chat" data-answers={answer.answered} hidden={view !== 'chat'} aria-label="Chat">
          <ChatHeader
            picker={{ models: models.list, selectedId: models.selectedId, state: modelState, remote: remoteName, locked: busy, onSelect: useModel, loadOptions: models.loadOptions, onLoadOptions: models.setLoadOptions, onUnload: models.unload }}
            gauge={{ picture: kv, resume, contextUsed, contextLength, expanded: layout.inspectorOpen && layout.inspectorTab === 'kv', onOpen: () => layout.showInspector('kv') }}
            inspectorOpen={layout.inspectorOpen}
            onToggleInspector={layout.toggleInspector}
            onShortcuts={() => layout.setSheetOpen(true)}
          />
          <div className="messages" data-testid="messages" aria-live="off">
            {/* An empty library: the welcome's next steps say it already. */}
            {!remoteShown && !(shown.length === 0 && models.list.length === 0) && (
              <ModelNotice
                state={modelState}
                available={models.list.filter((m) => m.available).length}
                onDiscover={() => setView('discover')}
                onMyModels={() => setView('models')}
                onRetry={models.retry}
              />
            )}
            {shown.length === 0 && !stream && (
              <Welcome
                models={models.list}
                readyWith={remoteName ?? (ready ? (model?.name ?? null) : null)}
                onDiscover={() => setView('discover')}
                onImport={() => void value(api.pickAndImportModel({ copy: true })).then((m) => m && models.refresh(m.id)).catch(fail)}
                onFindLocal={() => {
                  setView('models');
                  setTimeout(() => document.querySelector<HTMLElement>('[data-testid="find-local-models"]')?.focus());
                }}
                onLinkFolder={async () => {
                  const scan = await value(api.linkModelFolder());
                  // The first model found becomes the chat's (and loads).
                  if (scan) await models.refresh(scan.added[0]?.id);
                  return scan;
                }}
                onDemo={useModel}
              />
            )}
            {shown.map((m) => (
              <MessageView
                key={m.id}
                message={m}
                busy={busy || !canAnswer}
                editable={activeRemote === null}
                onSelectSibling={(id) => chats.selectBranch(m.conversationId, id)}
                onRegenerate={() => void answer.regenerate(m.id).catch(fail)}
                onEdit={(content) => void answer.edit(m.id, content).catch(fail)}
                {...(activeRemote ? { onContinue: () => void answer.continueAnswer(m.id).catch(fail) } : {})}
              />
            ))}
            {stream && stream.conversationId === activeId && (
              <MessageView
                message={{ id: -1, role: 'assistant', content: stream.text, reasoning: stream.reasoning, status: 'incomplete', siblingIds: [], stats: {} }}
                streaming
                busy
                onSelectSibling={() => {}}
                onRegenerate={() => {}}
                onEdit={() => {}}
              />
            )}
          </div>
          {activeId === null && <NewChatTarget target={remote.target} providers={remote.providers} models={remote.models} onChange={remote.setTarget} />}
          <Composer
            id={COMPOSER_ID}
            disabled={!canAnswer}
            {...(!remoteShown && modelState.phase === 'none' ? { disabledNote: 'Load a model to chat (the model list above)' } : {})}
            {...(!remoteShown && modelState.phase === 'error' ? { disabledNote: 'The model did not load: see above' } : {})}
            busy={busy}
            onSend={(text) => void answer.send(text).catch(fail)}
            onStop={answer.stop}
          />
        </section>
        {view === 'discover' && (
          <DiscoverView
            discover={discover}
            models={models.list}
            onUse={(id) => {
              // A new chat with the downloaded model selected (and loaded).
              chats.newChat();
              void models.refresh(id).catch(fail);
              setView('chat');
            }}
          />
        )}
        <ViewFrame id="models" title="My models" intro="The models in the library: pick one to chat with, import a file, link a folder of them, or add the ones other apps downloaded." hidden={view !== 'models'}>
          <ModelManager models={models.list} selectedId={models.selectedId} locked={busy} onSelect={useModel} onChanged={(id) => void models.refresh(id).catch(fail)} />
        </ViewFrame>
        <ViewFrame id="storage" title="Storage" intro="Saved KV cache on disk: what each chat keeps so it resumes at once, and the budget for it." hidden={view !== 'storage'}>
          <KvStorage />
        </ViewFrame>
        <ViewFrame id="servers" title="Servers / API" intro="Remote OpenAI-compatible servers a chat can run on, and this app's own local API server." hidden={view !== 'servers'}>
          <RemoteServers providers={remote.providers} models={remote.models} onAdd={remote.add} onRemove={remote.remove} onRefreshModels={remote.refreshModels} />
          <LocalServer modelLoaded={ready} />
        </ViewFrame>
      </main>
      {view === 'chat' && (
        <Inspector
          open={layout.inspectorOpen}
          tab={layout.inspectorTab}
          onTab={layout.showInspector}
          onClose={layout.toggleInspector}
          systemPrompt={chats.active?.systemPrompt ?? chats.draft.systemPrompt}
          settings={chats.active?.settings ?? chats.draft.settings}
          onChange={chats.changeSettings}
          kv={kv}
          conversationId={chats.activeId}
          title={chats.active?.title ?? 'chat'}
          onImported={(id) => void chats.refresh().then(() => openChat(id)).catch(fail)}
        />
      )}
      <StatusBar
        model={remoteShown ? `remote: ${remoteName}` : model ? `${model.name} (${model.quantization})` : 'no model'}
        stats={stats}
        resume={resume}
        contextUsed={contextUsed}
        contextLength={contextLength}
      />
      <ShortcutSheet open={layout.sheetOpen} onClose={() => layout.setSheetOpen(false)} />
    </div>
  );
}
