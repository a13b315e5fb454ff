// The bundled first-start model: resources/models/stories260K.gguf, registered once, in place.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_FILE, ensureDefaultModel } from '../../src/main/models/default-model';
import { ModelLibrary } from '../../src/main/models/library';
import { sha256 } from './helpers/model-files';
import { sharedModel, tempDb, tempDir } from '../helpers/temp';

const RESOURCES = resolve(__dirname, '../../resources');

describe('ensureDefaultModel', () => {
  it('ships the shared stories260K unchanged', () => {
    expect(sha256(join(RESOURCES, 'models', DEFAULT_MODEL_FILE))).toBe(sha256(sharedModel('stories260K.gguf')));
  });

  it('registers the bundled model in place on first start only, and not again after the user deletes it', async () => {
    const { db, dir } = tempDb();
    const library = new ModelLibrary(db, join(dir, 'models'));
    const m = await ensureDefaultModel(library, RESOURCES);
    expect(m).toMatchObject({ storedInPlace: true, architecture: 'llama', path: join(RESOURCES, 'models', DEFAULT_MODEL_FILE), available: true });
    expect(await ensureDefaultModel(library, RESOURCES)).toBeNull();
    await library.deleteModel(m!.id, { confirm: true });
    expect(await ensureDefaultModel(library, RESOURCES)).toBeNull();
    expect(library.listModels()).toEqual([]);
  });

  it('adds nothing when the user already imported the same model, or when the resources lack it', async () => {
    const { db, dir } = tempDb();
    const library = new ModelLibrary(db, join(dir, 'models'));
    expect(await ensureDefaultModel(library, tempDir())).toBeNull();
    const resources = tempDir();
    mkdirSync(join(resources, 'models'));
    copyFileSync(sharedModel('stories260K.gguf'), join(resources, 'models', DEFAULT_MODEL_FILE));
    await library.importModel(sharedModel('stories260K.gguf'), { copy: false });
    expect(await ensureDefaultModel(library, resources)).toBeNull();
    expect(library.listModels()).toHaveLength(1);
  });
});
