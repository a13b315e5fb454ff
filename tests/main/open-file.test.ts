// .gguf files opened from the OS (a double-click, a second launch's argv): imported one at a time in the order
// they arrived, each reported to the renderer or, on failure, to the user; through the same API handler as the
// import button (a copy in the models folder), with its readable errors.
import { testServices } from './helpers/services';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApiError, ApiResult, ModelInfo } from '../../src/shared/api';
import { createApiHandlers, invokeApi } from '../../src/main/api-handlers';
import { createOpenedModelImporter } from '../../src/main/open-file';
import { copyOf } from './helpers/model-files';
import { tempDir } from '../helpers/temp';

const modelNamed = (path: string): ModelInfo => ({ id: path, name: path }) as unknown as ModelInfo;

function recorder() {
  const events: string[] = [];
  return {
    events,
    onImported: (m: ModelInfo) => events.push(`imported ${m.name}`),
    onFailed: (path: string, e: ApiError) => events.push(`failed ${path}: ${e.code}`),
  };
}

describe('createOpenedModelImporter', () => {
  it('imports one file at a time, in arrival order, across batches', async () => {
    const rec = recorder();
    const releases: (() => void)[] = [];
    let running = 0;
    let most = 0;
    const importOpened = createOpenedModelImporter({
      ...rec,
      importModel: async (path) => {
        rec.events.push(`start ${path}`);
        most = Math.max(most, ++running);
        await new Promise<void>((r) => releases.push(r));
        running--;
        return { ok: true, value: modelNamed(path) };
      },
    });
    const first = importOpened(['/m/a.gguf', '/m/b.gguf']);
    const second = importOpened(['/m/c.gguf']);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 5));
      releases.shift()!();
    }
    await Promise.all([first, second]);
    expect(most).toBe(1);
    expect(rec.events).toEqual(['start /m/a.gguf', 'imported /m/a.gguf', 'start /m/b.gguf', 'imported /m/b.gguf', 'start /m/c.gguf', 'imported /m/c.gguf']);
  });

  it('a failed, throwing or callback-throwing import does not stop the next', async () => {
    const rec = recorder();
    const answers: Record<string, () => Promise<ApiResult<ModelInfo>>> = {
      '/m/bad.gguf': async () => ({ ok: false, error: { code: 'invalid-model', message: 'not a GGUF file' } }),
      '/m/boom.gguf': async () => {
        throw new Error('disk gone');
      },
    };
    let throwOnce = true;
    const importOpened = createOpenedModelImporter({
      onFailed: rec.onFailed,
      onImported: (m) => {
        rec.onImported(m);
        if (throwOnce) {
          throwOnce = false;
          throw new Error('window gone');
        }
      },
      importModel: (path) => (answers[path] ?? (async () => ({ ok: true, value: modelNamed(path) })))(),
    });
    await importOpened(['/m/ok1.gguf', '/m/bad.gguf', '/m/boom.gguf', '/m/ok2.gguf']);
    expect(rec.events).toEqual(['imported /m/ok1.gguf', 'failed /m/bad.gguf: invalid-model', 'failed /m/boom.gguf: internal', 'imported /m/ok2.gguf']);
  });

  it('through the import button\'s handler: copies the model into the library; a second open says it is there already', async () => {
    const dir = tempDir();
    const services = testServices({ dir });
    const handlers = createApiHandlers(services);
    const imported: ModelInfo[] = [];
    const failures: [string, ApiError][] = [];
    // What src/main/index.ts wires up.
    const importOpened = createOpenedModelImporter({
      importModel: (path) => invokeApi(handlers, 'importDroppedModel', { path, copy: true }),
      onImported: (m) => imported.push(m),
      onFailed: (path, e) => failures.push([path, e]),
    });
    const model = copyOf('stories260K.gguf', tempDir());
    const notModel = join(tempDir(), 'notes.gguf');
    writeFileSync(notModel, 'not a model');
    await importOpened([model, notModel, model, join(dir, 'missing.gguf')]);

    expect(imported.map((m) => [m.name, m.storedInPlace, m.path.startsWith(join(dir, 'models'))])).toEqual([['stories260K', false, true]]);
    expect(services.library.listModels().map((m) => m.id)).toEqual([imported[0]!.id]);
    expect(failures.map(([p, e]) => [p, e.code])).toEqual([
      [notModel, 'invalid-model'],
      [model, 'duplicate'],
      [join(dir, 'missing.gguf'), 'file-not-found'],
    ]);
    expect(failures[1]![1].message).toMatch(/already in the library/);
    for (const [, e] of failures) expect(e.message.length).toBeGreaterThan(10);
  });
});
