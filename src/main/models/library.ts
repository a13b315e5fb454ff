// The model library: GGUF files the user imported, checked with the engine's reader before anything is saved,
// named by a streaming SHA-256 fingerprint, referenced where they are or copied into the app's models folder (a split
// model's copy is every part, or nothing).
// A model whose file went missing or changed is marked unavailable and never served to the engine.
// Files the app owns (copies in the models folder, downloads in the folders registered with ownFolder) are deleted
// with their model; the user's own files (imports in place, other apps' models) are only unregistered.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, extname, relative, resolve, isAbsolute } from 'node:path';
import type { ModelDetails, ModelImportProgress, ModelInfo, ModelVerification } from '../../shared/api';
import { GgufError, type GgufErrorCode } from '../../gpu/gguf/errors';
import { now, writeTransaction, type Db } from '../../store/database';
import { KvBlockStore } from '../../store/kv-store';
import { ModelLibraryError } from './errors';
import { inspectModelFile, type ModelFacts } from './gguf-info';
import { copyModelVerified } from './model-copy';
import { statFile, statModelFiles, type ModelFilesStat } from './model-files';
import { fingerprintModel, modelFilesOf } from '../../node/model-fingerprint';
import { DELETING_SUFFIX, newCopyPaths, sweepModelsFolder, type ModelsFolderSweep } from './models-folder';

export interface ImportOptions {
  /** Copy into the models folder (true) or reference the file where it is (false). */
  readonly copy: boolean;
  /** Defaults to the file name without `.gguf`. */
  readonly name?: string;
  readonly onProgress?: (progress: ModelImportProgress) => void;
  readonly signal?: AbortSignal;
}

/** What became of the finished copies a crash left without a library row. */
export interface UnregisteredCopiesOutcome {
  /** Registered again (or re-linked to an unavailable model with the same bytes). */
  readonly registered: readonly ModelInfo[];
  /** Deleted: a copy of a model the library already has, or a damaged file (not GGUF, cut off). */
  readonly removed: readonly string[];
  /** Left as they were: they could not be read (the message says why). */
  readonly failed: readonly { readonly path: string; readonly message: string }[];
}

/** What the library recorded of a model's files when it registered or last verified them. */
export type RecordedFileStat = Pick<ModelFilesStat, 'size' | 'mtimeMs'>;

export interface ServedFile {
  /** The file, or the part of a split model, asked for. */
  readonly path: string;
  /** Bytes of that file. */
  readonly size: number;
  /** The model's (for a split model: of all its parts). */
  readonly fingerprint: string;
  /** 1-based; 1 of 1 for a single file. */
  readonly part: number;
  readonly partCount: number;
}

interface ModelRow {
  id: string;
  name: string;
  path: string;
  fingerprint: string;
  size: number;
  mtime_ms: number;
  architecture: string;
  parameter_count: number;
  quantization: string;
  context_length: number;
  metadata: string;
  stored_in_place: 0 | 1;
  added_at: number;
  available: 0 | 1;
}

function toModelInfo(r: ModelRow, deletesFile: boolean): ModelInfo {
  return {
    id: r.id,
    name: r.name,
    path: r.path,
    fingerprint: r.fingerprint,
    size: r.size,
    architecture: r.architecture,
    parameterCount: r.parameter_count,
    quantization: r.quantization,
    contextLength: r.context_length,
    details: JSON.parse(r.metadata) as ModelDetails,
    storedInPlace: r.stored_in_place === 1,
    deletesFile,
    addedAt: r.added_at,
    available: r.available === 1,
  };
}

/** GGUF reader findings that mean the bytes are broken, not merely unsupported by this version. */
const DAMAGED_GGUF: readonly GgufErrorCode[] = ['bad-magic', 'truncated', 'corrupt', 'out-of-bounds'];

