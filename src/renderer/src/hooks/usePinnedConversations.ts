// Pinned conversations: kept in the store with each conversation (its `pinned` column), so a pin survives a new
// browser profile and shows in every window. Pins an older version kept in this window's localStorage are written
// once through the API on the first start after the update, then the key is removed.
import { useCallback, useEffect, useMemo } from 'react';
import type { Conversation } from '../../../shared/api';
import { api, value } from '../api';

/** Where versions before the store's column kept pins: a JSON array of conversation ids. */
const LEGACY_PINNED_KEY = 'kvchat.pinnedConversations';

function legacyPins(): number[] {
  try {
    const ids: unknown = JSON.parse(localStorage.getItem(LEGACY_PINNED_KEY) ?? '[]');
    return Array.isArray(ids) ? ids.filter((x): x is number => Number.isInteger(x) && x > 0) : [];
  } catch {
    return []; // a damaged entry: nothing to carry over
  }
}

/** Writes the old localStorage pins to the store (a deleted conversation's pin is dropped), then removes the key. */
async function moveLegacyPins(): Promise<boolean> {
  if (localStorage.getItem(LEGACY_PINNED_KEY) === null) return false;
  for (const id of legacyPins()) {
    const r = await api.setConversationPinned({ id, pinned: true });
    if (!r.ok && r.error.code !== 'conversation-not-found') throw new Error(r.error.message);
  }
  localStorage.removeItem(LEGACY_PINNED_KEY);
  return true;
}

export interface PinnedConversations {
  readonly pinned: ReadonlySet<number>;
  toggle(id: number): void;
}

/** `conversations` as last listed; `refresh` lists them again after a pin changes. */
export function usePinnedConversations(conversations: readonly Conversation[], refresh: () => Promise<void>, fail: (e: unknown) => void): PinnedConversations {
  const pinned = useMemo(() => new Set(conversations.filter((c) => c.pinned).map((c) => c.id)), [conversations]);
  useEffect(() => {
    moveLegacyPins()
      .then((moved) => (moved ? refresh() : undefined))
      .catch(fail);
  }, [refresh, fail]);
  const toggle = useCallback(
    (id: number) => {
      const c = conversations.find((x) => x.id === id);
      void value(api.setConversationPinned({ id, pinned: !(c?.pinned ?? false) }))
        .then(refresh)
        .catch(fail);
    },
    [conversations, refresh, fail],
  );
  return { pinned, toggle };
}
