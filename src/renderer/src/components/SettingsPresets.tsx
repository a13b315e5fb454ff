// One-click presets above the chat settings: a system prompt to start from, and sampling that is precise, balanced
// (the app's defaults) or creative. A preset only fills the fields; every value stays editable below.
import { DEFAULT_GENERATION_SETTINGS, type GenerationSettings } from '../../../shared/api';
import type { SettingsChange } from '../hooks/useConversations';

type Sampling = Pick<GenerationSettings, 'temperature' | 'topP' | 'topK' | 'minP' | 'repeatPenalty'>;

export const SAMPLING_PRESETS: readonly { name: string; sampling: Sampling }[] = [
  { name: 'Precise', sampling: { temperature: 0.2, topP: 0.9, topK: 40, minP: 0.05, repeatPenalty: 1.1 } },
  {
    name: 'Balanced',
    sampling: {
      temperature: DEFAULT_GENERATION_SETTINGS.temperature,
      topP: DEFAULT_GENERATION_SETTINGS.topP,
      topK: DEFAULT_GENERATION_SETTINGS.topK,
      minP: DEFAULT_GENERATION_SETTINGS.minP,
      repeatPenalty: DEFAULT_GENERATION_SETTINGS.repeatPenalty,
    },
  },
  { name: 'Creative', sampling: { temperature: 1.1, topP: 0.98, topK: 100, minP: 0.02, repeatPenalty: 1.05 } },
];

export const PROMPT_PRESETS: readonly { name: string; prompt: string }[] = [
  { name: 'None', prompt: '' },
  { name: 'Assistant', prompt: 'You are a helpful, honest assistant. Answer clearly and say when you are not sure.' },
  { name: 'Concise', prompt: 'Answer in as few words as the question allows. No preamble.' },
  { name: 'Storyteller', prompt: 'You tell short, warm stories for children, in simple words.' },
];

const matches = (s: GenerationSettings, p: Sampling): boolean => (Object.keys(p) as (keyof Sampling)[]).every((k) => s[k] === p[k]);

export function SettingsPresets({ systemPrompt, settings, onChange }: { systemPrompt: string; settings: GenerationSettings; onChange: (c: SettingsChange) => void }) {
  return (
    <div className="presets" data-testid="settings-presets">
      <fieldset>
        <legend>System prompt preset</legend>
        <div className="chips">
          {PROMPT_PRESETS.map((p) => (
            <button key={p.name} type="button" className="chip" aria-pressed={systemPrompt === p.prompt} data-testid="prompt-preset" onClick={() => onChange({ systemPrompt: p.prompt })}>
              {p.name}
            </button>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Sampling preset</legend>
        <div className="chips">
          {SAMPLING_PRESETS.map((p) => (
            <button key={p.name} type="button" className="chip" aria-pressed={matches(settings, p.sampling)} data-testid="sampling-preset" onClick={() => onChange({ settings: p.sampling })}>
              {p.name}
            </button>
          ))}
        </div>
      </fieldset>
    </div>
  );
}
