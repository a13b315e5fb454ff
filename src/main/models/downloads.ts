// Model downloads in the main process: a persisted queue (SQLite, picked up at start), at most two transfers at
// once, pause / resume / cancel, progress with bytes, speed and ETA for the UI, and the finished, verified file
// registered in the model library. The transfer itself (Range resume, retries, sha256) is src/node/hub/download.ts;
// the header check before it, src/node/hub/probe.ts (through planPull). A split model is one row per part, each
// verified against its own sha256; the model is registered by its first part once every part is in place.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Db } from '../../store/database';
import type { DownloadEvent, ModelDownload as DownloadInfo } from '../../shared/api';
import { ModelDownloadRepository, type DownloadRecord } from '../../store/model-downloads';
import { HubClient, hubEndpoint } from '../../node/hub/client';
import { downloadFile, PART_SUFFIX, type RetryPolicy } from '../../node/hub/download';
import { HubError } from '../../node/hub/errors';
import { planPull, type PullRequest } from '../../node/hub/plan';
import { splitPart, splitPartPath } from '../../node/hub/quant';
import { splitFingerprint } from '../../node/model-fingerprint';
import { RateMeter } from '../../node/hub/rate';
import type { ModelLibrary } from './library';

/** One download as the UI shows it, and its events: the IPC contract's types (src/shared/api.ts). */
export type { ModelDownload as DownloadInfo, DownloadEvent } from '../../shared/api';

export interface ModelDownloadsOptions {
  readonly db: Db;
  readonly library: ModelLibrary;
  /** Files go to `<downloadsDir>/<owner>/<name>/<file name>`. */
  readonly downloadsDir: string;
  /** The Hub endpoint setting; null or empty: HF_ENDPOINT, else huggingface.co. Read for each new download. */
  readonly endpointSetting?: () => string | null | undefined;
  /** A Hub access token (or where to read it, for each request: the user may change it), for the endpoint only. */
  readonly token?: string | (() => string | null | undefined);
  readonly fetch?: typeof fetch;
  /** Transfers at once (2). */
  readonly maxConcurrent?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly freeSpace?: (dir: string) => Promise<number>;
}

interface Running {
  readonly controller: AbortController;
  readonly meter: RateMeter;
  readonly done: Promise<void>;
  bytesDone: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  persistedAt: number;
}

type StopReason = 'pause' | 'cancel' | 'close';

/** bytes_done is written to SQLite at most this often while running (the part file is the truth on resume). */
const PERSIST_MS = 1000;

export class ModelDownloads {
  private readonly repo: ModelDownloadRepository;
  private readonly running = new Map<number, Running>();
  private readonly listeners = new Set<(e: DownloadEvent) => void>();
  private readonly maxConcurrent: number;
  /** Registrations under way, by first file path: two parts of one split model may finish together. */
  private readonly registering = new Map<string, Promise<string>>();
  private closed = false;

  constructor(private readonly o: ModelDownloadsOptions) {
    this.repo = new ModelDownloadRepository(o.db);
    this.maxConcurrent = o.maxConcurrent ?? 2;
    // Downloaded files are the app's: deleting their model deletes them, and their finished rows go with it.
    o.library.ownFolder(o.downloadsDir);
    this.unsubscribeLibrary = o.library.onModelDeleted((modelId) => this.forgetModel(modelId));
  }

  private readonly unsubscribeLibrary: () => void;

  private forgetModel(modelId: string): void {
    for (const r of this.repo.list()) {
      if (r.state !== 'done' || r.modelId !== modelId) continue;
      this.repo.remove(r.id);
      this.emit({ kind: 'removed', id: r.id });
    }
  }

  /** Picks up the persisted queue: what a crash or quit left running is queued again and resumes from its part. */
  start(): void {
    this.repo.requeueInterrupted();
    this.pump();
  }

