// Requests that arrive while a step waits, and requests that together outgrow the KV pool. A step fails only the
// request at fault: every other request completes with the tokens of its lone greedy run.
import { describe, expect, it } from 'vitest';
import { Engine, type GenerateOptions } from '../../src/gpu/engine/engine';
import type { KvBlockStoreLike, StoredKvBlock } from '../../src/gpu/kv/cache';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { testDevice } from '../helpers/gpu';
import { openModel } from '../helpers/shared';

const MODEL = 'stories260K.gguf';
const EOS = 2;

/** A block store whose reads take `ms` and can run a callback while they wait (a slow disk, another client). */
class SlowStore implements KvBlockStoreLike {
  readonly blocks = new Map<string, StoredKvBlock>();
  duringRead: (() => void) | undefined;
  reads = 0;
  failReads = false;
  constructor(private readonly ms: number) {}
  async getBlocks(hashes: readonly string[]): Promise<ReadonlyMap<string, StoredKvBlock>> {
    this.reads++;
    const during = this.duringRead;
    this.duringRead = undefined;
    during?.();
    await new Promise((r) => setTimeout(r, this.ms));
    if (this.failReads) throw new Error('the disk is gone');
    return new Map(hashes.flatMap((h) => (this.blocks.has(h) ? [[h, this.blocks.get(h)!] as const] : [])));
  }
  storedHashes(hashes: readonly string[]): ReadonlySet<string> {
    return new Set(hashes.filter((h) => this.blocks.has(h)));
  }
  putBlocks(blocks: readonly StoredKvBlock[]): void {
    for (const b of blocks) this.blocks.set(b.hash, b);
  }
}

async function run(engine: Engine, prompt: readonly number[], opts: GenerateOptions): Promise<number[]> {
  const seq = engine.createSequence();
  try {
    return (await engine.generate(seq, prompt, opts)).tokens;
  } finally {
    engine.releaseSequence(seq);
  }
}

