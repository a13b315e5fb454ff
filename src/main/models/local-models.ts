// GGUF files other apps already downloaded (LM Studio, Ollama, the Hugging Face cache, llama.cpp's cache), found
// so the user can register them in place instead of copying gigabytes. Only each file's GGUF header is read; the
// walk follows no symlink into a folder it has seen (no loops) and stays within a few levels of each app's folder.
import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import type { LocalModelCandidate, LocalModelProblem, LocalModelSource, ModelInfo } from '../../shared/api';
import { LIMITS } from '../../shared/api-schemas';
import { openGgufFile } from '../../node/file-source';
import { fingerprintModelAt, modelFilesOf, splitFingerprint, splitModelFiles } from '../../node/model-fingerprint';
import { GgufError } from '../../gpu/gguf/errors';
import { checkGpuType } from '../../gpu/kernels/weights';
import { expectedTensorShapes, readModelConfig } from '../../gpu/model/config';
import { quantizationOf } from './gguf-info';
import type { RecordedFileStat } from './library';
import { statModelFiles } from './model-files';

/** Whose home folder to look in, on which OS, with which environment (OLLAMA_MODELS, HF_HOME, ...). */
export interface LocalModelsPlace {
  readonly home: string;
  readonly platform: NodeJS.Platform;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface FindLocalModelsOptions {
  /** The library's models: a candidate with the same path, or the same size and bytes, is marked registered. */
  readonly registered?: readonly ModelInfo[];
  /** ModelLibrary.recordedFileStats: a registered model's file still of that size and mtime is not read again. */
  readonly recorded?: ReadonlyMap<string, RecordedFileStat>;
  /** Files left out unread (a linked folder's files the user deleted from the library); absolute paths. */
  readonly leaveOut?: (path: string) => boolean;
}

/** A GGUF file as found on disk, before its header is read. */
interface FoundFile {
  readonly path: string;
  readonly source: LocalModelSource;
  readonly name: string;
  /** Bytes of all parts (those present). */
  readonly size: number;
  readonly parts: number;
  /** The first part of a split model that is not beside the first part, if any. */
  readonly missingPart?: string;
  /**
   * The library's fingerprint of the model when the app's own names give it (Ollama and Hugging Face blobs are named
   * by their SHA-256; a split model's by its parts'), so it need not be hashed.
   */
  readonly fingerprint?: string;
}

/** Folders below an app's model folder the walk descends at most (LM Studio: publisher/repo/file). */
const MAX_DEPTH = 4;
/** Files listed at most in one folder tree: a cache of thousands of files is not a model folder. */
const MAX_FILES_PER_ROOT = 2000;
/** Folders walked at most under one app's folder (a home folder linked in by mistake is not walked whole). */
const MAX_FOLDERS_PER_ROOT = 5000;
/** A manifest is a few hundred bytes of JSON; anything much larger is not one. */
const MAX_MANIFEST_BYTES = 1 << 20;
const SPLIT_PART = /-(\d{5})-of-(\d{5})\.gguf$/i;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const isGgufName = (name: string): boolean => extname(name).toLowerCase() === '.gguf';
/** Vision projectors (LLaVA-style `mmproj-*.gguf`) ride along with models but are not models. */
const isProjector = (name: string): boolean => /^mmproj/i.test(name) || /[-_.]mmproj[-_.]/i.test(name);
const stem = (path: string): string => basename(path, extname(path));
const clip = (name: string): string => (name.length > LIMITS.modelName ? name.slice(0, LIMITS.modelName - 1) + '…' : name);

// ---- Where each app keeps its models ----

const cacheHome = (p: LocalModelsPlace): string => p.env.XDG_CACHE_HOME || join(p.home, '.cache');

export function lmStudioFolders(p: LocalModelsPlace): string[] {
  return [join(p.home, '.lmstudio', 'models'), join(p.home, '.cache', 'lm-studio', 'models')];
}

export function ollamaFolder(p: LocalModelsPlace): string {
  return p.env.OLLAMA_MODELS || join(p.home, '.ollama', 'models');
}

export function huggingFaceHubFolder(p: LocalModelsPlace): string {
  if (p.env.HF_HUB_CACHE) return p.env.HF_HUB_CACHE;
  if (p.env.HF_HOME) return join(p.env.HF_HOME, 'hub');
  return join(cacheHome(p), 'huggingface', 'hub');
}

export function llamaCppCacheFolder(p: LocalModelsPlace): string {
  if (p.env.LLAMA_CACHE) return p.env.LLAMA_CACHE;
  if (p.platform === 'darwin') return join(p.home, 'Library', 'Caches', 'llama.cpp');
  if (p.platform === 'win32') return join(p.env.LOCALAPPDATA || join(p.home, 'AppData', 'Local'), 'llama.cpp');
  return join(cacheHome(p), 'llama.cpp');
}

// ---- A bounded walk ----

async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return []; // absent, not a folder, or not ours to read: nothing there
  }
}

