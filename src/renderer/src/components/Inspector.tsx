// The right-hand inspector of the chat: tabs for the chat's settings (with presets) and the full KV cache picture.
// Collapsible; closed by default in narrow windows (the app decides, see App.tsx).
import type { GenerationSettings } from '../../../shared/api';
import type { KvPicture } from '../engine/protocol';
import type { SettingsChange } from '../hooks/useConversations';
import { ConversationTransfer } from './ConversationTransfer';
import { Icon } from './icons';
import { KvPanel } from './KvPanel';
import { SettingsPanel } from './SettingsPanel';
import { SettingsPresets } from './SettingsPresets';

export type InspectorTab = 'settings' | 'kv';

export interface InspectorProps {
  readonly open: boolean;
  readonly tab: InspectorTab;
  readonly onTab: (tab: InspectorTab) => void;
  readonly onClose: () => void;
  readonly systemPrompt: string;
  readonly settings: GenerationSettings;
  readonly onChange: (change: SettingsChange) => void;
  readonly kv: KvPicture | null;
  /** The open conversation (null: a new chat, only import is offered) and its title, for export. */
  readonly conversationId: number | null;
  readonly title: string;
  readonly onImported: (conversationId: number) => void;
}

const TABS: readonly { tab: InspectorTab; label: string }[] = [
  { tab: 'settings', label: 'Chat settings' },
  { tab: 'kv', label: 'KV cache' },
];

/** The tab pattern's keys: ← and → move to the other tab (and focus it), as only the selected tab is in the Tab order. */
function onTabKey(e: React.KeyboardEvent, p: InspectorProps): void {
  if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
  const i = TABS.findIndex((t) => t.tab === p.tab);
  const next = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length]!.tab;
  e.preventDefault();
  p.onTab(next);
  document.getElementById(`inspector-tab-${next}`)?.focus();
}

export function Inspector(p: InspectorProps) {
  return (
    <aside className="inspector" id="inspector" aria-label="Inspector" data-testid="inspector" hidden={!p.open}>
      <div className="inspector-head">
        <div role="tablist" aria-label="Inspector" className="tabs" onKeyDown={(e) => onTabKey(e, p)}>
          {TABS.map((t) => (
            <button
              key={t.tab}
              role="tab"
              id={`inspector-tab-${t.tab}`}
              aria-controls={`inspector-panel-${t.tab}`}
              aria-selected={p.tab === t.tab}
              tabIndex={p.tab === t.tab ? 0 : -1}
              data-testid={`inspector-tab-${t.tab}`}
              onClick={() => p.onTab(t.tab)}
            >
              {t.label}
            </button>
          ))}
        </div>
        <button className="icon-button" aria-label="Close the inspector" data-testid="inspector-close" onClick={p.onClose}>
          <Icon name="close" size={16} />
        </button>
      </div>
      <div role="tabpanel" id="inspector-panel-settings" aria-labelledby="inspector-tab-settings" className="tab-panel" hidden={p.tab !== 'settings'}>
        <SettingsPresets systemPrompt={p.systemPrompt} settings={p.settings} onChange={p.onChange} />
        <SettingsPanel systemPrompt={p.systemPrompt} settings={p.settings} onChange={p.onChange} />
        <ConversationTransfer conversationId={p.conversationId} title={p.title} onImported={p.onImported} />
      </div>
      <div role="tabpanel" id="inspector-panel-kv" aria-labelledby="inspector-tab-kv" className="tab-panel" hidden={p.tab !== 'kv'}>
        <KvPanel picture={p.kv} />
      </div>
    </aside>
  );
}
