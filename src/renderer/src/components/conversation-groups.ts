// The conversation list's sections: pinned chats first, then the rest by the day they were last used (Today,
// Yesterday, Previous 7 days, Older), newest first within each. Pure: tests/renderer/conversation-groups.test.ts.
import type { Conversation } from '../../../shared/api';

export type ConversationGroupName = 'Pinned' | 'Today' | 'Yesterday' | 'Previous 7 days' | 'Older';

export interface ConversationGroup {
  readonly name: ConversationGroupName;
  readonly conversations: readonly Conversation[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Midnight (local time) of the day `now` falls in. */
function startOfDay(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

function dateGroup(updatedAt: number, today: number): Exclude<ConversationGroupName, 'Pinned'> {
  if (updatedAt >= today) return 'Today';
  if (updatedAt >= today - DAY_MS) return 'Yesterday';
  if (updatedAt >= today - 7 * DAY_MS) return 'Previous 7 days';
  return 'Older';
}

const ORDER: readonly ConversationGroupName[] = ['Pinned', 'Today', 'Yesterday', 'Previous 7 days', 'Older'];

/** Non-empty groups in display order; `pinned` holds conversation ids. */
export function groupConversations(conversations: readonly Conversation[], pinned: ReadonlySet<number>, now: number): ConversationGroup[] {
  const today = startOfDay(now);
  const byName = new Map<ConversationGroupName, Conversation[]>();
  const sorted = [...conversations].sort((a, b) => b.updatedAt - a.updatedAt);
  for (const c of sorted) {
    const name = pinned.has(c.id) ? 'Pinned' : dateGroup(c.updatedAt, today);
    byName.set(name, [...(byName.get(name) ?? []), c]);
  }
  return ORDER.filter((n) => byName.has(n)).map((name) => ({ name, conversations: byName.get(name)! }));
}

/** The conversation `step` places away from `activeId` in the list as shown (wrapping); the first one if none is open. */
export function neighbourConversation(groups: readonly ConversationGroup[], activeId: number | null, step: 1 | -1): number | null {
  const ids = groups.flatMap((g) => g.conversations.map((c) => c.id));
  if (ids.length === 0) return null;
  const i = activeId === null ? -1 : ids.indexOf(activeId);
  if (i < 0) return step > 0 ? ids[0]! : ids.at(-1)!;
  return ids[(i + step + ids.length) % ids.length]!;
}
