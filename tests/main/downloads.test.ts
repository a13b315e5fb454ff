// The main-process download service against the loopback Hub: two transfers at once, progress with speed and ETA,
// pause / resume / cancel, the queue picked up from SQLite after a crash, a refused model, a checksum mismatch.
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelDownloads, type DownloadEvent } from '../../src/main/models/downloads';
import { ModelLibrary } from '../../src/main/models/library';
import { HubError } from '../../src/node/hub/errors';
import { ModelDownloadRepository } from '../../src/store/model-downloads';
import { startHubServer, type HubServer } from '../helpers/hub-server';
import { splitModel } from '../helpers/split-gguf';
import { splitFingerprint } from '../../src/node/model-fingerprint';
import { sharedModel, tempDb, tempDir } from '../helpers/temp';

const REPO = 'test/tiny-GGUF';
const NAMES = ['stories260K.gguf', 'stories260K-Q8_0.gguf', 'TinyStories-656K.gguf', 'TinyStories-656K-Q4_0.gguf'];
const SPLIT_REPO = 'test/split-GGUF';
const SPLIT_PARTS = ['crafted-F32-00001-of-00002.gguf', 'crafted-F32-00002-of-00002.gguf'] as const;
const bytesOf = (name: string): Uint8Array => new Uint8Array(readFileSync(sharedModel(name)));

let hub: HubServer;
let services: ModelDownloads[] = [];
afterEach(async () => {
  for (const s of services) await s.close();
  services = [];
  await hub?.close();
});

async function setup() {
  const gemma = Buffer.from(bytesOf('stories260K.gguf'));
  gemma.write('gemma', gemma.indexOf('general.architecture') + 'general.architecture'.length + 12, 'utf8');
  const [part1, part2] = splitModel();
  hub = await startHubServer({
    [REPO]: NAMES.map((path) => ({ path, bytes: bytesOf(path) })),
    'test/gemma': [{ path: 'gemma.gguf', bytes: gemma }],
    [SPLIT_REPO]: [{ path: SPLIT_PARTS[0], bytes: part1 }, { path: SPLIT_PARTS[1], bytes: part2 }],
  });
  const { db, dir } = tempDb();
  const library = new ModelLibrary(db, join(dir, 'models'));
  const make = () => {
    const s = new ModelDownloads({ db, library, downloadsDir: join(dir, 'downloads'), endpointSetting: () => hub.endpoint, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 } });
    services.push(s);
    return s;
  };
  return { db, dir, library, make };
}