const isInside = (dir: string, path: string): boolean => {
  const rel = relative(resolve(dir), resolve(path));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
};

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export class ModelLibrary {
  private readonly kv: KvBlockStore;
  /** Folders whose files, registered in place, are the app's own (downloads): deleted with their model. */
  private readonly ownedFolders = new Set<string>();
  private readonly deletedListeners = new Set<(id: string) => void>();

  constructor(
    readonly db: Db,
    /** Where copied models live (the app's user-data models folder). */
    readonly modelsDir: string,
  ) {
    this.kv = new KvBlockStore(db);
  }

  /**
   * Validates the file's header (the engine's GGUF reader), fingerprints it (and the copy, when copying) and
   * records it. Nothing is saved for a file the engine cannot run.
   */
  async importModel(path: string, options: ImportOptions): Promise<ModelInfo> {
    const source = resolve(path);
    await statFile(source);
    const files = modelFilesOf(source);
    const before = await statModelFiles(files);
    const facts = await this.inspect(source);
    if (facts.partCount !== files.length) {
      throw new ModelLibraryError('invalid-model', `${basename(source)} is named as one of ${files.length} parts but its header says ${facts.partCount}`);
    }
    const progress = (phase: ModelImportProgress['phase']) => (bytesDone: number, bytesTotal: number) =>
      options.onProgress?.({ phase, bytesDone, bytesTotal });

    const copy = options.copy;
    // A split model's copy keeps part names (under a new stem) that tie its parts together.
    const copies = copy ? newCopyPaths(this.modelsDir, files.length) : files;
    const stored = copies[0]!;
    let fingerprint: string;
    if (copy) {
      await mkdir(this.modelsDir, { recursive: true });
      fingerprint = await copyModelVerified(
        { sources: files, dests: copies, sizes: before.sizes, onCopy: progress('copy'), onVerify: progress('verify'), ...(options.signal ? { signal: options.signal } : {}) },
        this.modelsDir,
      );
    } else {
      fingerprint = await fingerprintModel(files, before.sizes, progress('fingerprint'), options.signal);
    }
    try {
      const after = await statModelFiles(files);
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
        throw new ModelLibraryError('file-changed', `${source} changed while it was being imported; try again once it is complete`);
      }
      const { size, mtimeMs } = copy ? await statModelFiles(copies) : after;
      const name = (options.name ?? basename(source, extname(source))).trim() || facts.details.displayName;
      return this.record({ name, path: stored, fingerprint, size, mtimeMs, inPlace: !copy, facts });
    } catch (e) {
      // The first part first: later parts without it are swept at the next start should this stop half-way.
      if (copy) for (const f of copies) await rm(f, { force: true });
      throw e;
    }
  }

  listModels(): ModelInfo[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY added_at DESC, name').all() as ModelRow[]).map((r) => this.info(r));
  }

  getModel(id: string): ModelInfo {
    return this.info(this.row(id));
  }

  findByFingerprint(fingerprint: string): ModelInfo | undefined {
    const r = this.db.prepare('SELECT * FROM models WHERE fingerprint = ?').get(fingerprint) as ModelRow | undefined;
    return r && this.info(r);
  }

  /**
   * The total size (bytes, every part) and newest mtime (whole ms) recorded for each model's files, by model id:
   * what verifyModel compares, so a scan that finds a model's files with both unchanged need not read them again.
   */
  recordedFileStats(): Map<string, RecordedFileStat> {
    const rows = this.db.prepare('SELECT id, size, mtime_ms FROM models').all() as Pick<ModelRow, 'id' | 'size' | 'mtime_ms'>[];
    return new Map(rows.map((r) => [r.id, { size: r.size, mtimeMs: r.mtime_ms }]));
  }

  renameModel(id: string, name: string): ModelInfo {
    const clean = name.replace(/\s+/g, ' ').trim();
    if (clean === '') throw new ModelLibraryError('invalid-name', 'A model name cannot be empty');
    return writeTransaction(this.db, () => {
      this.row(id);
      this.db.prepare('UPDATE models SET name = ? WHERE id = ?').run(clean, id);
      return this.getModel(id);
    });
  }

  /** Files registered in place under `dir` are the app's own (its downloads): deleteModel deletes them. */
  ownFolder(dir: string): void {
    this.ownedFolders.add(resolve(dir));
  }

  /** Called with the id of each deleted model (the download queue forgets its rows); returns the unsubscribe. */
  onModelDeleted(listener: (id: string) => void): () => void {
    this.deletedListeners.add(listener);
    return () => this.deletedListeners.delete(listener);
  }

  /**
   * Removes the model and its persisted KV blocks; a copy in the models folder or a download is deleted too (every
   * part of a split download), a file of the user's referenced in place never is. `confirm` must be true (the UI
   * asks the user first). Returns how many KV blocks went.
   */
  async deleteModel(id: string, options: { confirm: boolean }): Promise<{ kvBlocksDeleted: number }> {
    if (options.confirm !== true) {
      throw new ModelLibraryError('confirmation-required', 'Deleting a model needs the user’s confirmation');
    }
    const r = this.row(id);
    // Our copy is renamed first, so a crash before the row is gone is undone at start, and one after it is
    // finished: never a copy without a row that the start would take for an interrupted import.
    // A split copy's parts go first part first (models-folder.ts).
    const copy = r.stored_in_place === 0 && this.isOurCopy(r.path) ? modelFilesOf(r.path) : [];
    for (const f of copy) await renameIfPresent(f, f + DELETING_SUFFIX);
    let kvBlocksDeleted: number;
    try {
      kvBlocksDeleted = writeTransaction(this.db, () => {
        const n = this.kv.deleteModelBlocks(this.row(id).fingerprint);
        this.db.prepare('DELETE FROM models WHERE id = ?').run(id);
        return n;
      });
    } catch (e) {
      for (const f of copy) await renameIfPresent(f + DELETING_SUFFIX, f);
      throw e;
    }
    for (const f of copy) await rm(f + DELETING_SUFFIX, { force: true });
    // A download goes after its row: a crash in between leaves a verified file that a new download of the same
    // model finds in place (and reuses), never a row without its file.
    if (this.isDownload(r)) for (const f of modelFilesOf(r.path)) await rm(f, { force: true });
    for (const l of this.deletedListeners) l(id);
    return { kvBlocksDeleted };
  }

  /**
   * Cleans the models folder of what a crash cut short (unfinished copies, interrupted deletes; models-folder.ts).
   * Call once at start, before any import; it returns the finished copies no row names, for
   * registerUnregisteredCopies.
   */
  sweepModelsFolder(): ModelsFolderSweep {
    const registered = new Set((this.db.prepare('SELECT path FROM models').pluck().all() as string[]).map((p) => resolve(p)));
    return sweepModelsFolder(this.modelsDir, (path) => registered.has(resolve(path)));
  }

  /**
   * Registers finished copies that a crash left without their row: the user imported them, so they come back
   * (named from their header) rather than being deleted. A copy of a model the library already has, or a damaged
   * file, is deleted; only paths inside the models folder are ever touched.
   */
  async registerUnregisteredCopies(paths: readonly string[]): Promise<UnregisteredCopiesOutcome> {
    const registered: ModelInfo[] = [];
    const removed: string[] = [];
    const failed: { path: string; message: string }[] = [];
    for (const path of paths.filter((p) => this.isOurCopy(p))) {
      const files = modelFilesOf(path);
      try {
        const s = await statModelFiles(files);
        const facts = await this.inspect(path);
        const fingerprint = await fingerprintModel(files, s.sizes);
        registered.push(this.record({ name: facts.details.displayName, path, fingerprint, size: s.size, mtimeMs: s.mtimeMs, inPlace: false, facts }));
      } catch (e) {
        // Deleted only when the bytes are known: the same as a model's in the library, or a damaged file. One this
        // version cannot run (an architecture it does not know) or cannot read (EACCES, EIO) is kept.
        const damaged = e instanceof ModelLibraryError && e.cause instanceof GgufError && DAMAGED_GGUF.includes(e.cause.code);
        if (damaged || (e instanceof ModelLibraryError && e.code === 'duplicate')) {
          for (const f of files) await rm(f, { force: true });
          removed.push(path);
        } else {
          failed.push({ path, message: (e as Error).message });
        }
      }
    }
    return { registered, removed, failed };
  }

  /**
   * Checks the file is still the one imported: missing -> unavailable; size or mtime changed -> fingerprinted
   * again, unavailable unless the bytes are identical. A model whose file is back as it was becomes available.
   */
  async verifyModel(id: string, onProgress?: (p: ModelImportProgress) => void): Promise<ModelVerification> {
    const r = this.row(id);
    const files = modelFilesOf(r.path);
    let s: Awaited<ReturnType<typeof statModelFiles>>;
    try {
      s = await statModelFiles(files);
    } catch {
      return this.setAvailability(id, false, 'missing');
    }
    if (s.size === r.size && s.mtimeMs === r.mtime_ms) return this.setAvailability(id, true, null);
    const fingerprint = await fingerprintModel(files, s.sizes, (bytesDone, bytesTotal) => onProgress?.({ phase: 'verify', bytesDone, bytesTotal }));
    if (fingerprint !== r.fingerprint) return this.setAvailability(id, false, 'changed');
    this.db.prepare('UPDATE models SET mtime_ms = ? WHERE id = ?').run(s.mtimeMs, id);
    return this.setAvailability(id, true, null);
  }

  /**
   * The file to serve to the engine: the model's file, or part `part` (1-based) of a split model. A quick check
   * (size and mtime as recorded, over every part) runs on every request; a model that changed is marked
   * unavailable at once, so changed bytes never reach the engine.
   */
  async servedFile(id: string, part = 1): Promise<ServedFile> {
    const r = this.row(id);
    const files = modelFilesOf(r.path);
    if (!Number.isInteger(part) || part < 1 || part > files.length) {
      throw new ModelLibraryError('model-not-found', `Model "${r.name}" has ${files.length} file${files.length === 1 ? '' : 's'}, no part ${part}`);
    }
    const unavailable = () =>
      new ModelLibraryError('model-unavailable', `The file of model "${r.name}" (${r.path}) is missing or changed since import; verify it in the library`);
    if (r.available === 0) throw unavailable();
    let s: Awaited<ReturnType<typeof statModelFiles>>;
    try {
      s = await statModelFiles(files);
    } catch {
      this.setAvailability(id, false, 'missing');
      throw unavailable();
    }
    if (s.size !== r.size || s.mtimeMs !== r.mtime_ms) {
      this.setAvailability(id, false, 'changed');
      throw unavailable();
    }
    return { path: files[part - 1]!, size: s.sizes[part - 1]!, fingerprint: r.fingerprint, part, partCount: files.length };
  }

  private async inspect(path: string): Promise<ModelFacts> {
    try {
      return await inspectModelFile(path);
    } catch (e) {
      if (e instanceof GgufError) {
        throw new ModelLibraryError('invalid-model', `${basename(path)} cannot be used as a model: ${e.message}`, { cause: e });
      }
      throw new ModelLibraryError('invalid-model', `${basename(path)} could not be read: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Inserts the model, or re-links an unavailable model with the same bytes to its new file. */
  private record(m: { name: string; path: string; fingerprint: string; size: number; mtimeMs: number; inPlace: boolean; facts: ModelFacts }): ModelInfo {
    return writeTransaction(this.db, () => {
      const existing = this.db.prepare('SELECT * FROM models WHERE fingerprint = ?').get(m.fingerprint) as ModelRow | undefined;
      if (existing?.available === 1) {
        throw new ModelLibraryError('duplicate', `This model is already in the library as "${existing.name}"`);
      }
      if (existing) {
        this.db
          .prepare('UPDATE models SET path = ?, size = ?, mtime_ms = ?, stored_in_place = ?, available = 1 WHERE id = ?')
          .run(m.path, m.size, m.mtimeMs, m.inPlace ? 1 : 0, existing.id);
        return this.getModel(existing.id);
      }
      const id = randomUUID();
      this.db
        .prepare(
          `INSERT INTO models (id, name, path, fingerprint, size, mtime_ms, architecture, parameter_count, quantization,
                               context_length, metadata, stored_in_place, added_at, available)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
        )
        .run(
          id, m.name, m.path, m.fingerprint, m.size, m.mtimeMs, m.facts.architecture, m.facts.parameterCount,
          m.facts.quantization, m.facts.contextLength, JSON.stringify(m.facts.details), m.inPlace ? 1 : 0, now(),
        );
      return this.getModel(id);
    });
  }

  private setAvailability(id: string, available: boolean, problem: ModelVerification['problem']): ModelVerification {
    this.db.prepare('UPDATE models SET available = ? WHERE id = ?').run(available ? 1 : 0, id);
    return { model: this.getModel(id), problem };
  }

  private row(id: string): ModelRow {
    const r = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
    if (!r) throw new ModelLibraryError('model-not-found', `No model with id ${id} is in the library`);
    return r;
  }

  private isOurCopy(path: string): boolean {
    return isInside(this.modelsDir, path);
  }

  /** A file the app downloaded and registered in place (in an owned folder, or the models folder itself). */
  private isDownload(r: ModelRow): boolean {
    return r.stored_in_place === 1 && (this.isOurCopy(r.path) || [...this.ownedFolders].some((d) => isInside(d, r.path)));
  }

  private info(r: ModelRow): ModelInfo {
    return toModelInfo(r, (r.stored_in_place === 0 && this.isOurCopy(r.path)) || this.isDownload(r));
  }
}
