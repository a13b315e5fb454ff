// The window's layout state: the open view, the chat inspector (open by default only where the window is wide
// enough for it beside the thread) and its tab, and the shortcut sheet.
import { useCallback, useState } from 'react';
import type { AppView } from '../components/AppNav';
import type { InspectorTab } from '../components/Inspector';

/** Narrower than this (px), the inspector starts closed and opens over the thread rather than beside it. */
export const INSPECTOR_BESIDE_MIN_WIDTH = 1200;

export function useLayout() {
  const [view, setView] = useState<AppView>('chat');
  const [inspectorOpen, setInspectorOpen] = useState(() => window.innerWidth >= INSPECTOR_BESIDE_MIN_WIDTH);
  const [inspectorTab, setInspectorTab] = useState<InspectorTab>('settings');
  const [sheetOpen, setSheetOpen] = useState(false);
  const showInspector = useCallback((tab: InspectorTab) => {
    setInspectorTab(tab);
    setInspectorOpen(true);
  }, []);
  const toggleInspector = useCallback(() => setInspectorOpen((o) => !o), []);
  return { view, setView, inspectorOpen, inspectorTab, showInspector, toggleInspector, sheetOpen, setSheetOpen };
}
