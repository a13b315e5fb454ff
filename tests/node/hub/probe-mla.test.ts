// The fit estimate of a multi-head latent attention model: a deepseek2 header (the synthetic writer's bytes, read as
// the Hub probe reads a remote file) gives a shape whose KV cache is one 576-wide row a token and layer, not a K and
// a V row each.
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../../src/gpu/gguf/reader';
import { blockBytes, KV_BLOCK_TOKENS } from '../../../src/gpu/kv/layout';
import { mlaKvRow } from '../../../src/gpu/model/deepseek2';
import { readModelConfig } from '../../../src/gpu/model/config';
import { probeRemoteGguf } from '../../../src/node/hub/probe';
import { kvCacheBytes, kvKindsOf } from '../../../src/shared/model-fit';
import { SYNTHETIC_DEEPSEEK2_LITE_HEADS, syntheticDeepseek2Gguf } from '../../helpers/deepseek2-synthetic';
import { syntheticGemmaGguf } from '../../helpers/gemma-synthetic';

/** A fetch that serves `bytes` to Range requests, as the Hub's file server does. */
function rangeFetch(bytes: Uint8Array): typeof fetch {
  return (async (_url: string | URL | Request, init?: RequestInit) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(new Headers(init?.headers).get('Range') ?? '');
    if (!range) throw new Error('test server: Range requests only');
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]), bytes.byteLength - 1);
    return new Response(bytes.slice(start, end + 1), { status: 206, headers: { 'Content-Range': `bytes ${start}-${end}/${bytes.byteLength}` } });
  }) as typeof fetch;
}

const CONTEXT = 4096;

describe('fit estimate of an MLA (deepseek2) model', () => {
  const bytes = syntheticDeepseek2Gguf(SYNTHETIC_DEEPSEEK2_LITE_HEADS);

  it('the probe reads a deepseek2 header as one cached row of kvLoraRank + ropeDim a token and layer', async () => {
    const p = await probeRemoteGguf('https://hub.test/deepseek2.gguf', { fetch: rangeFetch(bytes) });
    expect(p.supported).toBe(true);
    expect(p.architecture).toBe('deepseek2');
    expect(p.shape).toMatchObject({ layers: 2, kvHeads: 1, headDim: 512 + 64, kvKinds: 1 });
    // 2 layers x 576 values x 2 bytes a token, not twice that.
    expect(kvCacheBytes(p.shape!, { contextLength: CONTEXT, kvType: 'f16' })).toBe(2 * 576 * 2 * CONTEXT);
  });

  it('agrees with the engine’s own pool layout at f16 and q8_0', () => {
    const config = readModelConfig(GgufFile.fromBytes(bytes).header);
    const row = mlaKvRow(config)!;
    for (const dtype of ['f16', 'q8_0'] as const) {
      const engineBytes = (blockBytes({ nLayers: config.nLayers, ...row, dtype }) / KV_BLOCK_TOKENS) * CONTEXT;
      const fit = kvCacheBytes({ layers: config.nLayers, kvHeads: row.nKvHeads, headDim: row.headDim, kvKinds: kvKindsOf(config.architecture) }, { contextLength: CONTEXT, kvType: dtype });
      expect(fit).toBe(engineBytes);
    }
  });

  it('a GQA model keeps a K and a V row', async () => {
    const gemma = syntheticGemmaGguf({ arch: 'gemma3', seed: 1, dim: 64, layers: 2, heads: 2, kvHeads: 1, headDim: 32, ffn: 128, vocab: 300, contextLength: 128, slidingWindow: 16, ropeBase: 1e4 });
    const p = await probeRemoteGguf('https://hub.test/gemma.gguf', { fetch: rangeFetch(gemma) });
    expect(p.shape).toMatchObject({ layers: 2, kvHeads: 1, headDim: 32, kvKinds: 2 });
    expect(kvCacheBytes(p.shape!, { contextLength: CONTEXT, kvType: 'f16' })).toBe(2 * 2 * 32 * 2 * CONTEXT);
    expect(kvKindsOf('llama')).toBe(2);
    expect(kvKindsOf('deepseek2')).toBe(1);
  });
});
