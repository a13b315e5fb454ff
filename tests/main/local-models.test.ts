// Models other apps already downloaded: a fake home folder with LM Studio, Ollama, Hugging Face cache and llama.cpp
// layouts (copies of the shared models, plus files that must be left out or reported), scanned by its header only;
// one registered in place through the API, then deleted: the file stays where it was.
import { localModelsApi, ok } from './helpers/services';
import { copyFileSync, existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LocalModelCandidate } from '../../src/shared/api';
import {
  findLocalModels,
  huggingFaceHubFolder,
  llamaCppCacheFolder,
  ollamaFolder,
  type LocalModelsPlace,
} from '../../src/main/models/local-models';
import { sha256, withArchitecture } from './helpers/model-files';
import { sharedModel, tempDir } from '../helpers/temp';

/** Copies a shared model to `to` (parents created). */
function place(name: string, to: string): string {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(sharedModel(name), to);
  return to;
}

function write(to: string, bytes: string | Uint8Array): string {
  mkdirSync(dirname(to), { recursive: true });
  writeFileSync(to, bytes);
  return to;
}

const ollamaManifest = (modelDigest: string) =>
  JSON.stringify({
    schemaVersion: 2,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 10 },
    layers: [
      { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'d'.repeat(64)}`, size: 10 },
      { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${modelDigest}`, size: 10 },
    ],
  });

/** A home folder with every app's layout and the files the scan must skip or report. */
function fakeHome() {
  const home = tempDir();
  const lms = join(home, '.lmstudio', 'models');
  const repo = join(lms, 'lmstudio-community', 'stories-GGUF');
  const files = {
    lmStudio: place('stories260K-Q8_0.gguf', join(repo, 'stories260K-Q8_0.gguf')),
    testVectors: place('quant-testvectors.gguf', join(lms, 'tests', 'vectors', 'quant-testvectors.gguf')),
    corrupt: write(join(lms, 'bad', 'broken', 'broken.gguf'), 'GGUF this is not a real header at all'),
    splitFirst: place('stories260K.gguf', join(lms, 'split', 'big', 'big-model-00001-of-00002.gguf')),
    splitSecond: write(join(lms, 'split', 'big', 'big-model-00002-of-00002.gguf'), new Uint8Array(1000)),
    ollamaBlob: '',
    hfLink: '',
    hfBlob: '',
    llamaCpp: place('stories260K.gguf', join(home, '.cache', 'llama.cpp', 'karpathy_stories260K_stories260K.gguf')),
    older: '',
  };
  place('stories260K.gguf', join(repo, 'mmproj-stories-f16.gguf')); // a vision projector: not a model
  write(join(repo, 'README.md'), '# not a model');
  write(join(repo, 'model.safetensors'), 'not a gguf');
  symlinkSync('..', join(repo, 'loop')); // a folder link back up the tree
  symlinkSync(join(lms, 'self'), join(lms, 'self')); // a link to itself (ELOOP)
  write(join(lms, 'orphans', 'x', 'only-00002-of-00002.gguf'), new Uint8Array(10)); // a split without its first part

  const olderDir = join(home, '.cache', 'lm-studio', 'models', 'old', 'tiny');
  mkdirSync(olderDir, { recursive: true });
  files.older = withArchitecture('stories260K.gguf', olderDir, 'gemma');

  const ollama = join(home, '.ollama', 'models');
  const digest = sha256(sharedModel('TinyStories-656K-Q4_0.gguf'));
  files.ollamaBlob = place('TinyStories-656K-Q4_0.gguf', join(ollama, 'blobs', `sha256-${digest}`));
  write(join(ollama, 'blobs', `sha256-${'d'.repeat(64)}`), '{{ .Prompt }}');
  write(join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'tinystories', 'latest'), ollamaManifest(digest));
  write(join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'broken', 'latest'), '{ not json');
  write(join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'gone', 'latest'), ollamaManifest('e'.repeat(64))); // blob missing

  const hfRepo = join(home, '.cache', 'huggingface', 'hub', 'models--roneneldan--TinyStories-GGUF');
  const hfDigest = sha256(sharedModel('TinyStories-656K.gguf'));
  files.hfBlob = place('TinyStories-656K.gguf', join(hfRepo, 'blobs', hfDigest));
  files.hfLink = join(hfRepo, 'snapshots', 'abc123', 'TinyStories-656K.gguf');
  mkdirSync(dirname(files.hfLink), { recursive: true });
  symlinkSync(join('..', '..', 'blobs', hfDigest), files.hfLink);
  write(join(home, '.cache', 'llama.cpp', 'karpathy_stories260K_stories260K.gguf.json'), '{"etag":"x"}');

  const where: LocalModelsPlace = { home, platform: 'linux', env: {} };
  return { home, where, files };
}

