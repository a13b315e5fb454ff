// Pinned conversations, kept with the conversation (they were a per-window preference in localStorage, lost with the
// browser profile and invisible to the CLI). 0: not pinned; every conversation written before starts unpinned (the
// renderer writes the old localStorage pins once through the API).
import type { Migration } from './types';

export const conversationPins: Migration = {
  version: 9,
  name: 'conversation pins',
  up(db) {
    db.exec(`ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));`);
  },
};
