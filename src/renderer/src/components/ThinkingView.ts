// The "Thinking" part of an answer: the model's reasoning (a Qwen3 `<think>` block, gpt-oss's analysis channel)
// behind a disclosure button. Open while the answer streams, so the user sees that the model is working; closed
// once the answer is there (a stored answer shows closed), unless the user opened or closed it themselves.
// Written without JSX so tests under the Node tsconfig can render it (jsdom); its CSS (thinking.css) comes with
// Message.tsx.
import { createElement, useId, useState } from 'react';

export interface ThinkingViewProps {
  /** The reasoning so far. */
  readonly text: string;
  /** The answer is being written: open by default. */
  readonly streaming: boolean;
  /** The reasoning itself is still being written (no answer text yet). */
  readonly thinking: boolean;
}

export function ThinkingView({ text, streaming, thinking }: ThinkingViewProps) {
  const [chosen, setChosen] = useState<boolean | null>(null);
  const bodyId = useId();
  const open = chosen ?? streaming;
  const label = thinking ? 'Thinking…' : 'Thinking';
  return createElement(
    'section',
    { className: 'thinking', 'data-testid': 'thinking', 'data-open': open },
    createElement(
      'button',
      {
        type: 'button',
        className: 'thinking-toggle',
        'data-testid': 'thinking-toggle',
        'aria-expanded': open,
        'aria-controls': bodyId,
        onClick: () => setChosen(!open),
      },
      createElement('span', { className: 'thinking-caret', 'aria-hidden': true }, open ? '▾' : '▸'),
      ' ',
      label,
    ),
    createElement('div', { id: bodyId, className: 'thinking-text', 'data-testid': 'thinking-text', role: 'region', 'aria-label': 'Reasoning', hidden: !open }, text),
  );
}