const until = async (test: () => boolean, ms = 10_000): Promise<void> => {
  const t0 = Date.now();
  while (!test()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('ModelDownloads', () => {
  it('runs at most two at once, reports speed and ETA, and registers each verified file in the library', async () => {
    const { library, make } = await setup();
    const downloads = make();
    const events: DownloadEvent[] = [];
    downloads.subscribe((e) => events.push(e));
    hub.faults.bytesPerSecond = 2 * 2 ** 20;
    let most = 0;
    downloads.subscribe(() => (most = Math.max(most, downloads.list().filter((d) => d.state === 'running').length)));
    for (const file of NAMES) await downloads.add({ repo: REPO, file });
    await until(() => downloads.list().every((d) => d.state === 'done'));
    expect(most).toBe(2);
    const progress = events.flatMap((e) => (e.kind === 'progress' ? [e.download] : []));
    expect(progress.some((d) => d.bytesPerSecond > 0 && d.etaSeconds !== null && d.bytesDone < d.bytesTotal)).toBe(true);
    const models = library.listModels();
    expect(models).toHaveLength(4);
    for (const d of downloads.list()) {
      expect(d.modelId).not.toBeNull();
      expect(library.getModel(d.modelId!).path).toBe(d.path);
      expect(existsSync(d.path + '.part')).toBe(false);
    }
  });

  it('pauses keeping the part file, resumes fetching only the rest, and cancels deleting it', async () => {
    const { make, library } = await setup();
    const downloads = make();
    hub.faults.bytesPerSecond = 512 * 1024;
    const d = await downloads.add({ repo: REPO, file: 'TinyStories-656K.gguf' });
    await until(() => downloads.get(d.id).bytesDone > 100_000);
    await downloads.pause(d.id);
    expect(downloads.get(d.id).state).toBe('paused');
    const kept = statSync(d.path + '.part').size;
    expect(kept).toBeGreaterThan(0);
    hub.faults.bytesPerSecond = undefined;
    hub.requests.length = 0;
    downloads.resume(d.id);
    await until(() => downloads.get(d.id).state === 'done');
    expect(hub.requests.map((r) => [r.range, r.bytesSent])).toEqual([[`bytes=${kept}-`, d.bytesTotal - kept]]);
    expect(library.listModels()).toHaveLength(1);

    hub.faults.bytesPerSecond = 256 * 1024;
    const c = await downloads.add({ repo: REPO, file: 'stories260K.gguf' });
    await until(() => downloads.get(c.id).bytesDone > 0);
    await downloads.cancel(c.id);
    expect(downloads.list().map((x) => x.id)).toEqual([d.id]);
    expect(existsSync(c.path + '.part')).toBe(false);
    expect(library.listModels()).toHaveLength(1);
  });

  it('picks up the persisted queue after a crash and resumes from the part file', async () => {
    const { db, make, library } = await setup();
    const first = make();
    hub.faults.bytesPerSecond = 256 * 1024;
    const d = await first.add({ repo: REPO, file: 'stories260K-Q8_0.gguf' });
    await until(() => first.get(d.id).bytesDone > 50_000);
    // A crash: the row says running, the part file holds what arrived; nothing else survives.
    await first.close();
    db.prepare(`UPDATE model_downloads SET state = 'running' WHERE id = ?`).run(d.id);
    const kept = statSync(d.path + '.part').size;
    hub.faults.bytesPerSecond = undefined;
    hub.requests.length = 0;
    const second = make();
    second.start();
    await until(() => second.get(d.id).state === 'done');
    expect(hub.requests.map((r) => r.range)).toEqual([`bytes=${kept}-`]);
    expect(library.getModel(second.get(d.id).modelId!).fingerprint).toBe(hub.sha256(REPO, 'stories260K-Q8_0.gguf'));
    expect(new ModelDownloadRepository(db).list().map((r) => r.state)).toEqual(['done']);
  });

  it('refuses a model the engine cannot run before queueing it, and fails a checksum mismatch registering nothing', async () => {
    const { make, library } = await setup();
    const downloads = make();
    const refused = await downloads.add({ repo: 'test/gemma' }).then(() => null, (e: unknown) => e as HubError);
    expect(refused?.code).toBe('unsupported-model');
    expect(refused?.message).toMatch(/architecture gemma is not supported yet/);
    expect(downloads.list()).toEqual([]);

    hub.faults.wrongBytes = true;
    const d = await downloads.add({ repo: REPO, quant: 'Q8_0' });
    await until(() => downloads.get(d.id).state === 'failed');
    expect(downloads.get(d.id).error).toMatch(/does not match the Hub's checksum/);
    expect(existsSync(d.path)).toBe(false);
    expect(existsSync(d.path + '.part')).toBe(false);
    expect(library.listModels()).toEqual([]);
  });

  it('fails with a clear message when the disk is too small, and resumes once there is room', async () => {
    const { db, dir, library } = await setup();
    let free = 1000;
    const downloads = new ModelDownloads({ db, library, downloadsDir: join(dir, 'downloads'), endpointSetting: () => hub.endpoint, freeSpace: async () => free });
    services.push(downloads);
    const d = await downloads.add({ repo: REPO, file: 'stories260K.gguf' });
    await until(() => downloads.get(d.id).state === 'failed');
    expect(downloads.get(d.id).error).toMatch(/Not enough free space/);
    free = 1e12;
    mkdirSync(dirname(d.path), { recursive: true });
    writeFileSync(d.path + '.part', bytesOf('stories260K.gguf').subarray(0, 4096));
    downloads.resume(d.id);
    await until(() => downloads.get(d.id).state === 'done');
    expect(hub.requests.filter((r) => r.range === 'bytes=4096-')).toHaveLength(1);
  });

  it('downloads every part of a split model, each verified, and registers the model once by its first part', async () => {
    const { library, make } = await setup();
    const downloads = make();
    const first = await downloads.add({ repo: SPLIT_REPO });
    expect(first.file).toBe(SPLIT_PARTS[0]);
    expect(downloads.list().map((d) => d.file)).toEqual([...SPLIT_PARTS]);
    await until(() => downloads.list().every((d) => d.state === 'done' && d.modelId !== null));
    const [model] = library.listModels();
    expect(library.listModels()).toHaveLength(1);
    // The library's fingerprint of a split model: a SHA-256 over the parts' (LFS) SHA-256s, in order.
    expect(model).toMatchObject({ path: first.path, fingerprint: splitFingerprint(SPLIT_PARTS.map((p) => hub.sha256(SPLIT_REPO, p))), architecture: 'llama', deletesFile: true });
    expect(model!.details.tensorCount).toBe(21); // both parts' tensors
    expect(new Set(downloads.list().map((d) => d.modelId))).toEqual(new Set([model!.id]));
    // Deleting the model deletes every part and forgets the finished downloads.
    await library.deleteModel(model!.id, { confirm: true });
    for (const d of [first.path, join(dirname(first.path), SPLIT_PARTS[1])]) expect(existsSync(d)).toBe(false);
    expect(downloads.list()).toEqual([]);
  });

  it('a part that fails its checksum registers nothing', async () => {
    const { library, make } = await setup();
    const downloads = make();
    hub.faults.wrongBytes = true;
    await downloads.add({ repo: SPLIT_REPO });
    await until(() => downloads.list().every((d) => d.state === 'failed'));
    expect(library.listModels()).toEqual([]);
  });
});

describe('deleting a model', () => {
  it('deletes a downloaded file after confirmation; an imported file elsewhere is only unregistered', async () => {
    const { library, make } = await setup();
    const downloads = make();
    const d = await downloads.add({ repo: REPO, file: 'stories260K.gguf' });
    await until(() => downloads.get(d.id).state === 'done');
    const downloaded = library.getModel(downloads.get(d.id).modelId!);
    expect(downloaded).toMatchObject({ storedInPlace: true, deletesFile: true });
    await expect(library.deleteModel(downloaded.id, { confirm: false })).rejects.toThrow(/confirmation/);
    expect(existsSync(d.path)).toBe(true);
    await library.deleteModel(downloaded.id, { confirm: true });
    expect(existsSync(d.path)).toBe(false);
    expect(downloads.list()).toEqual([]);

    const own = join(tempDir(), 'mine.gguf');
    writeFileSync(own, bytesOf('stories260K-Q8_0.gguf'));
    const imported = await library.importModel(own, { copy: false });
    expect(imported.deletesFile).toBe(false);
    await library.deleteModel(imported.id, { confirm: true });
    expect(existsSync(own)).toBe(true);
    expect(library.listModels()).toEqual([]);
  });
});
