// Per-chat system prompt and sampling settings. Before the first message they are the new chat's draft.
import type { GenerationSettings } from '../../../shared/api';

export interface SettingsPanelProps {
  readonly systemPrompt: string;
  readonly settings: GenerationSettings;
  readonly onChange: (change: { systemPrompt?: string; settings?: Partial<GenerationSettings> }) => void;
}

const FIELDS: readonly { key: Exclude<keyof GenerationSettings, 'seed'>; label: string; min: number; max: number; step: number }[] = [
  { key: 'temperature', label: 'Temperature', min: 0, max: 5, step: 0.05 },
  { key: 'topP', label: 'Top-p', min: 0.01, max: 1, step: 0.01 },
  { key: 'topK', label: 'Top-k', min: 0, max: 1000, step: 1 },
  { key: 'minP', label: 'Min-p', min: 0, max: 1, step: 0.01 },
  { key: 'repeatPenalty', label: 'Repeat penalty', min: 0.5, max: 3, step: 0.05 },
  { key: 'maxTokens', label: 'Max tokens', min: 1, max: 1_000_000, step: 1 },
];

export function SettingsPanel({ systemPrompt, settings, onChange }: SettingsPanelProps) {
  return (
    <aside className="settings" data-testid="settings">
      <h3>Chat settings</h3>
      <label>
        System prompt
        <textarea data-testid="system-prompt" value={systemPrompt} onChange={(e) => onChange({ systemPrompt: e.target.value })} rows={3} />
      </label>
      {FIELDS.map((f) => (
        <label key={f.key}>
          {f.label}
          <input
            data-testid={`setting-${f.key}`}
            type="number"
            min={f.min}
            max={f.max}
            step={f.step}
            value={settings[f.key]}
            onChange={(e) => {
              const n = Number(e.target.value);
              if (e.target.value !== '' && Number.isFinite(n) && n >= f.min && n <= f.max) onChange({ settings: { [f.key]: n } });
            }}
          />
        </label>
      ))}
      <label>
        Seed (empty: random)
        <input
          data-testid="setting-seed"
          type="number"
          min={0}
          step={1}
          value={settings.seed ?? ''}
          onChange={(e) => {
            const n = Number(e.target.value);
            if (e.target.value === '') onChange({ settings: { seed: null } });
            else if (Number.isInteger(n) && n >= 0 && n < 2 ** 32) onChange({ settings: { seed: n } });
          }}
        />
      </label>
    </aside>
  );
}
