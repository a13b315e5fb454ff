// One fingerprint for a model, whoever asks: the CLI's session (generate --session) and the app's library name a
// split model's KV blocks by the same SHA-256 over all its parts, and a single file by its own SHA-256.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliSession } from '../../src/cli/session';
import { ModelLibrary } from '../../src/main/models/library';
import { fingerprintModelAt, modelFilesOf, splitFingerprint, splitModelFiles } from '../../src/node/model-fingerprint';
import { writeSplitParts } from '../helpers/split-parts';
import { sharedModel, tempDb, tempDir } from '../helpers/temp';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function cliFingerprint(modelPath: string): Promise<string> {
  const session = await CliSession.open(join(tempDir(), 'cli.sqlite'), modelPath);
  try {
    return session.modelFingerprint;
  } finally {
    session.close();
  }
}

describe('model fingerprints', () => {
  it('the CLI and the library name a 3-part split model alike, by every part', async () => {
    const { paths, parts } = writeSplitParts(tempDir());
    const { db, dir } = tempDb();
    const model = await new ModelLibrary(db, join(dir, 'models')).importModel(paths[0]!, { copy: false });
    const expected = splitFingerprint(parts.map(sha256));
    expect(model.fingerprint).toBe(expected);
    expect(await cliFingerprint(paths[0]!)).toBe(expected);
    // Part 1 alone would be another name: the old CLI's, which never found the app's blocks.
    expect(expected).not.toBe(sha256(parts[0]!));
  });

  it('a single file is named by its own SHA-256 in both', async () => {
    const path = sharedModel('stories260K.gguf');
    const { db, dir } = tempDb();
    const model = await new ModelLibrary(db, join(dir, 'models')).importModel(path, { copy: false });
    expect(model.fingerprint).toBe(sha256(readFileSync(path)));
    expect(await cliFingerprint(path)).toBe(model.fingerprint);
  });

  it('finds the parts by the first part’s name, and refuses a model with a part missing, naming it', async () => {
    const { paths } = writeSplitParts(tempDir());
    expect(splitModelFiles(paths[0]!)).toEqual(paths);
    expect(modelFilesOf(paths[1]!)).toEqual([paths[1]]); // a later part is no model of its own
    expect(splitModelFiles('/m/model-00001-of-00001.gguf')).toBeNull();
    rmSync(paths[2]!);
    await expect(fingerprintModelAt(paths[0]!)).rejects.toThrow(/part 3 of 3 of the split model tiny-Q8_0-00001-of-00003\.gguf, tiny-Q8_0-00003-of-00003\.gguf, cannot be read: .*ENOENT/);
    await expect(CliSession.open(join(tempDir(), 'cli.sqlite'), paths[0]!)).rejects.toThrow(/part 3 of 3/);
  });
});
