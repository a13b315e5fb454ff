// A split model's files: "copy on import" copies every part into the models folder (all or none: a failure and a
// crash at any step leave no part behind and register nothing), a delete takes every part, and models found on disk
// in other apps' folders register once, by their first part, with every part there; a missing part is named.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelLibrary } from '../../src/main/models/library';
import { findLocalModels, type LocalModelsPlace } from '../../src/main/models/local-models';
import { splitFingerprint } from '../../src/node/model-fingerprint';
import type { LocalModelCandidate, ModelImportProgress } from '../../src/shared/api';
import { splitGgufBytes } from '../helpers/split-gguf';
import { sharedModel, tempDb, tempDir } from '../helpers/temp';
import { localModelsApi, ok } from './helpers/services';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const PARTS = splitGgufBytes(new Uint8Array(readFileSync(sharedModel('stories260K.gguf'))), 3);
const FINGERPRINT = splitFingerprint(PARTS.map(sha256));
const TOTAL = PARTS.reduce((n, p) => n + p.byteLength, 0);
const partName = (stem: string, i: number): string => `${stem}-0000${i}-of-00003.gguf`;

function writeParts(dir: string, stem = 'tiny-F32'): string[] {
  mkdirSync(dir, { recursive: true });
  return PARTS.map((p, i) => {
    const path = join(dir, partName(stem, i + 1));
    writeFileSync(path, p);
    return path;
  });
}

