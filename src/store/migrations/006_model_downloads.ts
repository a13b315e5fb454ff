// The model download queue: it survives a crash or a restart, and main picks it up at start. A finished download
// keeps its row (the model it became); a cancelled one loses it.
import type { Migration } from './types';

export const modelDownloads: Migration = {
  version: 6,
  name: 'model downloads',
  up(db) {
    db.exec(`
      CREATE TABLE model_downloads (
        id INTEGER PRIMARY KEY,
        endpoint TEXT NOT NULL,             -- the Hub or mirror it came from, so a resume goes to the same place
        repo TEXT NOT NULL,                 -- owner/name
        revision TEXT NOT NULL,
        file TEXT NOT NULL,                 -- path inside the repository
        dest_path TEXT NOT NULL,            -- the final file; bytes go to dest_path || '.part' first
        size INTEGER NOT NULL,              -- bytes
        sha256 TEXT NOT NULL,               -- the LFS oid the finished file must match
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'paused', 'failed', 'done')),
        bytes_done INTEGER NOT NULL DEFAULT 0,
        error TEXT,                         -- why it failed, for the user
        model_id TEXT,                      -- the library model it became (state 'done')
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX model_downloads_by_state ON model_downloads(state, id);
    `);
  },
};
