// "Link a folder": a folder tree with models at several depths (and a projector, a non-model .gguf, a hidden folder
// and a symlink loop) linked through the API with main's folder dialog stubbed: its models are registered in place,
// never copied; a delete unregisters one and leaves its file, and the next scan (a restart) leaves it out while it
// adds a file that appeared since. The scan at start reads no header of a registered file that is unchanged (size and
// mtime as the library recorded them) nor of a deleted one: only new and changed files are read.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiHandlers, invokeApi } from '../../src/main/api-handlers';
import type { ApiMethod } from '../../src/main/api-schemas';
import { MAX_LINK_DEPTH } from '../../src/main/models/linked-folders';
import { openGgufFile } from '../../src/node/file-source';
import type { ApiResult, LinkedFolderScan } from '../../src/shared/api';
import { isInFolder } from '../../src/store/linked-folders';
import { sharedModel, tempDir } from '../helpers/temp';
import { splitGgufBytes } from '../helpers/split-gguf';
import { testServices } from './helpers/services';

// Every GGUF header read (the scan's checks and the library's import) goes through openGgufFile: counted here.
vi.mock('../../src/node/file-source', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/node/file-source')>();
  return { ...real, openGgufFile: vi.fn(real.openGgufFile) };
});
const opened = vi.mocked(openGgufFile);
/** The files under `folder` whose header was read since the last clear, each once, sorted. */
const headersReadUnder = (folder: string): string[] =>
  [...new Set(opened.mock.calls.map(([path]) => String(path)).filter((p) => isInFolder(folder, p)))].sort();

beforeEach(() => {
  opened.mockClear();
});

function place(name: string, to: string): string {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(sharedModel(name), to);
  return to;
}

const ok = <T>(r: ApiResult<T>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
};

function api(dataDir: string, folders: string[]) {
  const services = testServices({ dir: dataDir, pickModelFolder: async () => folders.shift() ?? null });
  const handlers = createApiHandlers(services);
  return { services, call: <M extends ApiMethod>(m: M, p?: unknown) => invokeApi(handlers, m, p) };
}

/** A collection: two models a few levels down, one too deep, and files that are no model. */
function collection(): { root: string; top: string; nested: string; tooDeep: string } {
  const root = tempDir();
  const top = place('stories260K.gguf', join(root, 'stories.gguf'));
  const nested = place('stories260K-Q8_0.gguf', join(root, 'publisher', 'repo', 'stories-q8.gguf'));
  const deep = join(root, ...Array.from({ length: MAX_LINK_DEPTH + 1 }, (_, i) => `d${i}`));
  const tooDeep = place('TinyStories-656K-Q4_0.gguf', join(deep, 'deep.gguf'));
  place('stories260K.gguf', join(root, 'publisher', 'repo', 'mmproj-model-f16.gguf')); // a projector: not a model
  place('stories260K.gguf', join(root, '.hidden', 'hidden.gguf'));
  writeFileSync(join(root, 'notes.gguf'), 'not a model');
  symlinkSync(root, join(root, 'publisher', 'loop')); // walked once
  return { root, top, nested, tooDeep };
}

