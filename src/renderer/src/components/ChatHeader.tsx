// The chat's header: the model picker (or the chat's remote server), the compact KV gauge that opens the full KV
// picture, and the buttons for the inspector and the shortcut sheet.
import { Icon } from './icons';
import { KvGauge, type KvGaugeProps } from './KvGauge';
import { ModelPicker, type ModelPickerProps } from './ModelPicker';

export interface ChatHeaderProps {
  readonly picker: ModelPickerProps;
  readonly gauge: KvGaugeProps;
  readonly inspectorOpen: boolean;
  readonly onToggleInspector: () => void;
  readonly onShortcuts: () => void;
}

export function ChatHeader({ picker, gauge, inspectorOpen, onToggleInspector, onShortcuts }: ChatHeaderProps) {
  return (
    <header className="chat-header" data-testid="chat-header">
      <ModelPicker {...picker} />
      <div className="chat-header-tools">
        <KvGauge {...gauge} />
        <button className="icon-button" aria-label="Keyboard shortcuts" data-testid="shortcuts-button" onClick={onShortcuts}>
          <Icon name="keyboard" />
        </button>
        <button
          className="icon-button"
          aria-label={inspectorOpen ? 'Hide the inspector' : 'Show the inspector'}
          aria-expanded={inspectorOpen}
          aria-controls="inspector"
          data-testid="inspector-toggle"
          onClick={onToggleInspector}
        >
          <Icon name="inspector" />
        </button>
      </div>
    </header>
  );
}