/** What a directory entry is, following a symlink once; null for a broken link or a link loop (ELOOP). */
async function kindOf(dir: string, e: Dirent): Promise<'file' | 'dir' | null> {
  if (e.isFile()) return 'file';
  if (e.isDirectory()) return 'dir';
  if (!e.isSymbolicLink()) return null;
  try {
    const s = await stat(join(dir, e.name));
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : null;
  } catch {
    return null;
  }
}

/** `.gguf` files under `root` (projectors left out), at most `maxDepth` folders down, each real folder once. */
async function ggufFilesUnder(root: string, maxDepth: number, seen = new Set<string>()): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let real: string;
    try {
      real = await realpath(dir);
    } catch {
      return;
    }
    // A symlink back up the tree, or a second name for a folder already walked.
    if (seen.has(real) || seen.size >= MAX_FOLDERS_PER_ROOT) return;
    seen.add(real);
    const entries = (await entriesOf(dir)).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (found.length >= MAX_FILES_PER_ROOT) return;
      const kind = await kindOf(dir, e);
      if (kind === 'dir' && depth < maxDepth) await walk(join(dir, e.name), depth + 1);
      else if (kind === 'file' && isGgufName(e.name) && !isProjector(e.name)) found.push(join(dir, e.name));
    }
  };
  await walk(root, 0);
  return found;
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/**
 * One entry per model: a single file, or the first part of a split model (`-00001-of-0000N.gguf`, its parts found
 * beside it by name, as the library and the engine find them) with the size of all its parts and the first part
 * that is missing, if any. Later parts, and split models whose first part is missing, are left out.
 */
async function asModels(paths: readonly string[], describe: (path: string) => Omit<FoundFile, 'path' | 'size' | 'parts'>): Promise<FoundFile[]> {
  const out: FoundFile[] = [];
  for (const path of paths) {
    const split = SPLIT_PART.exec(basename(path));
    if (split && Number(split[1]) !== 1) continue;
    const files = splitModelFiles(path) ?? [path];
    let size = await sizeOf(path);
    if (size === null) continue;
    let missingPart: string | undefined;
    for (const part of files.slice(1)) {
      const partSize = await sizeOf(part);
      if (partSize === null) missingPart ??= part;
      else size += partSize;
    }
    out.push({ path, size, parts: files.length, ...(missingPart ? { missingPart } : {}), ...describe(path) });
  }
  return out;
}

/** The name without the part number, for a split model. */
const modelStem = (path: string): string => stem(path.replace(SPLIT_PART, '.gguf'));

// ---- Each app's layout ----

