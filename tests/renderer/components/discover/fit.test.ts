// Discover's fit label for a repository whose only GGUF files are split: the repository's shape comes from the split
// model's headers (read over Range from the loopback Hub), its size is every part's, and the label equals the one
// the same model gets as a single file.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { HubService } from '../../../../src/main/models/hub-service';
import { hubFileFit, shapeProbeFile } from '../../../../src/renderer/src/components/discover/fit';
import type { HubModelFile, HubRepositoryFiles } from '../../../../src/shared/api';
import type { FitDevice, FitOptions } from '../../../../src/shared/model-fit';
import { startHubServer, type HubServer } from '../../../helpers/hub-server';
import { splitGgufBytes } from '../../../helpers/split-gguf';
import { sharedModel, tempDb } from '../../../helpers/temp';

const SPLIT_REPO = 'test/stories260K-split-GGUF';
const SINGLE_REPO = 'test/stories260K-GGUF';
const bytes = new Uint8Array(readFileSync(sharedModel('stories260K.gguf')));
const parts = splitGgufBytes(bytes, 3);
const partName = (i: number): string => `stories260K-F32-0000${i}-of-00003.gguf`;
const noCipher = { available: () => false, encrypt: () => Buffer.alloc(0), decrypt: () => '' };
const OPTIONS: FitOptions = { contextLength: 512, kvType: 'f16' };

const file = (f: string, size: number, parts = 1, problem: string | null = null): HubModelFile => ({ file: f, size, parts, engineReadsQuant: true, problem });
const repo = (...files: HubModelFile[]): HubRepositoryFiles => ({ repo: 'r', groups: [{ quant: 'Q4_K_M', files }] });

let hub: HubServer | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

describe('Discover fit of split models', () => {
  it('takes the shape from the smallest single file, else from the smallest complete split model', () => {
    const split = file('a-00001-of-00002.gguf', 100, 2);
    expect(shapeProbeFile(repo(file('big.gguf', 900), split, file('small.gguf', 500)))).toBe('small.gguf');
    expect(shapeProbeFile(repo(file('b-00001-of-00003.gguf', 300, 3), split))).toBe('a-00001-of-00002.gguf');
    expect(shapeProbeFile(repo(file('c-00001-of-00003.gguf', 50, 2, 'only 2 of its 3 parts are in the repository'), split))).toBe('a-00001-of-00002.gguf');
    expect(shapeProbeFile(repo(file('c-00001-of-00003.gguf', 50, 2, 'only 2 of its 3 parts are in the repository')))).toBeNull();
  });

  it('a split-only repository gets the fit label of its model: part 1’s header with every part’s tensors and bytes', async () => {
    hub = await startHubServer({
      [SPLIT_REPO]: parts.map((p, i) => ({ path: partName(i + 1), bytes: p })),
      [SINGLE_REPO]: [{ path: 'stories260K-F32.gguf', bytes }],
    });
    const service = new HubService({ db: tempDb().db, cipher: noCipher, env: { HF_ENDPOINT: hub.endpoint } });
    const listed = await service.files(SPLIT_REPO);
    const probed = shapeProbeFile(listed);
    expect(probed).toBe(partName(1));
    const entry = listed.groups.flatMap((g) => g.files).find((f) => f.file === probed)!;
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    expect(entry).toMatchObject({ size: total, parts: 3, problem: null });

    const check = await service.probe(SPLIT_REPO, probed!);
    const single = await service.probe(SINGLE_REPO, 'stories260K-F32.gguf');
    expect(check.supported).toBe(true);
    expect(check.fileSize).toBe(total);
    // Every part's tensors count, not only those of part 1.
    expect(check.shape).toEqual(single.shape);
    expect(check.shape!.weightsBytes).toBeGreaterThan(parts[0]!.byteLength);

    // A device the model barely fits by the buffer limits is where a wrong size would show: the same label and bytes.
    for (const device of [
      { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27, memoryBytes: 16 * 2 ** 30 },
      { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27, memoryBytes: 100 * 2 ** 20 },
    ] satisfies FitDevice[]) {
      const split = hubFileFit(entry.size, check, device, OPTIONS);
      const whole = hubFileFit(bytes.byteLength, single, device, OPTIONS);
      expect(split).not.toBeNull();
      expect(split!.weightsBytes).toBe(single.shape!.weightsBytes);
      expect(split!.label).toBe(whole!.label);
    }
  });
});
