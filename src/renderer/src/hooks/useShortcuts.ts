// Listens for the app's keyboard shortcuts (components/shortcuts.ts) on the window and runs their handlers.
import { useEffect, useEffectEvent } from 'react';
import { shortcutFor, type ShortcutAction } from '../components/shortcuts';

export type ShortcutHandlers = Partial<Record<ShortcutAction, () => void>>;

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

export function useShortcuts(handlers: ShortcutHandlers): void {
  const onKey = useEffectEvent((e: KeyboardEvent) => {
    if (e.isComposing) return;
    const action = shortcutFor({ key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, shiftKey: e.shiftKey, altKey: e.altKey, typing: isTyping(e.target) });
    const run = action ? handlers[action] : undefined;
    if (!run) return;
    e.preventDefault();
    run();
  });
  useEffect(() => {
    const listener = (e: KeyboardEvent) => onKey(e);
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);
}