async function loneRuns(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<number[][]> {
  const engine = await Engine.load(await testDevice(), openModel(MODEL), { maxSeqs: 1, prefixCache: false });
  try {
    const out: number[][] = [];
    for (const p of prompts) out.push(await run(engine, p, opts));
    return out;
  } finally {
    engine.destroy();
  }
}

describe('engine: concurrent requests', () => {
  it('a request queued while another waits on its prefix lookup is looked up before it is planned (no "sequence is not empty")', async () => {
    const file = openModel(MODEL);
    const tok = tokenizerFromGguf(file.metadata);
    const prompts = ['Once upon a time there was a little girl named Lily. She liked to play in the park with her friends every day after school.', 'The cat sat on the mat and looked at the big red ball that was under the table in the kitchen.', 'Tom had a toy car.'].map((p) => tok.encode(p));
    expect(prompts[0]!.length).toBeGreaterThan(32);
    const opts: GenerateOptions = { maxNewTokens: 20, stopTokens: new Set([EOS]) };
    const store = new SlowStore(30);
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 4, kvStore: store, modelFingerprint: 'test:slow-store' });
    try {
      const late: Promise<number[]>[] = [];
      // The second and third requests arrive while the first one's lookup waits on the store.
      store.duringRead = () => {
        late.push(run(engine, prompts[1]!, opts), run(engine, prompts[2]!, opts));
      };
      const first = run(engine, prompts[0]!, opts);
      const together = await Promise.all([first, ...(await waitFor(() => (late.length === 2 ? late : undefined)))]);
      expect(store.reads).toBeGreaterThanOrEqual(1);
      expect(together).toEqual(await loneRuns(prompts, opts));
      expect(engine.freeKvBlocks).toBe(engine.pool.blocks);
    } finally {
      engine.destroy();
    }
  });

  it('a store that fails its reads costs a recompute, not the request', async () => {
    const file = openModel(MODEL);
    const prompt = tokenizerFromGguf(file.metadata).encode('Once upon a time there was a little girl named Lily. She liked to play in the park with her friends.');
    const opts: GenerateOptions = { maxNewTokens: 12, stopTokens: new Set([EOS]) };
    const store = new SlowStore(1);
    store.failReads = true;
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 2, kvStore: store, modelFingerprint: 'test:failing-store' });
    try {
      const seq = engine.createSequence();
      const r = await engine.generate(seq, prompt, opts);
      expect(r.prefix?.source).toBe('recompute');
      expect(r.cachedTokens).toBe(0);
      expect(r.tokens).toEqual((await loneRuns([prompt], opts))[0]);
      engine.releaseSequence(seq);
    } finally {
      engine.destroy();
    }
  });

  it('requests that together outgrow the KV pool all complete: newer ones are preempted and recomputed, each as its lone run', async () => {
    const file = openModel(MODEL);
    const tok = tokenizerFromGguf(file.metadata);
    const prompts = ['Once upon a time', 'The little dog', 'Lily and Tom went to the park', 'One day, a big bird', 'Sam had a red ball'].map((p) => tok.encode(p));
    const opts: GenerateOptions = { maxNewTokens: 70 };
    // 8 blocks (128 positions) for five requests of ~80 positions (5-6 blocks) each: at most one runs to the end at once.
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 4, maxBatchTokens: 32, kvBlocks: 8 });
    try {
      let preemptions = 0;
      const together = await Promise.all(prompts.map(async (p) => {
        const seq = engine.createSequence();
        const r = await engine.generate(seq, p, opts);
        engine.releaseSequence(seq);
        preemptions += r.preemptions;
        return r.tokens;
      }));
      expect(preemptions).toBeGreaterThan(0);
      expect(together).toEqual(await loneRuns(prompts, opts));
      expect(engine.freeKvBlocks).toBe(engine.pool.blocks);
    } finally {
      engine.destroy();
    }
  });

  it('a request larger than the whole pool fails alone, with a clear error; the others complete', async () => {
    const file = openModel(MODEL);
    const tok = tokenizerFromGguf(file.metadata);
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 4, maxBatchTokens: 32, kvBlocks: 4 });
    try {
      const small = tok.encode('Once upon a time');
      const huge = Array.from({ length: 100 }, (_, i) => 3 + (i % 200)); // 7 blocks > 4
      const opts: GenerateOptions = { maxNewTokens: 8 };
      const [a, big, b] = await Promise.allSettled([run(engine, small, opts), run(engine, huge, opts), run(engine, small, opts)]);
      expect(big.status).toBe('rejected');
      expect(String((big as PromiseRejectedResult).reason)).toMatch(/KV cache needs .* blocks/);
      const lone = (await loneRuns([small], opts))[0];
      expect(a).toEqual({ status: 'fulfilled', value: lone });
      expect(b).toEqual({ status: 'fulfilled', value: lone });
      expect(engine.freeKvBlocks).toBe(engine.pool.blocks);
    } finally {
      engine.destroy();
    }
  });

  it('a throwing onToken callback ends its own request only', async () => {
    const file = openModel(MODEL);
    const prompt = tokenizerFromGguf(file.metadata).encode('Once upon a time');
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 4 });
    try {
      const opts: GenerateOptions = { maxNewTokens: 16 };
      const [bad, good] = await Promise.allSettled([
        run(engine, prompt, { ...opts, onToken: () => {
          throw new Error('the client callback broke');
        } }),
        run(engine, prompt, opts),
      ]);
      expect(bad.status).toBe('rejected');
      expect(good).toEqual({ status: 'fulfilled', value: (await loneRuns([prompt], opts))[0] });
    } finally {
      engine.destroy();
    }
  });
});

async function waitFor<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('engine: resuming a history whose every block is cached', () => {
  it('leaves the last block to run, so continuing with an empty prompt gives the uninterrupted tokens', async () => {
    const file = openModel(MODEL);
    const engine = await Engine.load(await testDevice(), file, { maxSeqs: 2 });
    try {
      // A 48-token history (3 full blocks) that another sequence computed and left cached.
      const history = Array.from({ length: 48 }, (_, i) => 3 + ((i * 37) % 400));
      const opts: GenerateOptions = { maxNewTokens: 8 };
      const uninterrupted = await run(engine, history, opts);
      const seq = engine.createSequence();
      const m = await engine.resumePrefix(seq, history);
      expect(m.tokens).toBe(32); // not 48: the block holding the last token runs again
      const r = await engine.generate(seq, history.slice(m.tokens), opts);
      expect(r.tokens).toEqual(uninterrupted);
      engine.releaseSequence(seq);
    } finally {
      engine.destroy();
    }
  });
});