  /**
   * Queues REPO[:QUANT] / a named file after reading its header over Range: a model the engine cannot run is
   * refused here (HubError 'unsupported-model', with the reason) and nothing is queued.
   */
  async add(request: PullRequest, signal?: AbortSignal): Promise<DownloadInfo> {
    const endpoint = hubEndpoint(this.o.endpointSetting?.());
    const plan = await planPull(this.client(endpoint), request, signal);
    const [owner, name] = plan.repo.split('/') as [string, string];
    const ids = plan.parts.map((part) => {
      const destPath = join(this.o.downloadsDir, owner, name, basename(part.path));
      const existing = this.repo.findActive(plan.repo, plan.revision, part.path, destPath);
      if (existing) {
        if (existing.state === 'paused' || existing.state === 'failed') this.resume(existing.id);
        return existing.id;
      }
      const record = this.repo.add({ endpoint, repo: plan.repo, revision: plan.revision, file: part.path, destPath, size: part.size, sha256: part.sha256 });
      this.emitState(record.id);
      return record.id;
    });
    this.pump();
    return this.info(this.repo.get(ids[0]!)!);
  }

  list(): DownloadInfo[] {
    return this.repo.list().map((r) => this.info(r));
  }

  get(id: number): DownloadInfo {
    return this.info(this.record(id));
  }

