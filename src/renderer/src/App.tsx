// The chat app: conversations on the left, the active thread in the middle, settings / models / KV cache on the
// right, the status bar below; Discover (finding and downloading models) is a view of its own in the same place.
// Each concern is a hook (hooks/): the models and the engine's loaded model, the
// conversations and the open chat, remote servers, answers (local or remote) and the status bar's report; this
// file composes them and lays them out. The engine runs in a Web Worker (hooks/engine.ts); the store is reached
// through the typed API only.
import { useCallback, useState } from 'react';
import type { ThreadMessage } from '../../shared/api';
import { Composer } from './components/Composer';
import { DiscoverView } from './components/discover/DiscoverView';
import { KvPanel } from './components/KvPanel';
import { LocalServer } from './components/LocalServer';
import { MessageView } from './components/Message';
import { ModelManager } from './components/ModelManager';
import { NewChatTarget } from './components/NewChatTarget';
import { RemoteServers } from './components/RemoteServers';
import { SettingsPanel } from './components/SettingsPanel';
import { Sidebar } from './components/Sidebar';
import { StatusBar } from './components/StatusBar';
import { useKvPicture } from './hooks/engine';
import { useAnswer } from './hooks/useAnswer';
import { useAnswerReport } from './hooks/useAnswerReport';
import { useConversations } from './hooks/useConversations';
import { useDiscover } from './hooks/useDiscover';
import { useModels, type ModelState } from './hooks/useModels';
import { useRemoteProviders } from './hooks/useRemoteProviders';

function modelStatusText(state: ModelState, name: string | undefined): string {
  switch (state.phase) {
    case 'none':
      return 'No model: import one to start';
    case 'loading':
      return state.note ?? `Loading ${name ?? 'model'}… ${state.total ? Math.round((100 * state.done) / state.total) : 0}%`;
    case 'ready':
      return `${name ?? 'Model'} ready`;
    case 'error':
      return state.message;
  }
}

export function App(): React.JSX.Element {
  const [error, setError] = useState<string | null>(null);
  const fail = useCallback((e: unknown) => setError((e as Error).message), []);
  const report = useAnswerReport();
  const models = useModels(fail, report.update.clearStats);
  const chats = useConversations(models, report.update, fail);
  const remote = useRemoteProviders(fail);
  const answer = useAnswer({ chats, target: remote.target, modelId: models.selectedId, report: report.update, showError: setError });
  const kv = useKvPicture();
  const [view, setView] = useState<'chat' | 'discover'>('chat');
  const refreshModels = models.refresh;
  const discover = useDiscover(fail, useCallback(() => void refreshModels().catch(fail), [refreshModels, fail]));

  const { stream, busy } = answer;
  const { activeId, activeRemote } = chats;
  const shown: readonly ThreadMessage[] = stream && stream.conversationId === activeId ? stream.base : activeId !== null ? (chats.thread?.messages ?? []) : [];
  const model = models.selected;
  const modelState = models.state;
  const ready = modelState.phase === 'ready';
  // The chat on screen (or the new one about to start) runs on a remote server: no local model needed.
  const remoteShown: { providerId: number | null; model: string } | null =
    activeId !== null ? activeRemote : remote.target.kind === 'remote' ? remote.target : null;
  const remoteProvider = remote.providers.find((p) => p.id === remoteShown?.providerId);
  const canAnswer = remoteShown ? remoteShown.providerId !== null && remoteShown.model !== '' : ready;
  const { stats, resume } = report;

  return (
    <div className="app">
      <header className="top">
        <strong>KVChat</strong>
        <nav className="views" role="tablist" aria-label="Views">
          <button role="tab" data-testid="view-chat" aria-selected={view === 'chat'} onClick={() => setView('chat')}>
            Chat
          </button>
          <button role="tab" data-testid="view-discover" aria-selected={view === 'discover'} onClick={() => setView('discover')}>
            Discover
            {discover.downloads.some((d) => d.state === 'running') ? ' ↓' : ''}
          </button>
        </nav>
        <span data-testid="model-status" data-phase={modelState.phase} className={`model-status ${modelState.phase}`}>
          {modelStatusText(modelState, model?.name)}
        </span>
      </header>
      {error && (
        <div className="banner error" role="alert" data-testid="error">
          {error} <button onClick={() => setError(null)}>×</button>
        </div>
      )}
      <Sidebar
        conversations={chats.list}
        activeId={activeId}
        onOpen={(id) => void chats.open(id).catch(fail)}
        onNew={chats.newChat}
        onRename={chats.rename}
        onDelete={chats.remove}
      />
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
      <main className="chat" data-testid="chat" data-answers={answer.answered} hidden={view !== 'chat'}>
        <div className="messages" data-testid="messages">
          {shown.length === 0 && !stream && <p className="empty muted">Type a message to start{model ? ` with ${model.name}` : ''}.</p>}
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
              message={{ id: -1, role: 'assistant', content: stream.text, status: 'incomplete', siblingIds: [], stats: {} }}
              streaming
              busy
              onSelectSibling={() => {}}
              onRegenerate={() => {}}
              onEdit={() => {}}
            />
          )}
        </div>
        {activeId === null && <NewChatTarget target={remote.target} providers={remote.providers} models={remote.models} onChange={remote.setTarget} />}
        <Composer disabled={!canAnswer} busy={busy} onSend={(text) => void answer.send(text).catch(fail)} onStop={answer.stop} />
      </main>
      <div className="side-panels" hidden={view !== 'chat'}>
        <SettingsPanel
          systemPrompt={chats.active?.systemPrompt ?? chats.draft.systemPrompt}
          settings={chats.active?.settings ?? chats.draft.settings}
          onChange={chats.changeSettings}
        />
        <ModelManager
          models={models.list}
          selectedId={models.selectedId}
          locked={busy}
          onSelect={(id) => {
            models.select(id);
            chats.keepModel(id);
          }}
          onChanged={(id) => void models.refresh(id).catch(fail)}
        />
        <RemoteServers
          providers={remote.providers}
          models={remote.models}
          onAdd={remote.add}
          onRemove={remote.remove}
          onRefreshModels={remote.refreshModels}
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
