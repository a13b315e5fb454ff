// @vitest-environment jsdom
// The chat's reasoning settings appear only where the loaded model's template has them: the thinking switch for a
// template with enable_thinking (Qwen3), the reasoning effort for one that reads reasoning_effort (gpt-oss; the
// worker's 'loaded' event as modelReasoningOf reads it), neither for a model without; a choice is reported as a
// settings change.
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import { ReasoningSettings } from '../../../src/renderer/src/components/ReasoningSettings';
import { modelReasoningOf, setModelReasoning } from '../../../src/renderer/src/hooks/model-reasoning';
import { DEFAULT_GENERATION_SETTINGS, type GenerationSettings } from '../../../src/shared/api';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root | undefined;
let host: HTMLElement;
afterEach(() => {
  act(() => root?.unmount());
  host?.remove();
  root = undefined;
  setModelReasoning(modelReasoningOf({}));
});

function render(settings: GenerationSettings, changes: Partial<GenerationSettings>[] = []): void {
  host = document.body.appendChild(document.createElement('div'));
  root = createRoot(host);
  act(() => root!.render(createElement(ReasoningSettings, { settings, onChange: (s) => changes.push(s) })));
}

const effort = (): HTMLSelectElement | null => host.querySelector('[data-testid="setting-reasoningEffort"]');
const thinking = (): HTMLInputElement | null => host.querySelector('[data-testid="setting-thinking"]');

describe('ReasoningSettings', () => {
  it('a model without reasoning variables shows neither', () => {
    render(DEFAULT_GENERATION_SETTINGS);
    expect(effort()).toBeNull();
    expect(thinking()).toBeNull();
  });

  it("gpt-oss (harmony): the effort, medium until chosen; a choice is a settings change", () => {
    const changes: Partial<GenerationSettings>[] = [];
    render(DEFAULT_GENERATION_SETTINGS, changes);
    act(() => setModelReasoning(modelReasoningOf({ reasoningFormat: 'harmony', thinkingSwitch: false })));
    expect(thinking()).toBeNull();
    expect(effort()!.value).toBe('medium');
    expect([...effort()!.options].map((o) => o.value)).toEqual(['low', 'medium', 'high']);
    act(() => {
      effort()!.value = 'high';
      effort()!.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(changes).toEqual([{ reasoningEffort: 'high' }]);
  });

  it("a chat's stored effort is the one shown", () => {
    setModelReasoning(modelReasoningOf({ reasoningFormat: 'harmony' }));
    render({ ...DEFAULT_GENERATION_SETTINGS, reasoningEffort: 'low' });
    expect(effort()!.value).toBe('low');
  });

  it('Qwen3 (<think> with a switch): the thinking switch only', () => {
    setModelReasoning(modelReasoningOf({ reasoningFormat: 'think', thinkingSwitch: true }));
    render({ ...DEFAULT_GENERATION_SETTINGS, thinking: false });
    expect(effort()).toBeNull();
    expect(thinking()!.checked).toBe(false);
  });

  it('an event that says the template reads reasoning_effort is believed over the format', () => {
    expect(modelReasoningOf({ reasoningFormat: 'think', reasoningEffort: true }).reasoningEffort).toBe(true);
    expect(modelReasoningOf({ reasoningFormat: 'harmony', reasoningEffort: false }).reasoningEffort).toBe(false);
  });
});
