// A chat's reasoning settings, shown only where the loaded model's template has them: Qwen3's thinking switch
// (enable_thinking) and gpt-oss's reasoning effort (reasoning_effort: low, medium, high; its template's default
// is medium). Stored with the chat's settings; the engine passes them to the template. Written without JSX so
// tests under the Node tsconfig can render it (jsdom), as ThinkingView.
import { createElement as h, Fragment } from 'react';
import type { GenerationSettings } from '../../../shared/api';
import { useModelReasoning } from '../hooks/model-reasoning';

type ReasoningEffort = NonNullable<GenerationSettings['reasoningEffort']>;

const EFFORTS: readonly { value: ReasoningEffort; label: string }[] = [
  { value: 'low', label: 'Low (answers sooner)' },
  { value: 'medium', label: 'Medium' },
  { value: 'high', label: 'High (thinks longest)' },
];

export interface ReasoningSettingsProps {
  readonly settings: GenerationSettings;
  readonly onChange: (settings: Partial<GenerationSettings>) => void;
}

export function ReasoningSettings({ settings, onChange }: ReasoningSettingsProps) {
  const { thinkingSwitch, reasoningEffort } = useModelReasoning();
  return h(
    Fragment,
    null,
    thinkingSwitch &&
      h(
        'label',
        { className: 'checkbox' },
        h('input', { 'data-testid': 'setting-thinking', type: 'checkbox', checked: settings.thinking ?? true, onChange: (e: { target: HTMLInputElement }) => onChange({ thinking: e.target.checked }) }),
        'Think before answering',
      ),
    reasoningEffort &&
      h(
        'label',
        null,
        'Reasoning effort',
        h(
          'select',
          {
            'data-testid': 'setting-reasoningEffort',
            value: settings.reasoningEffort ?? 'medium',
            onChange: (e: { target: HTMLSelectElement }) => onChange({ reasoningEffort: e.target.value as ReasoningEffort }),
          },
          EFFORTS.map((o) => h('option', { key: o.value, value: o.value }, o.label)),
        ),
      ),
  );
}
