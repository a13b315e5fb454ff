// The model library on the shared test models: import in place and by copy, metadata from the header,
// refusal of bad files before anything is saved, verify after the file moved or changed, rename, delete, and the
// models folder cleaned at start of what a crash left there.
import { testServices } from './helpers/services';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, openSync, writeSync, closeSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelImportProgress } from '../../src/shared/api';
import { GgufError } from '../../src/gpu/gguf/errors';
import { ModelLibraryError } from '../../src/main/models/errors';
import { ModelLibrary } from '../../src/main/models/library';
import { ConversationRepository } from '../../src/store/conversations';
import { KvBlockStore } from '../../src/store/kv-store';
import { copyOf, sha256, truncatedCopy, withArchitecture } from './helpers/model-files';
import { sharedModel, tempDb, tempDir } from '../helpers/temp';

function setup() {
  const { db, dir } = tempDb();
  const modelsDir = join(dir, 'models');
  const files = join(dir, 'files');
  mkdirSync(files);
  return { db, dir, files, modelsDir, library: new ModelLibrary(db, modelsDir) };
}

async function rejection(p: Promise<unknown>): Promise<ModelLibraryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelLibraryError);
    return e as ModelLibraryError;
  }
  throw new Error('expected a rejection');
}

describe('importModel', () => {
  it('references stories260K in place, with its metadata and fingerprint', async () => {
    const { library } = setup();
    const progress: ModelImportProgress[] = [];
    const path = sharedModel('stories260K.gguf');
    const m = await library.importModel(path, { copy: false, onProgress: (p) => progress.push(p) });
    const size = statSync(path).size;
    expect(m).toMatchObject({
      name: 'stories260K',
      path,
      size,
      fingerprint: sha256(path),
      architecture: 'llama',
      quantization: 'F32',
      contextLength: 512,
      parameterCount: 1171200 / 4,
      storedInPlace: true,
      available: true,
    });
    expect(m.details).toMatchObject({ nLayers: 5, dim: 64, nHeads: 8, nKvHeads: 4, headDim: 8, ffnDim: 172, vocabSize: 512, tiedEmbeddings: false });
    expect(progress.every((p) => p.phase === 'fingerprint' && p.bytesTotal === size)).toBe(true);
    expect(progress.at(-1)?.bytesDone).toBe(size);
    expect(library.listModels()).toEqual([m]);
  });

  it('copies TinyStories-656K-Q4_0 into the models folder; the copy has the same fingerprint', async () => {
    const { library, modelsDir } = setup();
    const source = sharedModel('TinyStories-656K-Q4_0.gguf');
    const phases = new Set<string>();
    const m = await library.importModel(source, { copy: true, onProgress: (p) => phases.add(p.phase) });
    expect(m).toMatchObject({ architecture: 'llama', quantization: 'Q4_0', contextLength: 512, storedInPlace: false, fingerprint: sha256(source) });
    expect(m.details).toMatchObject({ nLayers: 2, dim: 128, vocabSize: 2048, tiedEmbeddings: true, displayName: 'TinyStories-656K' });
    expect(m.path.startsWith(modelsDir)).toBe(true);
    expect(sha256(m.path)).toBe(m.fingerprint);
    expect([...phases]).toEqual(['copy', 'verify']);
    expect(readdirSync(modelsDir)).toEqual([`${m.path.slice(modelsDir.length + 1)}`]);
  });

  it('reads the quantization of the Q8_0 model from general.file_type', async () => {
    const { library } = setup();
    const m = await library.importModel(sharedModel('stories260K-Q8_0.gguf'), { copy: false, name: '  Tiny Q8 ' });
    expect(m).toMatchObject({ quantization: 'Q8_0', name: 'Tiny Q8' });
  });

  it('refuses the same model twice', async () => {
    const { library, files } = setup();
    const first = await library.importModel(sharedModel('stories260K.gguf'), { copy: false });
    const again = await rejection(library.importModel(copyOf('stories260K.gguf', files, 'renamed.gguf'), { copy: true }));
    expect(again.code).toBe('duplicate');
    expect(again.message).toBe('This model is already in the library as "stories260K"');
    expect(library.listModels()).toEqual([first]);
  });

  describe('refuses a bad file before saving anything', () => {
    async function refused(path: string, copy: boolean) {
      const { library, modelsDir, db } = setup();
      const err = await rejection(library.importModel(path, { copy }));
      expect(library.listModels()).toEqual([]);
      expect(existsSync(modelsDir) ? readdirSync(modelsDir) : []).toEqual([]);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      return err;
    }

    it('a file that is not GGUF', async () => {
      const { files } = setup();
      const path = join(files, 'notes.gguf');
      writeFileSync(path, 'just some text, definitely not a model\n'.repeat(100));
      const err = await refused(path, true);
      expect(err.code).toBe('invalid-model');
      expect(err.message).toBe('notes.gguf cannot be used as a model: not a GGUF file (the first four bytes are not "GGUF")');
      expect((err.cause as GgufError).code).toBe('bad-magic');
    });

    it('a GGUF whose tensor data was cut off (truncated download)', async () => {
      const { files } = setup();
      const err = await refused(truncatedCopy('stories260K.gguf', files, 600_000), true);
      expect((err.cause as GgufError).code).toBe('out-of-bounds');
      expect(err.message).toMatch(/truncated-600000-stories260K\.gguf cannot be used as a model: tensor .* past the end of the 600000-byte file/);
    });

    it('a GGUF cut off inside its header', async () => {
      const { files } = setup();
      const err = await refused(truncatedCopy('stories260K.gguf', files, 20), false);
      expect((err.cause as GgufError).code).toBe('truncated');
      expect(err.message).toMatch(/file ends at byte 20 inside the header/);
    });

    it('an unsupported architecture (a crafted "mamba" model)', async () => {
      const { files } = setup();
      const err = await refused(withArchitecture('stories260K.gguf', files, 'mamba'), true);
      expect((err.cause as GgufError).code).toBe('unknown-architecture');
      expect(err.message).toMatch(/mamba\.gguf cannot be used as a model: architecture "mamba" is not supported \(supported: llama, /);
    });

    it('a GGUF that is not a language model (the quant test vectors)', async () => {
      const err = await refused(sharedModel('quant-testvectors.gguf'), false);
      expect(err.message).toMatch(/architecture "testvectors" is not supported/);
    });

    it('a missing file or a folder', async () => {
      const { files } = setup();
      expect((await refused(join(files, 'nope.gguf'), false)).code).toBe('file-not-found');
      expect((await refused(files, true)).code).toBe('not-a-file');
    });
  });
});

describe('verifyModel', () => {
  it('marks a deleted file unavailable, and available again once it is back unchanged', async () => {
    const { library, files } = setup();
    const path = copyOf('stories260K.gguf', files);
    const m = await library.importModel(path, { copy: false });
    expect(await library.verifyModel(m.id)).toMatchObject({ problem: null, model: { available: true } });
    rmSync(path);
    expect(await library.verifyModel(m.id)).toMatchObject({ problem: 'missing', model: { available: false } });
    expect((await rejection(library.servedFile(m.id))).code).toBe('model-unavailable');
    copyOf('stories260K.gguf', files); // new mtime, same bytes: fingerprinted again
    expect(await library.verifyModel(m.id)).toMatchObject({ problem: null, model: { available: true } });
    expect((await library.servedFile(m.id)).size).toBe(m.size);
  });

  it('marks a modified file unavailable and never serves it', async () => {
    const { library, files } = setup();
    const path = copyOf('stories260K.gguf', files);
    const m = await library.importModel(path, { copy: false });
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([0x42]), 0, 1, 100_000);
    closeSync(fd);
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect((await rejection(library.servedFile(m.id))).message).toMatch(/missing or changed since import; verify it/);
    expect(library.getModel(m.id).available).toBe(false);
    expect(await library.verifyModel(m.id)).toMatchObject({ problem: 'changed', model: { available: false } });
  });

  it('a touched but identical file stays available', async () => {
    const { library, files } = setup();
    const path = copyOf('stories260K.gguf', files);
    const m = await library.importModel(path, { copy: false });
    utimesSync(path, new Date(), new Date(Date.now() + 60_000));
    expect((await library.verifyModel(m.id)).problem).toBeNull();
    expect((await library.servedFile(m.id)).path).toBe(path);
  });

  it('re-importing a moved model re-links it instead of adding a second one', async () => {
    const { library, files } = setup();
    const first = copyOf('stories260K.gguf', files);
    const m = await library.importModel(first, { copy: false });
    mkdirSync(join(files, 'moved'));
    const moved = join(files, 'moved', 'stories260K.gguf');
    copyFileSync(first, moved);
    rmSync(first);
    await library.verifyModel(m.id);
    const relinked = await library.importModel(moved, { copy: false });
    expect(relinked).toMatchObject({ id: m.id, path: moved, available: true });
    expect(library.listModels()).toHaveLength(1);
  });
});