function setup() {
  const { db, dir } = tempDb();
  const modelsDir = join(dir, 'models');
  return { db, modelsDir, library: new ModelLibrary(db, modelsDir), originals: writeParts(join(dir, 'originals')) };
}

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe('copy on import of a split model', () => {
  it('copies every part under one new stem, names the model by all of them, serves each, and a delete takes them all', async () => {
    const { library, modelsDir, originals } = setup();
    const progress: ModelImportProgress[] = [];
    const m = await library.importModel(originals[0]!, { copy: true, onProgress: (p) => progress.push(p) });
    expect(m).toMatchObject({ fingerprint: FINGERPRINT, size: TOTAL, storedInPlace: false, deletesFile: true, name: 'tiny-F32-00001-of-00003' });
    const stem = basename(m.path).replace(/-00001-of-00003\.gguf$/, '');
    expect(m.path).toBe(join(modelsDir, partName(stem, 1)));
    expect(files(modelsDir)).toEqual([1, 2, 3].map((i) => partName(stem, i)));
    for (const [i, p] of PARTS.entries()) expect(sha256(readFileSync(join(modelsDir, partName(stem, i + 1))))).toBe(sha256(p));
    // Progress runs over all parts' bytes: the copy, then the check of the copy.
    expect(progress.filter((p) => p.phase === 'copy').at(-1)).toEqual({ phase: 'copy', bytesDone: TOTAL, bytesTotal: TOTAL });
    expect(progress.filter((p) => p.phase === 'verify').at(-1)).toEqual({ phase: 'verify', bytesDone: TOTAL, bytesTotal: TOTAL });

    for (let k = 1; k <= 3; k++) {
      expect(await library.servedFile(m.id, k)).toMatchObject({ path: join(modelsDir, partName(stem, k)), size: PARTS[k - 1]!.byteLength, fingerprint: FINGERPRINT });
    }
    // The originals are the user's and stay; a second copy of the same bytes is a duplicate.
    await expect(library.importModel(originals[0]!, { copy: true })).rejects.toMatchObject({ code: 'duplicate' });
    expect(files(modelsDir)).toHaveLength(3);
    await library.deleteModel(m.id, { confirm: true });
    expect(files(modelsDir)).toEqual([]);
    expect(originals.every((p) => existsSync(p))).toBe(true);
  });

  it('all or none: a copy stopped in its last part leaves no part behind and registers nothing', async () => {
    const { library, modelsDir, originals } = setup();
    const stop = new AbortController();
    const lastPartAt = PARTS[0]!.byteLength + PARTS[1]!.byteLength;
    const copying = library.importModel(originals[0]!, {
      copy: true,
      signal: stop.signal,
      onProgress: (p) => p.phase === 'copy' && p.bytesDone > lastPartAt && stop.abort(),
    });
    await expect(copying).rejects.toThrow();
    expect(stop.signal.aborted).toBe(true);
    expect(files(modelsDir)).toEqual([]);
    expect(library.listModels()).toEqual([]);
    // A part missing from the original: refused before anything is copied, naming the part.
    rmSync(originals[2]!);
    await expect(library.importModel(originals[0]!, { copy: true })).rejects.toThrow(/tiny-F32-00003-of-00003\.gguf/);
    expect(files(modelsDir)).toEqual([]);
  });

  it('after a crash: a copy cut short at any step is swept whole; a finished one without its row is registered by its first part', async () => {
    const { library, modelsDir } = setup();
    const uuid = (n: number): string => `0000000${n}-0000-4000-8000-000000000000`;
    const cut = writeParts(modelsDir, uuid(1)); // renamed last part first: part 1 still .partial
    renameSync(cut[0]!, `${cut[0]}.partial`);
    const early = writeParts(modelsDir, uuid(2)); // cut before any rename
    for (const p of early) renameSync(p, `${p}.partial`);
    const finished = writeParts(modelsDir, uuid(3));

    const sweep = library.sweepModelsFolder();
    expect(sweep.partialsRemoved).toHaveLength(6);
    expect(sweep.unregisteredCopies).toEqual([finished[0]]);
    expect(files(modelsDir)).toEqual(finished.map((p) => basename(p)));
    const outcome = await library.registerUnregisteredCopies(sweep.unregisteredCopies);
    expect(outcome.registered).toHaveLength(1);
    expect(outcome.registered[0]).toMatchObject({ path: finished[0], fingerprint: FINGERPRINT, size: TOTAL, storedInPlace: false });
  });

  it('after a crash in a delete: undone while the row is there (every part back), finished when it is not', async () => {
    const { library, modelsDir, originals } = setup();
    const m = await library.importModel(originals[0]!, { copy: true });
    const copies = files(modelsDir).map((n) => join(modelsDir, n));
    // Renamed away first part first; the crash came before part 3.
    for (const p of copies.slice(0, 2)) renameSync(p, `${p}.deleting`);
    let sweep = library.sweepModelsFolder();
    expect(sweep.deletesUndone).toEqual(copies.slice(0, 2));
    expect(files(modelsDir)).toEqual(copies.map((p) => basename(p)));
    expect((await library.verifyModel(m.id)).problem).toBeNull();

    // The same crash after the row went: the renamed parts and the orphaned last part are deleted.
    for (const p of copies.slice(0, 2)) renameSync(p, `${p}.deleting`);
    const other = new ModelLibrary(tempDb().db, modelsDir); // a library without the row
    sweep = other.sweepModelsFolder();
    expect(sweep.deletesFinished).toEqual(copies.slice(0, 2).map((p) => `${p}.deleting`));
    expect(sweep.partialsRemoved).toEqual([copies[2]]);
    expect(files(modelsDir)).toEqual([]);
  });
});


/** LM Studio holding the 3-part model whole and one with part 2 missing; the Hugging Face cache holding it as blobs. */
function homeWithSplitModels() {
  const home = tempDir();
  const lms = join(home, '.lmstudio', 'models', 'someone');
  const whole = writeParts(join(lms, 'tiny-GGUF'));
  const broken = writeParts(join(lms, 'broken-GGUF'), 'broken-F32');
  rmSync(broken[1]!);
  const hfRepo = join(home, '.cache', 'huggingface', 'hub', 'models--someone--tiny-GGUF');
  const snapshot = join(hfRepo, 'snapshots', 'abc123');
  mkdirSync(snapshot, { recursive: true });
  mkdirSync(join(hfRepo, 'blobs'));
  const links = PARTS.map((p, i) => {
    writeFileSync(join(hfRepo, 'blobs', sha256(p)), p);
    const link = join(snapshot, partName('tiny-F32', i + 1));
    symlinkSync(join('..', '..', 'blobs', sha256(p)), link);
    return link;
  });
  return { where: { home, platform: 'linux', env: {} } satisfies LocalModelsPlace, whole, broken, links };
}

