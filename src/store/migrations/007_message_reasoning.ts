// An answer's reasoning (a Qwen3 `<think>` block, gpt-oss's analysis channel), kept beside its content: the chat
// shows it as a collapsible part of the answer, and later turns give it to the template, which decides what the
// model sees of it. '' for every message written before (and for models that do not reason).
import type { Migration } from './types';

export const messageReasoning: Migration = {
  version: 7,
  name: 'message reasoning',
  up(db) {
    db.exec(`ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT '';`);
  },
};