describe('rename and delete', () => {
  it('renames; refuses an empty name or unknown id', async () => {
    const { library } = setup();
    const m = await library.importModel(sharedModel('stories260K.gguf'), { copy: false });
    expect(library.renameModel(m.id, '  Bedtime   stories ').name).toBe('Bedtime stories');
    expect(library.getModel(m.id).name).toBe('Bedtime stories');
    expect(() => library.renameModel(m.id, '   ')).toThrow(expect.objectContaining({ code: 'invalid-name' }));
    expect(() => library.renameModel('no-such-id', 'x')).toThrow(expect.objectContaining({ code: 'model-not-found' }));
  });

  it('requires confirmation, then removes the model, its KV blocks and its copy (not other models’ blocks)', async () => {
    const { db, library, modelsDir } = setup();
    const copied = await library.importModel(sharedModel('stories260K.gguf'), { copy: true });
    const other = await library.importModel(sharedModel('TinyStories-656K.gguf'), { copy: false });
    const conversations = new ConversationRepository(db);
    const kv = new KvBlockStore(db);
    const chat = conversations.createConversation({ modelId: copied.id });
    const block = (hash: string, modelFingerprint: string) => ({ hash, modelFingerprint, layout: {}, bytes: new Uint8Array(8) });
    kv.putBlocks([block('a', copied.fingerprint), block('b', copied.fingerprint), block('o', other.fingerprint)]);
    kv.setConversationBlocks(chat.id, ['a', 'b']);

    expect((await rejection(library.deleteModel(copied.id, { confirm: false }))).code).toBe('confirmation-required');
    expect(library.listModels()).toHaveLength(2);

    expect(await library.deleteModel(copied.id, { confirm: true })).toEqual({ kvBlocksDeleted: 2 });
    expect(library.listModels().map((m) => m.id)).toEqual([other.id]);
    expect(existsSync(copied.path)).toBe(false);
    expect(readdirSync(modelsDir)).toEqual([]);
    expect([...kv.getBlocks(['a', 'b', 'o']).keys()]).toEqual(['o']);
    expect(kv.conversationBlocks(chat.id)).toEqual([]);
    expect(conversations.getConversation(chat.id).modelId).toBeNull();

    await library.deleteModel(other.id, { confirm: true });
    expect(existsSync(sharedModel('TinyStories-656K.gguf'))).toBe(true); // a file referenced in place is never deleted
    expect((await rejection(library.deleteModel(other.id, { confirm: true }))).code).toBe('model-not-found');
  });
});

