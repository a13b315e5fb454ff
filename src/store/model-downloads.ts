// The persisted download queue (migration 006): one row per requested file, its state and how far it got.
import type { DownloadState } from '../shared/api';
import { now, type Db } from './database';

// The states the UI shows are the ones stored.
export type { DownloadState };

export interface DownloadRecord {
  readonly id: number;
  readonly endpoint: string;
  readonly repo: string;
  readonly revision: string;
  readonly file: string;
  readonly destPath: string;
  /** Bytes. */
  readonly size: number;
  readonly sha256: string;
  readonly state: DownloadState;
  readonly bytesDone: number;
  readonly error: string | null;
  readonly modelId: string | null;
  readonly createdAt: number;
}

interface Row {
  id: number;
  endpoint: string;
  repo: string;
  revision: string;
  file: string;
  dest_path: string;
  size: number;
  sha256: string;
  state: DownloadState;
  bytes_done: number;
  error: string | null;
  model_id: string | null;
  created_at: number;
}

const toRecord = (r: Row): DownloadRecord => ({
  id: r.id, endpoint: r.endpoint, repo: r.repo, revision: r.revision, file: r.file, destPath: r.dest_path, size: r.size,
  sha256: r.sha256, state: r.state, bytesDone: r.bytes_done, error: r.error, modelId: r.model_id, createdAt: r.created_at,
});

export type NewDownload = Pick<DownloadRecord, 'endpoint' | 'repo' | 'revision' | 'file' | 'destPath' | 'size' | 'sha256'>;

export class ModelDownloadRepository {
  constructor(private readonly db: Db) {}

  add(d: NewDownload): DownloadRecord {
    const t = now();
    const { lastInsertRowid } = this.db
      .prepare(`INSERT INTO model_downloads (endpoint, repo, revision, file, dest_path, size, sha256, state, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)`)
      .run(d.endpoint, d.repo, d.revision, d.file, d.destPath, d.size, d.sha256, t, t);
    return this.get(Number(lastInsertRowid))!;
  }

  get(id: number): DownloadRecord | undefined {
    const r = this.db.prepare('SELECT * FROM model_downloads WHERE id = ?').get(id) as Row | undefined;
    return r && toRecord(r);
  }

  /** Oldest first. */
  list(): DownloadRecord[] {
    return (this.db.prepare('SELECT * FROM model_downloads ORDER BY id').all() as Row[]).map(toRecord);
  }

  /** An unfinished download of the same file to the same place, if any. */
  findActive(repo: string, revision: string, file: string, destPath: string): DownloadRecord | undefined {
    const r = this.db
      .prepare(`SELECT * FROM model_downloads WHERE repo = ? AND revision = ? AND file = ? AND dest_path = ? AND state != 'done' ORDER BY id LIMIT 1`)
      .get(repo, revision, file, destPath) as Row | undefined;
    return r && toRecord(r);
  }

  setState(id: number, state: DownloadState, extra: { error?: string | null; modelId?: string | null } = {}): void {
    this.db
      .prepare('UPDATE model_downloads SET state = ?, error = ?, model_id = COALESCE(?, model_id), updated_at = ? WHERE id = ?')
      .run(state, extra.error ?? null, extra.modelId ?? null, now(), id);
  }

  setBytesDone(id: number, bytesDone: number): void {
    this.db.prepare('UPDATE model_downloads SET bytes_done = ?, updated_at = ? WHERE id = ?').run(bytesDone, now(), id);
  }

  /** At start: what a crash left 'running' is queued again (its part file is still there). */
  requeueInterrupted(): number {
    return this.db.prepare(`UPDATE model_downloads SET state = 'queued', updated_at = ? WHERE state = 'running'`).run(now()).changes;
  }

  remove(id: number): void {
    this.db.prepare('DELETE FROM model_downloads WHERE id = ?').run(id);
  }
}