/** `<models>/<publisher>/<repo>/*.gguf`, in the current and the older (~/.cache/lm-studio) folder. */
async function lmStudioModels(p: LocalModelsPlace): Promise<FoundFile[]> {
  const out: FoundFile[] = [];
  for (const root of lmStudioFolders(p)) {
    const paths = await ggufFilesUnder(root, MAX_DEPTH);
    out.push(...(await asModels(paths, (path) => ({ source: 'lm-studio', name: modelStem(path) }))));
  }
  return out;
}

interface OllamaManifest {
  readonly layers?: readonly { readonly mediaType?: unknown; readonly digest?: unknown }[];
}

/** The model layer's blob digest (hex), or null for a manifest that is not one or names no model layer. */
async function ollamaModelDigest(manifestPath: string): Promise<string | null> {
  const size = await sizeOf(manifestPath);
  if (size === null || size > MAX_MANIFEST_BYTES) return null;
  try {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as OllamaManifest;
    const layer = manifest.layers?.find((l) => l.mediaType === 'application/vnd.ollama.image.model');
    const digest = typeof layer?.digest === 'string' ? /^sha256:([0-9a-f]{64})$/.exec(layer.digest) : null;
    return digest ? digest[1]! : null;
  } catch {
    return null;
  }
}

/** How Ollama names a model: `llama3.2:3b` for its own library, `ns/model:tag` or `host/ns/model:tag` otherwise. */
function ollamaName(host: string, ns: string, model: string, tag: string): string {
  if (host === 'registry.ollama.ai') return ns === 'library' ? `${model}:${tag}` : `${ns}/${model}:${tag}`;
  return `${host}/${ns}/${model}:${tag}`;
}

/** `manifests/<host>/<namespace>/<model>/<tag>` (JSON) -> the model layer's `blobs/sha256-<hex>` (a GGUF). */
async function ollamaModels(p: LocalModelsPlace): Promise<FoundFile[]> {
  const root = ollamaFolder(p);
  const manifests = join(root, 'manifests');
  const out: FoundFile[] = [];
  const dirsIn = async (dir: string) => (await entriesOf(dir)).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const host of await dirsIn(manifests)) {
    for (const ns of await dirsIn(join(manifests, host))) {
      for (const model of await dirsIn(join(manifests, host, ns))) {
        const tags = (await entriesOf(join(manifests, host, ns, model))).filter((e) => e.isFile()).map((e) => e.name).sort();
        for (const tag of tags) {
          const digest = await ollamaModelDigest(join(manifests, host, ns, model, tag));
          if (!digest) continue;
          // `sha256-<hex>`; Ollama before 0.1.34 named blobs `sha256:<hex>` outside Windows.
          let blob = join(root, 'blobs', `sha256-${digest}`);
          let size = await sizeOf(blob);
          if (size === null && p.platform !== 'win32') {
            blob = join(root, 'blobs', `sha256:${digest}`);
            size = await sizeOf(blob);
          }
          if (size !== null) out.push({ path: blob, source: 'ollama', name: ollamaName(host, ns, model, tag), size, parts: 1, fingerprint: digest });
        }
      }
    }
  }
  return out;
}

/** `models--<org>--<repo>/snapshots/<revision>/**.gguf`, symlinks into `blobs/` (named by their SHA-256). */
async function huggingFaceModels(p: LocalModelsPlace): Promise<FoundFile[]> {
  const hub = huggingFaceHubFolder(p);
  const out: FoundFile[] = [];
  const repos = (await entriesOf(hub)).filter((e) => e.isDirectory() && e.name.startsWith('models--')).map((e) => e.name).sort();
  for (const repoDir of repos) {
    const repo = repoDir.slice('models--'.length).split('--').join('/');
    const snapshots = join(hub, repoDir, 'snapshots');
    const seen = new Set<string>();
    for (const rev of (await entriesOf(snapshots)).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
      const revDir = join(snapshots, rev);
      const paths = await ggufFilesUnder(revDir, MAX_DEPTH, seen);
      const blobs = new Map<string, string>();
      for (const path of paths) blobs.set(path, basename(await realpath(path).catch(() => path)));
      out.push(
        ...(await asModels(paths, (path) => {
          const file = relative(revDir, path).split(sep).join('/').replace(SPLIT_PART, '.gguf').replace(/\.gguf$/i, '');
          const hashes = (splitModelFiles(path) ?? [path]).map((f) => blobs.get(f) ?? '');
          const fingerprint = !hashes.every((h) => SHA256_HEX.test(h)) ? null : hashes.length === 1 ? hashes[0]! : splitFingerprint(hashes);
          return { source: 'hugging-face', name: `${repo}/${file}`, ...(fingerprint ? { fingerprint } : {}) };
        })),
      );
    }
  }
  return out;
}