describe('the models folder after a crash', () => {
  const UUID = (n: number) => `0000000${n}-1111-4222-8333-444444444444`;

  function services(dir: string) {
    return testServices({ dir });
  }

  it('a fresh open deletes unfinished copies and registers a finished copy that lost its row; nothing else is touched', async () => {
    const dir = tempDir();
    const modelsDir = join(dir, 'models');
    const originals = join(dir, 'originals');
    mkdirSync(modelsDir);
    mkdirSync(originals);
    // A crash during a copy, one between the rename and the row, a copy gone bad, and files that are not ours.
    const partial = truncatedCopy('stories260K.gguf', modelsDir, 300_000);
    renameSync(partial, join(modelsDir, `${UUID(1)}.gguf.partial`));
    const finished = copyOf('TinyStories-656K-Q4_0.gguf', modelsDir, `${UUID(2)}.gguf`);
    writeFileSync(join(modelsDir, `${UUID(3)}.gguf`), 'not a model any more\n'.repeat(50));
    // A GGUF this version cannot run (an architecture it does not know) may be runnable by another: kept.
    renameSync(withArchitecture('stories260K.gguf', modelsDir, 'mamba'), join(modelsDir, `${UUID(8)}.gguf`));
    writeFileSync(join(modelsDir, 'readme.txt'), 'the user’s note');
    const userOwn = copyOf('stories260K.gguf', modelsDir, 'my-model.gguf');
    const userPartial = copyOf('stories260K.gguf', originals, `${UUID(4)}.gguf.partial`);

    const s = services(dir);
    expect(s.recovery.modelsFolder).toEqual({
      partialsRemoved: [join(modelsDir, `${UUID(1)}.gguf.partial`)],
      deletesUndone: [],
      deletesFinished: [],
      unregisteredCopies: [finished, join(modelsDir, `${UUID(3)}.gguf`), join(modelsDir, `${UUID(8)}.gguf`)],
    });
    const outcome = await s.recovery.unregisteredCopies;
    expect(outcome.failed).toEqual([{ path: join(modelsDir, `${UUID(8)}.gguf`), message: expect.stringMatching(/mamba/) }]);
    expect(outcome.removed).toEqual([join(modelsDir, `${UUID(3)}.gguf`)]);
    expect(outcome.registered).toHaveLength(1);
    expect(outcome.registered[0]).toMatchObject({
      path: finished,
      name: 'TinyStories-656K',
      fingerprint: sha256(sharedModel('TinyStories-656K-Q4_0.gguf')),
      storedInPlace: false,
      available: true,
    });
    expect(s.library.listModels().map((m) => m.path)).toEqual([finished]);
    expect(readdirSync(modelsDir).sort()).toEqual([`${UUID(2)}.gguf`, `${UUID(8)}.gguf`, 'my-model.gguf', 'readme.txt']);
    expect(existsSync(userOwn) && existsSync(userPartial)).toBe(true);
    await expect(s.library.servedFile(outcome.registered[0]!.id)).resolves.toMatchObject({ path: finished });

    // The next start finds nothing left to do.
    s.db.close();
    const again = services(dir);
    expect(again.recovery.modelsFolder.unregisteredCopies).toEqual([join(modelsDir, `${UUID(8)}.gguf`)]);
    expect((await again.recovery.unregisteredCopies).registered).toEqual([]);
  });

  it('a leftover copy of a model already in the library is deleted; one of an unavailable model re-links it', async () => {
    const { library, modelsDir, files } = setup();
    const inPlace = await library.importModel(sharedModel('stories260K.gguf'), { copy: false });
    const moved = copyOf('TinyStories-656K.gguf', files);
    const gone = await library.importModel(moved, { copy: false });
    rmSync(moved);
    await library.verifyModel(gone.id); // now unavailable
    mkdirSync(modelsDir);
    const duplicate = copyOf('stories260K.gguf', modelsDir, `${UUID(5)}.gguf`);
    const relink = copyOf('TinyStories-656K.gguf', modelsDir, `${UUID(6)}.gguf`);

    const sweep = library.sweepModelsFolder();
    expect(sweep.unregisteredCopies).toEqual([duplicate, relink]);
    const outcome = await library.registerUnregisteredCopies(sweep.unregisteredCopies);
    expect(outcome.removed).toEqual([duplicate]);
    expect(outcome.registered.map((m) => m.id)).toEqual([gone.id]);
    expect(library.getModel(gone.id)).toMatchObject({ path: relink, available: true, storedInPlace: false });
    expect(library.getModel(inPlace.id).path).toBe(sharedModel('stories260K.gguf'));
    expect(readdirSync(modelsDir)).toEqual([`${UUID(6)}.gguf`]);
  });

  it('a delete cut short is undone when its row is still there, and finished when it is not', async () => {
    const { library, modelsDir } = setup();
    const kept = await library.importModel(sharedModel('stories260K.gguf'), { copy: true });
    renameSync(kept.path, `${kept.path}.deleting`); // crash before the row went
    const deleted = copyOf('TinyStories-656K.gguf', modelsDir, `${UUID(7)}.gguf.deleting`); // crash after it went

    const sweep = library.sweepModelsFolder();
    expect(sweep.deletesUndone).toEqual([kept.path]);
    expect(sweep.deletesFinished).toEqual([deleted]);
    expect(sweep.unregisteredCopies).toEqual([]);
    expect(readdirSync(modelsDir)).toEqual([kept.path.slice(modelsDir.length + 1)]);
    expect((await library.verifyModel(kept.id)).problem).toBeNull();
  });

  it('a delete leaves neither the copy nor a .deleting file; a failed delete keeps the copy under its name', async () => {
    const { db, library, modelsDir } = setup();
    const m = await library.importModel(sharedModel('stories260K.gguf'), { copy: true });
    db.exec("CREATE TRIGGER refuse BEFORE DELETE ON models BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    await expect(library.deleteModel(m.id, { confirm: true })).rejects.toThrow('disk full');
    expect(readdirSync(modelsDir)).toEqual([m.path.slice(modelsDir.length + 1)]);
    expect(library.getModel(m.id).available).toBe(true);
    db.exec('DROP TRIGGER refuse');
    await library.deleteModel(m.id, { confirm: true });
    expect(readdirSync(modelsDir)).toEqual([]);
  });
});
