// The keyboard shortcuts: one table for the handler (hooks/useShortcuts.ts) and the sheet that lists them
// (ShortcutSheet.tsx). "Mod" is Ctrl, or ⌘ on a Mac. Keys that a browser or Electron already owns (Ctrl+N, Ctrl+R,
// Ctrl+Shift+I) are avoided.
export type ShortcutAction = 'new-chat' | 'search' | 'focus-composer' | 'stop' | 'regenerate' | 'previous-chat' | 'next-chat' | 'toggle-inspector' | 'shortcuts';

export interface Shortcut {
  readonly action: ShortcutAction;
  readonly keys: string;
  readonly description: string;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { action: 'new-chat', keys: 'Mod+Shift+O', description: 'New chat' },
  { action: 'search', keys: 'Mod+K', description: 'Search messages' },
  { action: 'focus-composer', keys: 'Shift+Esc', description: 'Focus the message box' },
  { action: 'stop', keys: 'Esc', description: 'Stop the answer being written' },
  { action: 'regenerate', keys: 'Mod+Shift+Enter', description: 'Regenerate the last answer' },
  { action: 'previous-chat', keys: 'Alt+↑', description: 'Previous conversation' },
  { action: 'next-chat', keys: 'Alt+↓', description: 'Next conversation' },
  { action: 'toggle-inspector', keys: 'Mod+Shift+L', description: 'Show or hide the inspector' },
  { action: 'shortcuts', keys: '? or Mod+/', description: 'This list of shortcuts' },
];

export interface KeyPress {
  readonly key: string;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
  readonly shiftKey: boolean;
  readonly altKey: boolean;
  /** The focus is in a text field (a bare "?" is then typed, not a shortcut). */
  readonly typing: boolean;
}

/** The action a key press asks for, if any (Esc's "stop" is the answer hook's own). */
export function shortcutFor(e: KeyPress): ShortcutAction | null {
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (mod && e.shiftKey && key === 'o') return 'new-chat';
  if (mod && !e.shiftKey && key === 'k') return 'search';
  if (e.shiftKey && !mod && key === 'Escape') return 'focus-composer';
  if (mod && e.shiftKey && key === 'Enter') return 'regenerate';
  if (e.altKey && !mod && key === 'ArrowUp') return 'previous-chat';
  if (e.altKey && !mod && key === 'ArrowDown') return 'next-chat';
  if (mod && e.shiftKey && key === 'l') return 'toggle-inspector';
  if (mod && key === '/') return 'shortcuts';
  if (key === '?' && !mod && !e.altKey && !e.typing) return 'shortcuts';
  return null;
}