describe('split models found on disk', () => {
  it('are listed once, by their first part with every part’s bytes; a missing part is named and cannot be added', async () => {
    const { where, whole, broken, links } = homeWithSplitModels();
    const found = await findLocalModels(where);
    expect(found.map((c) => [c.source, c.path, c.parts, c.size, c.problem?.kind ?? 'ok'])).toEqual([
      ['lm-studio', broken[0], 3, TOTAL - PARTS[1]!.byteLength, 'split'],
      ['lm-studio', whole[0], 3, TOTAL, 'ok'],
      ['hugging-face', links[0], 3, TOTAL, 'ok'],
    ]);
    expect(found[0]!.problem!.message).toBe('part 2 of 3, broken-F32-00002-of-00003.gguf, is missing beside broken-F32-00001-of-00003.gguf; the model can be added once every part is there');
    expect(found[1]).toMatchObject({ name: 'tiny-F32', architecture: 'llama', problem: null });
    expect(found[2]).toMatchObject({ name: 'someone/tiny-GGUF/tiny-F32', architecture: 'llama', problem: null });

    const { call, services } = localModelsApi(where);
    ok(await call('findLocalModels'));
    const refused = await call('addLocalModel', { path: broken[0] });
    expect(refused).toMatchObject({ ok: false, error: { code: 'invalid-model', message: expect.stringMatching(/part 2 of 3, broken-F32-00002-of-00003\.gguf, is missing/) } });
    expect(await call('addLocalModel', { path: broken[2] })).toMatchObject({ ok: false, error: { code: 'invalid-request' } }); // a later part is no model
    expect(services.library.listModels()).toEqual([]);
  });

  it('register in place by the first part, once: the other copy of the same bytes is marked registered', async () => {
    const { where, whole, links } = homeWithSplitModels();
    const { call, services } = localModelsApi(where);
    ok(await call('findLocalModels'));
    const model = ok(await call<{ id: string; path: string; fingerprint: string; storedInPlace: boolean; size: number }>('addLocalModel', { path: links[0] }));
    expect(model).toMatchObject({ path: links[0], fingerprint: FINGERPRINT, size: TOTAL, storedInPlace: true });

    // The Hugging Face copy by its path, the LM Studio one by its bytes (hashed: same size, same parts).
    const again = ok(await call<LocalModelCandidate[]>('findLocalModels'));
    expect(again.map((c) => [c.path, c.registeredId])).toEqual([
      [expect.stringContaining('broken-F32-00001'), null],
      [whole[0], model.id],
      [links[0], model.id],
    ]);
    expect(await call('addLocalModel', { path: whole[0] })).toMatchObject({ ok: false, error: { code: 'duplicate' } });
    expect(services.library.listModels()).toHaveLength(1);

    // Deleting it unregisters it; the blobs and links stay.
    ok(await call('deleteModel', { id: model.id, confirm: true }));
    expect(links.every((l) => existsSync(l))).toBe(true);
    // Registered the other way round, the Hugging Face copy is recognised by its blob names alone.
    ok(await call('findLocalModels'));
    const lms = ok(await call<{ id: string }>('addLocalModel', { path: whole[0] }));
    const third = ok(await call<LocalModelCandidate[]>('findLocalModels'));
    expect(third.find((c) => c.path === links[0])?.registeredId).toBe(lms.id);
  });
});