  /** Listens to progress and state changes; returns the unsubscribe function. */
  subscribe(listener: (e: DownloadEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops a running or queued download; its part file is kept for resume. */
  async pause(id: number): Promise<void> {
    const r = this.record(id);
    if (r.state === 'running') await this.stop(id, 'pause');
    else if (r.state === 'queued') {
      this.repo.setState(id, 'paused');
      this.emitState(id);
    }
  }

  /** Queues a paused or failed download again; it goes on from its part file. */
  resume(id: number): void {
    const r = this.record(id);
    if (r.state !== 'paused' && r.state !== 'failed') return;
    this.repo.setState(id, 'queued');
    this.emitState(id);
    this.pump();
  }

  /** Stops the download and deletes its part file and its row. A finished download is the library's to delete. */
  async cancel(id: number): Promise<void> {
    const r = this.record(id);
    if (r.state === 'done') throw new HubError('not-found', `Download ${id} is finished; delete the model from the library instead`);
    if (r.state === 'running') await this.stop(id, 'cancel');
    await rm(r.destPath + PART_SUFFIX, { force: true });
    this.repo.remove(id);
    this.emit({ kind: 'removed', id });
  }

  /** Stops every transfer (app quit): they stay queued and resume at the next start. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribeLibrary();
    await Promise.all([...this.running.keys()].map((id) => this.stop(id, 'close')));
  }

  /** Resolves once nothing is running or queued (tests, and a quit that wants to wait). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private client(endpoint: string): HubClient {
    const token = typeof this.o.token === 'function' ? this.o.token() : this.o.token;
    return new HubClient({ endpoint, ...(this.o.fetch ? { fetch: this.o.fetch } : {}), ...(token ? { token } : {}) });
  }

  private async stop(id: number, reason: StopReason): Promise<void> {
    const run = this.running.get(id);
    if (!run) return;
    run.controller.abort(reason);
    await run.done;
  }

  private pump(): void {
    if (this.closed) return;
    for (const r of this.repo.list()) {
      if (this.running.size >= this.maxConcurrent) return;
      if (r.state === 'queued' && !this.running.has(r.id)) this.run(r);
    }
  }

  private run(r: DownloadRecord): void {
    const controller = new AbortController();
    const run: Running = { controller, meter: new RateMeter(), done: Promise.resolve(), bytesDone: r.bytesDone, bytesPerSecond: 0, etaSeconds: null, persistedAt: 0 };
    this.running.set(r.id, run);
    this.repo.setState(r.id, 'running');
    this.emitState(r.id);
    const client = this.client(r.endpoint);
    (run as { done: Promise<void> }).done = (async () => {
      try {
        const result = await downloadFile({
          url: client.resolveUrl(r.repo, r.revision, r.file),
          dest: r.destPath,
          size: r.size,
          sha256: r.sha256,
          headers: (url) => client.authHeaders(url),
          signal: controller.signal,
          ...(this.o.fetch ? { fetch: this.o.fetch } : {}),
          ...(this.o.retry ? { retry: this.o.retry } : {}),
          ...(this.o.freeSpace ? { freeSpace: this.o.freeSpace } : {}),
          onProgress: (p) => this.progress(r.id, run, p.bytesDone, p.bytesTotal, p.phase === 'download'),
        });
        this.repo.setBytesDone(r.id, r.size);
        const model = await this.register(r, result.path);
        this.repo.setState(r.id, 'done', model ? { modelId: model } : {});
      } catch (e) {
        this.repo.setBytesDone(r.id, run.bytesDone);
        const reason = controller.signal.aborted ? (controller.signal.reason as StopReason) : null;
        if (reason === 'pause') this.repo.setState(r.id, 'paused');
        else if (reason === 'close') this.repo.setState(r.id, 'queued');
        else if (reason !== 'cancel') this.repo.setState(r.id, 'failed', { error: (e as Error).message });
      } finally {
        this.running.delete(r.id);
        if (this.repo.get(r.id)) this.emitState(r.id);
        this.pump();
      }
    })();
  }

  /**
   * Registers the verified file in the library (referenced where it is); returns the model id. A part of a split
   * model registers the model by its first part once every part is in place (null before that), and gives every
   * part's row the model id.
   */
  private async register(r: DownloadRecord, path: string): Promise<string | null> {
    const split = splitPart(r.file);
    if (!split) return this.registerFile(path, r.sha256, r.file);
    const files = Array.from({ length: split.count }, (_, i) => splitPartPath(split.base, i + 1, split.count));
    const paths = files.map((f) => join(dirname(path), basename(f)));
    if (!paths.every((p) => existsSync(p))) return null;
    const rows = this.repo.list();
    const partRows = files.map((f, i) => rows.find((x) => x.repo === r.repo && x.revision === r.revision && x.file === f && x.destPath === paths[i]));
    if (!partRows.every((x) => x !== undefined)) return null;
    // The library names a split model by a hash over its parts' hashes: the verified LFS oids give it unread.
    const fingerprint = splitFingerprint(partRows.map((x) => x.sha256));
    const model = await this.registerFile(paths[0]!, fingerprint, files[0]!.replace(/-00001-of-\d{5}\.gguf$/i, '.gguf'));
    for (const x of this.repo.list()) {
      if (x.id !== r.id && x.state === 'done' && x.repo === r.repo && x.revision === r.revision && files.includes(x.file) && paths.includes(x.destPath)) {
        this.repo.setState(x.id, 'done', { modelId: model });
        this.emitState(x.id);
      }
    }
    return model;
  }

  /** `fingerprint`: the library's name for the model (a single file's sha256; splitFingerprint for parts). */
  private registerFile(path: string, fingerprint: string, file: string): Promise<string> {
    const pending = this.registering.get(path);
    if (pending) return pending;
    const p = (async () => {
      const existing = this.o.library.findByFingerprint(fingerprint);
      if (existing?.available) return existing.id;
      const model = await this.o.library.importModel(path, { copy: false, name: basename(file).replace(/\.gguf$/i, '') });
      return model.id;
    })().finally(() => this.registering.delete(path));
    this.registering.set(path, p);
    return p;
  }

  private progress(id: number, run: Running, bytesDone: number, bytesTotal: number, transferring: boolean): void {
    run.bytesDone = bytesDone;
    if (transferring) {
      const rate = run.meter.sample(bytesDone, bytesTotal);
      run.bytesPerSecond = rate.bytesPerSecond;
      run.etaSeconds = rate.etaSeconds;
    }
    const t = performance.now();
    if (t - run.persistedAt >= PERSIST_MS) {
      run.persistedAt = t;
      this.repo.setBytesDone(id, bytesDone);
    }
    this.emit({ kind: 'progress', download: this.info(this.record(id)) });
  }

  private info(r: DownloadRecord): DownloadInfo {
    const run = this.running.get(r.id);
    return {
      id: r.id,
      repo: r.repo,
      revision: r.revision,
      file: r.file,
      path: r.destPath,
      state: r.state,
      bytesDone: run ? run.bytesDone : r.bytesDone,
      bytesTotal: r.size,
      bytesPerSecond: run ? run.bytesPerSecond : 0,
      etaSeconds: run ? run.etaSeconds : null,
      error: r.error,
      modelId: r.modelId,
    };
  }

  private record(id: number): DownloadRecord {
    const r = this.repo.get(id);
    if (!r) throw new HubError('not-found', `There is no download ${id}`);
    return r;
  }

  private emitState(id: number): void {
    this.emit({ kind: 'state', download: this.info(this.record(id)) });
  }

  private emit(e: DownloadEvent): void {
    for (const l of this.listeners) l(e);
  }
}