describe('linked model folders', () => {
  it('registers the models of a linked folder in place; deleting one keeps its file; a rescan adds new files, never the deleted one', async () => {
    const data = tempDir();
    const { root, top, nested, tooDeep } = collection();
    const { services, call } = api(data, [root]);
    const before = ok(await call('listModels')).length;

    const scan = ok(await call('linkModelFolder')) as LinkedFolderScan;
    expect(scan.folder).toBe(root);
    expect(scan.added.map((m) => m.path).sort()).toEqual([nested, top].sort());
    expect(scan.added.every((m) => m.storedInPlace && !m.deletesFile)).toBe(true);
    expect(scan.skipped).toEqual([{ path: join(root, 'notes.gguf'), reason: expect.stringMatching(/Not a readable GGUF model/) }]);
    expect(scan.added.some((m) => m.path === tooDeep)).toBe(false);
    expect(existsSync(join(data, 'models')) ? readdirSync(join(data, 'models')) : []).toEqual([]); // nothing copied
    expect(ok(await call('listModels'))).toHaveLength(before + 2);
    expect(ok(await call('listLinkedFolders'))).toEqual([{ path: root, models: 2 }]);

    const deleted = scan.added.find((m) => m.path === top)!;
    ok(await call('deleteModel', { id: deleted.id, confirm: true }));
    expect(existsSync(top)).toBe(true);

    // A restart: the same data folder, the folder scanned again at start.
    const added = place('TinyStories-656K.gguf', join(root, 'publisher', 'new.gguf'));
    const restarted = testServices({ dir: data });
    const [rescan] = await restarted.recovery.linkedFolders;
    expect(rescan!.added.map((m) => m.path)).toEqual([added]);
    expect(rescan!.known).toBe(2); // the one still registered and the one the user deleted
    const paths = restarted.library.listModels().map((m) => m.path);
    expect(paths).toContain(added);
    expect(paths).not.toContain(top);
    void services;
  });

  it('a start reads no header of the registered or deleted files of a linked folder; new and changed files are read', async () => {
    const data = tempDir();
    const root = tempDir();
    place('stories260K.gguf', join(root, 'a', 'unchanged.gguf'));
    const touched = place('stories260K-Q8_0.gguf', join(root, 'touched.gguf'));
    const grown = place('TinyStories-656K-Q4_0.gguf', join(root, 'a', 'b', 'grown.gguf'));
    const deleted = place('stories260K.gguf', join(root, 'deleted.gguf'));
    appendFileSync(deleted, Buffer.alloc(64)); // other bytes than unchanged.gguf: a model of its own
    mkdirSync(join(root, 'split'));
    const split = splitGgufBytes(new Uint8Array(readFileSync(sharedModel('stories260K.gguf'))), 3).map((bytes, i) => {
      const path = join(root, 'split', `tiny-0000${i + 1}-of-00003.gguf`);
      writeFileSync(path, bytes);
      return path;
    });
    const { call } = api(data, [root]);
    const scan = ok(await call('linkModelFolder')) as LinkedFolderScan;
    expect(scan.added).toHaveLength(5);
    ok(await call('deleteModel', { id: scan.added.find((m) => m.path === deleted)!.id, confirm: true }));

    opened.mockClear();
    const [quiet] = await testServices({ dir: data }).recovery.linkedFolders;
    expect(quiet).toEqual({ folder: root, added: [], known: 5, skipped: [] });
    expect(headersReadUnder(root)).toEqual([]);

    // Changed since: a newer mtime (same size; of a split model's last part too), more bytes (same mtime); and a file
    // that appeared.
    const later = new Date(statSync(touched).mtimeMs + 5_000);
    utimesSync(touched, later, later);
    utimesSync(split[2]!, later, later);
    const { mtime } = statSync(grown);
    appendFileSync(grown, Buffer.alloc(32));
    utimesSync(grown, mtime, mtime);
    const added = place('TinyStories-656K.gguf', join(root, 'a', 'new.gguf'));
    opened.mockClear();
    const [rescan] = await testServices({ dir: data }).recovery.linkedFolders;
    expect(rescan!.added.map((m) => m.path)).toEqual([added]);
    expect(rescan!.known).toBe(5); // the changed files are still the library's (verifyModel decides whether they are usable)
    expect(headersReadUnder(root)).toEqual([added, grown, split[0]!, touched].sort()); // not unchanged.gguf nor deleted.gguf
  });

  it('a cancelled dialog links nothing; unlinking stops the scans and keeps the models; bad folders get clear errors', async () => {
    const data = tempDir();
    const { root } = collection();
    const { call } = api(data, []);
    expect(ok(await call('linkModelFolder'))).toBeNull();
    expect(ok(await call('listLinkedFolders'))).toEqual([]);

    const missing = join(tempDir(), 'gone');
    const refused = api(tempDir(), [missing]);
    expect(await refused.call('linkModelFolder')).toEqual({ ok: false, error: { code: 'not-a-folder', message: `${missing} is not a folder that can be read` } });

    const linking = api(data, [root]);
    ok(await linking.call('linkModelFolder'));
    ok(await linking.call('unlinkModelFolder', { path: root }));
    expect(ok(await linking.call('listLinkedFolders'))).toEqual([]);
    expect(ok(await linking.call('listModels')).filter((m) => m.path.startsWith(root))).toHaveLength(2);
    expect(await linking.call('unlinkModelFolder', { path: root })).toEqual({ ok: false, error: { code: 'not-linked', message: `${root} is not a linked folder` } });
    expect(await linking.call('unlinkModelFolder', { path: 'relative/path' })).toMatchObject({ ok: false, error: { code: 'invalid-request' } });
  });
});
