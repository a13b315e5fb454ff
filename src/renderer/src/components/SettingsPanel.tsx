// Per-chat system prompt and sampling settings. Before the first message they are the new chat's draft.
import { useState } from 'react';
import type { ContextOverflowPolicy, GenerationSettings } from '../../../shared/api';
import { ReasoningSettings } from './ReasoningSettings';
import { KernelTuningSetting } from './KernelTuningSetting';

/** A number box that lets the user type freely (empty, "0.") and reports only valid values. */
function NumberField(p: { testId: string; value: number | null; min: number; max: number; step: number; allowEmpty?: boolean; onValid: (n: number | null) => void }) {
  const [text, setText] = useState(p.value === null ? '' : String(p.value));
  // A new value from outside replaces the text, unless the text already says it ("0.50" for 0.5 stays as typed):
  // adjusted during render, React's pattern for state that follows a prop.
  const [shown, setShown] = useState(p.value);
  if (p.value !== shown) {
    setShown(p.value);
    setText((t) => (Number(t) === p.value && t !== '' ? t : p.value === null ? '' : String(p.value)));
  }
  const valid = (t: string): boolean => (t === '' ? !!p.allowEmpty : Number.isFinite(Number(t)) && Number(t) >= p.min && Number(t) <= p.max && (p.step < 1 || Number.isInteger(Number(t))));
  return (
    <input
      data-testid={p.testId}
      type="number"
      min={p.min}
      max={p.max}
      step={p.step}
      value={text}
      aria-invalid={!valid(text)}
      onChange={(e) => {
        setText(e.target.value);
        if (valid(e.target.value)) p.onValid(e.target.value === '' ? null : Number(e.target.value));
      }}
    />
  );
}

export interface SettingsPanelProps {
  readonly systemPrompt: string;
  readonly settings: GenerationSettings;
  readonly onChange: (change: { systemPrompt?: string; settings?: Partial<GenerationSettings> }) => void;
}

const FIELDS: readonly { key: Exclude<keyof GenerationSettings, 'seed' | 'contextPolicy' | 'thinking' | 'reasoningEffort'>; label: string; min: number; max: number; step: number }[] = [
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
          <NumberField testId={`setting-${f.key}`} value={settings[f.key]} min={f.min} max={f.max} step={f.step} onValid={(n) => n !== null && onChange({ settings: { [f.key]: n } })} />
        </label>
      ))}
      <label>
        Seed (empty: random)
        <NumberField testId="setting-seed" value={settings.seed} min={0} max={2 ** 32 - 1} step={1} allowEmpty onValid={(n) => onChange({ settings: { seed: n } })} />
      </label>
      <label>
        When the context is full
        <select data-testid="setting-contextPolicy" value={settings.contextPolicy} onChange={(e) => onChange({ settings: { contextPolicy: e.target.value as ContextOverflowPolicy } })}>
          <option value="truncate-middle">Drop the oldest turns, keep the system prompt</option>
          <option value="rolling-window">Rolling window (keep only the latest turns)</option>
          <option value="stop">Stop at the limit</option>
        </select>
      </label>
      <ReasoningSettings settings={settings} onChange={(s) => onChange({ settings: s })} />
      <KernelTuningSetting />
    </aside>
  );
}
