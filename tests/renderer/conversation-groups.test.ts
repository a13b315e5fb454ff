import { describe, expect, it } from 'vitest';
import { groupConversations, neighbourConversation } from '../../src/renderer/src/components/conversation-groups';
import { DEFAULT_GENERATION_SETTINGS, type Conversation } from '../../src/shared/api';

const NOW = new Date(2026, 11, 6, 15, 0).getTime();
const HOUR = 3600_000;
const conv = (id: number, updatedAt: number): Conversation => ({ id, title: `c${id}`, modelId: null, systemPrompt: '', settings: DEFAULT_GENERATION_SETTINGS, pinned: false, createdAt: updatedAt, updatedAt });

describe('groupConversations', () => {
  const list = [
    conv(1, NOW - 1 * HOUR), // today
    conv(2, NOW - 20 * HOUR), // yesterday (15:00 - 20 h = 19:00 the day before)
    conv(3, NOW - 4 * 24 * HOUR),
    conv(4, NOW - 30 * 24 * HOUR),
    conv(5, NOW - 14 * HOUR), // today, 01:00
  ];

  it('sorts by last use into Today / Yesterday / Previous 7 days / Older, newest first', () => {
    const groups = groupConversations(list, new Set(), NOW);
    expect(groups.map((g) => [g.name, g.conversations.map((c) => c.id)])).toEqual([
      ['Today', [1, 5]],
      ['Yesterday', [2]],
      ['Previous 7 days', [3]],
      ['Older', [4]],
    ]);
  });

  it('puts pinned chats first whatever their age, and leaves empty groups out', () => {
    const groups = groupConversations(list, new Set([4, 2]), NOW);
    expect(groups.map((g) => [g.name, g.conversations.map((c) => c.id)])).toEqual([
      ['Pinned', [2, 4]],
      ['Today', [1, 5]],
      ['Previous 7 days', [3]],
    ]);
  });

  it('a chat used just before midnight is Yesterday, just after is Today', () => {
    const midnight = new Date(2026, 11, 6, 0, 0).getTime();
    const groups = groupConversations([conv(1, midnight - 1), conv(2, midnight)], new Set(), NOW);
    expect(groups.map((g) => g.name)).toEqual(['Today', 'Yesterday']);
  });
});

describe('neighbourConversation', () => {
  const groups = groupConversations([conv(1, NOW - HOUR), conv(2, NOW - 2 * HOUR), conv(3, NOW - 50 * HOUR)], new Set([3]), NOW);

  it('steps through the list as shown (pinned first), wrapping at the ends', () => {
    expect(neighbourConversation(groups, 3, 1)).toBe(1);
    expect(neighbourConversation(groups, 1, 1)).toBe(2);
    expect(neighbourConversation(groups, 2, 1)).toBe(3);
    expect(neighbourConversation(groups, 3, -1)).toBe(2);
  });

  it('with no chat open: the first going down, the last going up; none in an empty list', () => {
    expect(neighbourConversation(groups, null, 1)).toBe(3);
    expect(neighbourConversation(groups, null, -1)).toBe(2);
    expect(neighbourConversation([], null, 1)).toBeNull();
  });
});
