// @vitest-environment jsdom
// The "Thinking" part of an answer: open while the answer streams, closed once it is stored, and a disclosure
// button (aria-expanded, aria-controls) that opens and closes it; the streaming state's reasoning is kept apart
// from the answer's text.
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, describe, expect, it } from 'vitest';
import { ThinkingView, type ThinkingViewProps } from '../../src/renderer/src/components/ThinkingView';
import { streamReducer, type AnswerStream } from '../../src/renderer/src/hooks/answer-state';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root | undefined;
let host: HTMLElement;
afterEach(() => {
  act(() => root?.unmount());
  host?.remove();
  root = undefined;
});

function render(props: ThinkingViewProps): void {
  if (!root) {
    host = document.body.appendChild(document.createElement('div'));
    root = createRoot(host);
  }
  act(() => root!.render(createElement(ThinkingView, props)));
}

const toggle = (): HTMLButtonElement => host.querySelector('[data-testid="thinking-toggle"]')!;
const body = (): HTMLElement => host.querySelector('[data-testid="thinking-text"]')!;

describe('ThinkingView', () => {
  it('is open while the answer streams, and says it is still thinking until the answer starts', () => {
    render({ text: 'Adding two', streaming: true, thinking: true });
    expect(toggle().getAttribute('aria-expanded')).toBe('true');
    expect(toggle().textContent).toContain('Thinking…');
    expect(body().hidden).toBe(false);
    expect(body().textContent).toBe('Adding two');
    render({ text: 'Adding two and two.', streaming: true, thinking: false });
    expect(toggle().textContent).not.toContain('…');
  });

  it('closes when the answer ends; the button opens and closes it, tied to the text it controls', () => {
    render({ text: 'Adding two and two.', streaming: true, thinking: false });
    render({ text: 'Adding two and two.', streaming: false, thinking: false });
    expect(toggle().getAttribute('aria-expanded')).toBe('false');
    expect(body().hidden).toBe(true);
    expect(toggle().getAttribute('aria-controls')).toBe(body().id);
    act(() => toggle().click());
    expect(toggle().getAttribute('aria-expanded')).toBe('true');
    expect(body().hidden).toBe(false);
    act(() => toggle().click());
    expect(body().hidden).toBe(true);
  });

  it('a stored answer shows closed', () => {
    render({ text: 'old reasoning', streaming: false, thinking: false });
    expect(toggle().getAttribute('aria-expanded')).toBe('false');
    expect(body().textContent).toBe('old reasoning');
  });

  it('a user who closes it while streaming keeps it closed', () => {
    render({ text: 'a', streaming: true, thinking: true });
    act(() => toggle().click());
    render({ text: 'ab', streaming: true, thinking: true });
    expect(body().hidden).toBe(true);
  });
});

describe('streamReducer: reasoning', () => {
  const local: AnswerStream = { requestId: 3, remote: false, conversationId: 1, base: [], text: '', reasoning: '' };

  it('keeps reasoning and answer text apart, for the streaming request only', () => {
    let s = streamReducer(null, { type: 'start', stream: local });
    s = streamReducer(s, { type: 'reasoning', requestId: 3, text: 'Adding' });
    s = streamReducer(s, { type: 'reasoning', requestId: 4, text: ' late' });
    s = streamReducer(s, { type: 'reasoning', requestId: 3, text: ' two.' });
    s = streamReducer(s, { type: 'text', requestId: 3, text: '4' });
    expect(s).toMatchObject({ reasoning: 'Adding two.', text: '4' });
    expect(streamReducer(local, { type: 'reasoning', requestId: 9, text: 'x' })).toBe(local);
  });
});
