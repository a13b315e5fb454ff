// A model split into 3 parts (gguf-split layout) generates exactly the greedy tokens of the whole file: opened in
// Node from its first part's path, and through the app's model protocol (kvchat-model://<id>?part=k) the way the
// renderer's worker opens it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/gpu/engine/engine';
import { openHttpGguf } from '../../src/gpu/gguf/http-source';
import type { GgufFile } from '../../src/gpu/gguf/reader';
import { ModelLibrary } from '../../src/main/models/library';
import { handleModelRequest } from '../../src/main/models/model-protocol';
import { openGgufFile } from '../../src/node/file-source';
import { modelUrl } from '../../src/shared/api';
import { testDevice } from '../helpers/gpu';
import { splitGgufBytes } from '../helpers/split-gguf';
import { sharedModel, tempDb, tempDir } from '../helpers/temp';

const MODEL = 'stories260K.gguf';
const PROMPT = [1, 403, 407, 261, 378]; // BOS and a few story tokens
const NEW_TOKENS = 24;

async function greedy(file: GgufFile): Promise<number[]> {
  const engine = await Engine.load(await testDevice(), file, { maxSeqs: 1 });
  try {
    const seq = engine.createSequence();
    return (await engine.generate(seq, PROMPT, { maxNewTokens: NEW_TOKENS })).tokens;
  } finally {
    engine.destroy();
  }
}

/** The 3 parts written beside each other; returns the first part's path. */
function writeParts(dir: string): string {
  const parts = splitGgufBytes(new Uint8Array(readFileSync(sharedModel(MODEL))), 3);
  parts.forEach((p, i) => writeFileSync(join(dir, `stories260K-0000${i + 1}-of-00003.gguf`), p));
  return join(dir, 'stories260K-00001-of-00003.gguf');
}

describe('split GGUF model on the GPU', () => {
  it('generates the same greedy tokens from 3 parts as from the whole file, in Node and over the model protocol', async () => {
    const whole = await openGgufFile(sharedModel(MODEL));
    const expected = await greedy(whole.file).finally(() => whole.close());
    expect(expected).toHaveLength(NEW_TOKENS);

    const first = writeParts(tempDir());
    const split = await openGgufFile(first);
    expect(split.file.parts).toHaveLength(3);
    expect(await greedy(split.file).finally(() => split.close())).toEqual(expected);

    const { db, dir } = tempDb();
    const library = new ModelLibrary(db, join(dir, 'models'));
    const model = await library.importModel(first, { copy: true }); // every part copied into the models folder
    expect(model.storedInPlace).toBe(false);
    const requested: string[] = [];
    const viaProtocol: typeof fetch = async (input, init) => {
      requested.push(String(input));
      const r = await handleModelRequest(library, { url: String(input), method: init?.method ?? 'GET', headers: new Headers(init?.headers) });
      return new Response(r.body, { status: r.status, headers: r.headers });
    };
    const file = await openHttpGguf(modelUrl(model.id), { fetch: viaProtocol });
    expect(file.parts).toHaveLength(3);
    expect(new Set(requested)).toEqual(new Set([modelUrl(model.id), `${modelUrl(model.id)}?part=2`, `${modelUrl(model.id)}?part=3`]));
    expect(await greedy(file)).toEqual(expected);
  });
});