const summary = (c: LocalModelCandidate) => [c.source, c.name, c.architecture, c.quantization, c.problem?.kind ?? 'ok'];

describe('findLocalModels', () => {
  it('finds each app\'s models, by their header only, and leaves projectors, other files, loops and orphans out', async () => {
    const { where, files } = fakeHome();
    const found = await findLocalModels(where);
    expect(found.map(summary)).toEqual([
      ['lm-studio', 'big-model', null, null, 'unreadable'],
      ['lm-studio', 'broken', null, null, 'unreadable'],
      ['lm-studio', 'gemma', 'gemma', 'F32', 'unsupported'],
      ['lm-studio', 'quant-testvectors', 'testvectors', expect.any(String), 'unsupported'],
      ['lm-studio', 'stories260K-Q8_0', 'llama', 'Q8_0', 'ok'],
      ['ollama', 'tinystories:latest', 'llama', 'Q4_0', 'ok'],
      ['hugging-face', 'roneneldan/TinyStories-GGUF/TinyStories-656K', 'llama', 'F32', 'ok'],
      ['llama.cpp', 'karpathy_stories260K_stories260K', 'llama', 'F32', 'ok'],
    ]);
    const byName = new Map(found.map((c) => [c.name, c]));
    expect(byName.get('stories260K-Q8_0')).toMatchObject({ path: files.lmStudio, size: statSync(files.lmStudio).size, parts: 1, registeredId: null });
    expect(byName.get('tinystories:latest')).toMatchObject({ path: files.ollamaBlob, size: statSync(files.ollamaBlob).size });
    // The snapshot's link is what gets registered; its size is the blob's.
    expect(byName.get('roneneldan/TinyStories-GGUF/TinyStories-656K')).toMatchObject({ path: files.hfLink, size: statSync(files.hfBlob).size });
    expect(byName.get('big-model')).toMatchObject({
      path: files.splitFirst,
      parts: 2,
      size: statSync(files.splitFirst).size + 1000,
      // Its first part is a whole model without split keys: the parts do not belong together.
      problem: { kind: 'unreadable', message: expect.stringMatching(/named as part 1 of 2 of a split model, but its header has no split keys/) },
    });
    expect(byName.get('gemma')?.problem?.message).toMatch(/architecture "gemma" is not supported/);
    expect(byName.get('broken')?.problem?.message).toMatch(/Not a readable GGUF model/);
  });

  it('reports a header claiming more than the reader allows as unreadable, without reading it', async () => {
    const home = tempDir();
    // GGUF v3, 0 tensors, 1 key whose name claims 2^40 bytes.
    const header = Buffer.alloc(32);
    header.write('GGUF', 0, 'latin1');
    header.writeUInt32LE(3, 4);
    header.writeBigUInt64LE(0n, 8);
    header.writeBigUInt64LE(1n, 16);
    header.writeBigUInt64LE(2n ** 40n, 24);
    write(join(home, '.cache', 'llama.cpp', 'huge-header.gguf'), header);
    const [c] = await findLocalModels({ home, platform: 'linux', env: {} });
    expect(c).toMatchObject({ name: 'huge-header', problem: { kind: 'unreadable' } });
  });

  it('honours OLLAMA_MODELS, HF_HUB_CACHE / HF_HOME, LLAMA_CACHE and the macOS cache folder', async () => {
    const home = '/home/me';
    const env = { OLLAMA_MODELS: '/data/ollama', HF_HOME: '/data/hf', LLAMA_CACHE: '/data/llama' };
    expect(ollamaFolder({ home, platform: 'linux', env })).toBe('/data/ollama');
    expect(huggingFaceHubFolder({ home, platform: 'linux', env })).toBe('/data/hf/hub');
    expect(huggingFaceHubFolder({ home, platform: 'linux', env: { ...env, HF_HUB_CACHE: '/data/hub' } })).toBe('/data/hub');
    expect(huggingFaceHubFolder({ home, platform: 'linux', env: {} })).toBe('/home/me/.cache/huggingface/hub');
    expect(llamaCppCacheFolder({ home, platform: 'linux', env })).toBe('/data/llama');
    expect(llamaCppCacheFolder({ home, platform: 'darwin', env: {} })).toBe('/home/me/Library/Caches/llama.cpp');
    expect(llamaCppCacheFolder({ home, platform: 'linux', env: {} })).toBe('/home/me/.cache/llama.cpp');

    const root = tempDir();
    const digest = sha256(sharedModel('stories260K.gguf'));
    place('stories260K.gguf', join(root, 'ollama', 'blobs', `sha256-${digest}`));
    write(join(root, 'ollama', 'manifests', 'registry.ollama.ai', 'me', 'stories', '260k'), ollamaManifest(digest));
    place('stories260K-Q8_0.gguf', join(root, 'llama', 'stories-q8.gguf'));
    place('stories260K-Q8_0.gguf', join(root, 'mac-home', 'Library', 'Caches', 'llama.cpp', 'mac-q8.gguf'));
    const names = async (w: LocalModelsPlace) => (await findLocalModels(w)).map((c) => c.name);
    expect(await names({ home: join(root, 'empty'), platform: 'linux', env: { OLLAMA_MODELS: join(root, 'ollama'), LLAMA_CACHE: join(root, 'llama') } })).toEqual([
      'me/stories:260k',
      'stories-q8',
    ]);
    expect(await names({ home: join(root, 'mac-home'), platform: 'darwin', env: {} })).toEqual(['mac-q8']);
  });
});


