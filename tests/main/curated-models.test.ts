// The curated list (resources/curated-models.json) offers only models the engine runs today: an architecture of
// SUPPORTED_ARCHITECTURES, one file (not a split part) in a quantization the engine reads, and a reason to pick it.
import { describe, expect, it } from 'vitest';
import { HubService } from '../../src/main/models/hub-service';
import { engineReadsQuant, quantOfFileName, splitPart } from '../../src/node/hub/quant';
import { SUPPORTED_ARCHITECTURES } from '../../src/gpu/model/config';
import curatedJson from '../../resources/curated-models.json';
import { tempDb } from '../helpers/temp';

const entries = (curatedJson as { models: Record<string, unknown>[] }).models;

describe('curated models', () => {
  it.each(entries.map((e) => [e.name as string, e]))('%s runs on the engine', (_, e) => {
    expect(SUPPORTED_ARCHITECTURES).toContain(e.architecture);
    const quant = quantOfFileName(e.file as string);
    expect(quant, `${e.file as string} names no quantization`).not.toBeNull();
    expect(engineReadsQuant(quant!), `${quant} is not a type the engine reads`).toBe(true);
    expect(splitPart(e.file as string)).toBeNull();
    expect(e.file).toMatch(/\.gguf$/);
    expect(e.repo).toMatch(/^[\w.-]+\/[\w.-]+$/);
    expect(typeof e.why === 'string' && e.why.trim().length > 10).toBe(true);
    expect(e.size).toBeGreaterThan(100 * 2 ** 20);
  });

  it('is short, without duplicates, and read whole by the Hub service (offline)', () => {
    expect(entries.length).toBeGreaterThanOrEqual(4);
    expect(entries.length).toBeLessThanOrEqual(12);
    expect(new Set(entries.map((e) => `${e.repo as string}/${e.file as string}`)).size).toBe(entries.length);
    const { db } = tempDb();
    const service = new HubService({ db, cipher: { available: () => false, encrypt: () => Buffer.alloc(0), decrypt: () => '' }, fetch: () => Promise.reject(new Error('no network in this test')) });
    expect(service.curated().map((m) => [m.name, m.architecture])).toEqual(entries.map((e) => [e.name, e.architecture]));
  });
});