/** llama.cpp's `-hf` downloads: `<cache>/<org>_<repo>_<file>.gguf`, flat. */
async function llamaCppModels(p: LocalModelsPlace): Promise<FoundFile[]> {
  return flatFolderModels(llamaCppCacheFolder(p));
}

/** The GGUF files directly in `dir`, named by their file stems (llama.cpp's cache, a linked folder). */
async function flatFolderModels(dir: string): Promise<FoundFile[]> {
  return asModels(await ggufFilesUnder(dir, 0), (path) => ({ source: 'llama.cpp', name: modelStem(path) }));
}

// ---- Reading the header ----

interface HeaderFacts {
  readonly architecture: string | null;
  readonly quantization: string | null;
  readonly problem: LocalModelProblem | null;
}

/** What the header says, and whether the engine can run the model: the same checks as the library's import. */
async function readHeaderFacts(path: string): Promise<HeaderFacts> {
  let opened;
  try {
    // The reader fetches only the headers' bytes (of every part of a split model), bounded by MAX_HEADER_BYTES.
    opened = await openGgufFile(path);
  } catch (e) {
    const message = e instanceof GgufError ? `Not a readable GGUF model: ${e.message}` : `Cannot open the file: ${(e as Error).message}`;
    return { architecture: null, quantization: null, problem: { kind: 'unreadable', message } };
  }
  const { file, close } = opened;
  try {
    const header = file.header;
    const arch = header.metadata.get('general.architecture');
    const facts = { architecture: typeof arch === 'string' ? arch : null, quantization: quantizationOf(header) };
    try {
      const config = readModelConfig(header);
      for (const name of expectedTensorShapes(config).keys()) checkGpuType(name, file.requireTensor(name).type);
      return { ...facts, problem: null };
    } catch (e) {
      if (!(e instanceof GgufError)) throw e;
      return { ...facts, problem: { kind: 'unsupported', message: e.message } };
    }
  } catch (e) {
    return { architecture: null, quantization: null, problem: { kind: 'unreadable', message: `Not a readable GGUF model: ${(e as Error).message}` } };
  } finally {
    await close();
  }
}

/** A split model with a part missing is not opened: the engine could not load it, and the message says which part. */
function missingPartFacts(f: FoundFile & { readonly missingPart: string }): HeaderFacts {
  const index = Number(SPLIT_PART.exec(basename(f.missingPart))![1]);
  const message = `part ${index} of ${f.parts}, ${basename(f.missingPart)}, is missing beside ${basename(f.path)}; the model can be added once every part is there`;
  return { architecture: null, quantization: null, problem: { kind: 'split', message } };
}

async function describeFile(f: FoundFile): Promise<Omit<LocalModelCandidate, 'registeredId'>> {
  const facts = f.missingPart !== undefined ? missingPartFacts({ ...f, missingPart: f.missingPart }) : await readHeaderFacts(f.path);
  return { path: f.path, size: f.size, source: f.source, name: clip(f.name), architecture: facts.architecture, quantization: facts.quantization, parts: f.parts, problem: facts.problem };
}

// ---- Already in the library? ----

const realOrResolved = (path: string): Promise<string> => realpath(path).catch(() => resolve(path));