describe('findLocalModels and addLocalModel through the API', () => {
  it('registers a found model in place under its app\'s name; deleting it unregisters it and leaves the file', async () => {
    const { where, files } = fakeHome();
    const { call, services } = localModelsApi(where);
    const found = ok(await call<LocalModelCandidate[]>('findLocalModels'));
    const tiny = found.find((c) => c.source === 'ollama')!;

    const model = ok(await call<{ id: string; path: string; name: string; storedInPlace: boolean }>('addLocalModel', { path: tiny.path }));
    expect(model).toMatchObject({ path: files.ollamaBlob, name: 'tinystories:latest', storedInPlace: true });
    expect(services.library.listModels()).toHaveLength(1);

    const again = ok(await call<LocalModelCandidate[]>('findLocalModels'));
    expect(again.find((c) => c.path === tiny.path)?.registeredId).toBe(model.id);
    expect(again.filter((c) => c.registeredId !== null)).toHaveLength(1);

    ok(await call('deleteModel', { id: model.id, confirm: true }));
    expect(services.library.listModels()).toEqual([]);
    expect(existsSync(files.ollamaBlob)).toBe(true);
    expect(sha256(files.ollamaBlob)).toBe(sha256(sharedModel('TinyStories-656K-Q4_0.gguf')));
  });

  it('registers a Hugging Face snapshot link in place; its blob stays after the delete', async () => {
    const { where, files } = fakeHome();
    const { call } = localModelsApi(where);
    ok(await call('findLocalModels'));
    const model = ok(await call<{ id: string; path: string; name: string }>('addLocalModel', { path: files.hfLink }));
    expect(model).toMatchObject({ path: files.hfLink, name: 'roneneldan/TinyStories-GGUF/TinyStories-656K' });
    ok(await call('deleteModel', { id: model.id, confirm: true }));
    expect(existsSync(files.hfBlob) && existsSync(files.hfLink)).toBe(true);
  });

  it('marks a model the library already has by the same bytes (an earlier copy) as registered', async () => {
    const { where, files } = fakeHome();
    const { call, services } = localModelsApi(where);
    const copied = await services.library.importModel(sharedModel('stories260K-Q8_0.gguf'), { copy: true });
    const found = ok(await call<LocalModelCandidate[]>('findLocalModels'));
    expect(found.find((c) => c.path === files.lmStudio)?.registeredId).toBe(copied.id);
    expect(found.filter((c) => c.registeredId !== null)).toHaveLength(1);
  });

  it('refuses a path the scan did not find, and a model the engine cannot run', async () => {
    const { where, files } = fakeHome();
    const { call, services } = localModelsApi(where);
    const before = await call('addLocalModel', { path: files.lmStudio });
    expect(before).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
    ok(await call('findLocalModels'));
    expect(await call('addLocalModel', { path: sharedModel('stories260K.gguf') })).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
    expect(await call('addLocalModel', { path: files.splitFirst })).toMatchObject({ ok: false, error: { code: 'invalid-model', message: expect.stringMatching(/split model/) } });
    expect(await call('addLocalModel', { path: files.older })).toMatchObject({ ok: false, error: { code: 'invalid-model' } });
    expect(await call('addLocalModel', { path: 'relative.gguf' })).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
    expect(services.library.listModels()).toEqual([]);
  });
});
