// Pinned conversations: a view preference of this window, kept in localStorage (the store has no pin column yet;
// a pin lost with the browser profile costs nothing but its place at the top).
import { useCallback, useState } from 'react';

const PINNED_KEY = 'kvchat.pinnedConversations';

function readPinned(): Set<number> {
  try {
    const ids: unknown = JSON.parse(localStorage.getItem(PINNED_KEY) ?? '[]');
    return new Set(Array.isArray(ids) ? ids.filter((x): x is number => Number.isInteger(x)) : []);
  } catch {
    return new Set();
  }
}

export function usePinnedConversations(): { readonly pinned: ReadonlySet<number>; toggle(id: number): void } {
  const [pinned, setPinned] = useState<ReadonlySet<number>>(readPinned);
  const toggle = useCallback((id: number) => {
    setPinned((old) => {
      const next = new Set(old);
      if (!next.delete(id)) next.add(id);
      localStorage.setItem(PINNED_KEY, JSON.stringify([...next]));
      return next;
    });
  }, []);
  return { pinned, toggle };
}