/**
 * The id of the library model with this file: the same path (after symlinks), or the same size and fingerprint (of
 * every part, for a split model). The fingerprint comes from the app's own blob names when they give it; otherwise
 * the files are hashed, but only when their size equals a library model's (a copy the user imported earlier).
 */
async function registeredIdOf(f: FoundFile, models: readonly ModelInfo[], byRealPath: ReadonlyMap<string, string>): Promise<string | null> {
  const byPath = byRealPath.get(await realOrResolved(f.path));
  if (byPath) return byPath;
  if (f.missingPart !== undefined) return null;
  const sameSize = models.filter((m) => m.size === f.size);
  if (sameSize.length === 0) return null;
  const fingerprint = f.fingerprint ?? (await fingerprintModelAt(f.path).catch(() => null));
  return sameSize.find((m) => m.fingerprint === fingerprint)?.id ?? null;
}

// ---- The scan ----

const SOURCE_ORDER: readonly LocalModelSource[] = ['lm-studio', 'ollama', 'hugging-face', 'llama.cpp'];

/**
 * Every GGUF model the other apps keep in `place`, each file once (the first name found wins), sorted by app and
 * name. Never throws for a file: one that cannot be read is listed with an 'unreadable' problem.
 */
export async function findLocalModels(place: LocalModelsPlace, options: FindLocalModelsOptions = {}): Promise<LocalModelCandidate[]> {
  const found = (await Promise.all([lmStudioModels(place), ollamaModels(place), huggingFaceModels(place), llamaCppModels(place)])).flat();
  return describeFound(found, options);
}

/**
 * The GGUF models directly in `dir` (not below it; split models once, by part 1), described as findLocalModels
 * describes the other apps' files: a folder the user linked is walked by its caller, one folder at a time.
 */
export async function findModelsDirectlyIn(dir: string, options: FindLocalModelsOptions = {}): Promise<LocalModelCandidate[]> {
  return describeFound(await flatFolderModels(dir), options);
}

/**
 * A registered model's file as the library recorded it (total size and newest mtime of every part, as verifyModel
 * compares them), described from the library without reading it; null when it is not registered or changed since.
 */
async function unchangedRegistered(f: FoundFile, model: ModelInfo | undefined, recorded: FindLocalModelsOptions['recorded']): Promise<LocalModelCandidate | null> {
  const then = model && recorded?.get(model.id);
  if (!model || !then || f.missingPart !== undefined) return null;
  const now = await statModelFiles(modelFilesOf(f.path)).catch(() => null);
  if (now?.size !== then.size || now.mtimeMs !== then.mtimeMs) return null;
  const { architecture, quantization, id } = model;
  return { path: f.path, size: f.size, source: f.source, name: clip(f.name), architecture, quantization, parts: f.parts, problem: null, registeredId: id };
}

/** Each found file once (the first name wins), described and matched against the library, sorted by app and name. */
async function describeFound(found: readonly FoundFile[], options: FindLocalModelsOptions): Promise<LocalModelCandidate[]> {
  const models = options.registered ?? [];
  const byRealPath = new Map<string, string>();
  for (const m of models) byRealPath.set(await realOrResolved(m.path), m.id);
  const byId = new Map(models.map((m) => [m.id, m]));
  const seen = new Set<string>();
  const out: LocalModelCandidate[] = [];
  for (const f of found) {
    if (options.leaveOut?.(f.path)) continue;
    const real = await realOrResolved(f.path);
    if (seen.has(real)) continue;
    seen.add(real);
    const known = await unchangedRegistered(f, byId.get(byRealPath.get(real) ?? ''), options.recorded);
    out.push(known ?? { ...(await describeFile(f)), registeredId: await registeredIdOf(f, models, byRealPath) });
  }
  return out.sort((a, b) => SOURCE_ORDER.indexOf(a.source) - SOURCE_ORDER.indexOf(b.source) || a.name.localeCompare(b.name));
}
