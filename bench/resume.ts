// Resume latency of a long conversation: its KV blocks swapped in from a real SQLite file against recomputing it
// (resume_speedup), and against the I/O floor measured in the same run (resume_vs_io_bound): a raw SQLite read of
// the same blobs plus a GPU upload of the same bytes, each waited for on the device. The conversation's partial
// tail block is saved with it, so the resume recomputes nothing; only the next token runs after it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine } from '../src/gpu/engine/engine';
import { layoutRecord, persistSequence, resumeFromStore } from '../src/gpu/engine/resume';
import { blockHashChain, tailBlockName } from '../src/gpu/kv/hash';
import { blockBytes, KV_BLOCK_TOKENS } from '../src/gpu/kv/layout';
import type { acquireNodeDevice } from '../src/node/dawn-device';
import { openGgufFile } from '../src/node/file-source';
import { ConversationRepository } from '../src/store/conversations';
import { openDatabase, type Db } from '../src/store/database';
import { KvBlockStore } from '../src/store/kv-store';

export interface ResumeFigures {
  readonly context: number;
  readonly recompute_ms: number;
  /** Restore (every block, the tail included, on the device) plus the next token. */
  readonly swap_in_ms: number;
  /** The restore alone, waited for on the device. */
  readonly restore_ms: number;
  /** Raw SQLite read of the same blobs plus a GPU upload of the same bytes, waited for. */
  readonly io_bound_ms: number;
  readonly resume_speedup: number;
  readonly resume_vs_io_bound: number;
  readonly resume_mb_per_s: number;
  readonly reused_tokens: number;
  readonly bytes: number;
}

type Gpu = Awaited<ReturnType<typeof acquireNodeDevice>>;

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

setFlagsFromString('--expose-gc');
/**
 * A full garbage collection before each timed section: the garbage of the set-up (a model load, a store filled
 * with hundreds of MB) is otherwise collected inside whichever section runs first.
 */
const collectGarbage = runInNewContext('gc') as () => void;

/** Process CPU time (every thread: JavaScript, SQLite, the driver's), in ms, since `since`. */
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

/** The floor a resume is measured against: read the blobs with one prepared statement, upload them, wait. */
async function ioBound(gpu: Gpu, db: Db, names: readonly string[]): Promise<{ ms: number; cpuMs: number }> {
  const select = db.prepare('SELECT bytes FROM kv_blocks WHERE hash = ?').pluck();
  collectGarbage();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const blobs = db.transaction(() => names.map((n) => select.get(n) as Buffer))();
  const total = blobs.reduce((n, b) => n + b.byteLength, 0);
  const target = gpu.device.createBuffer({ size: total, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }); // (total) bytes
  let at = 0;
  for (const b of blobs) {
    gpu.device.queue.writeBuffer(target, at, b.buffer, b.byteOffset, b.byteLength);
    at += b.byteLength;
  }
  await gpu.device.queue.onSubmittedWorkDone();
  const ms = performance.now() - t0;
  const cpu = cpuMs(cpu0);
  target.destroy();
  return { ms, cpuMs: cpu };
}

/**
 * A `context`-token conversation resumed two ways in the same run: recomputing it (prefill) versus swapping its KV
 * blocks and its tail block in from a real SQLite file (read, check, upload), each followed by the same next token.
 */
export async function resumeBenchmark(gpu: Gpu, path: string, context: number): Promise<ResumeFigures> {
  const { file, close } = await openGgufFile(path);
  const dir = await mkdtemp(join(tmpdir(), 'kvchat-bench-resume-'));
  const db = openDatabase(join(dir, 'store.sqlite'));
  try {
    const fingerprint = `bench-${path}`;
    const conversationId = new ConversationRepository(db).createConversation({ title: 'resume' }).id;
    const engine = await Engine.load(gpu, file, { maxSeqs: 1, maxBatchTokens: 256, kvBlocks: Math.ceil(context / KV_BLOCK_TOKENS) * 2 + 4, modelFingerprint: fingerprint });
    // One token short of a block multiple, as a conversation usually is: there is a tail block to keep.
    const history = Array.from({ length: context - 1 }, (_, i) => 3 + ((i * 7919) % (engine.config.vocabSize - 3)));
    const store = new KvBlockStore(db);
    const t0 = performance.now();
    const a = engine.createSequence();
    const first = await engine.generate(a, history, { maxNewTokens: 1 });
    const recompute = performance.now() - t0;
    const { hashes } = await persistSequence(engine, a, fingerprint, store, { conversationId });
    store.saveConversationKv(conversationId, { modelFingerprint: fingerprint, tokens: [...history, ...first.tokens], computed: history.length, blockHashes: hashes });
    engine.releaseSequence(a);
    engine.clearKvCache(); // the blocks must come from SQLite, not from the GPU pool's or RAM's cache

    const saved = [...history, ...first.tokens]; // the sampled token is pending, as a saved conversation's last
    const t1 = performance.now();
    const b = engine.createSequence();
    const r = await resumeFromStore(engine, b, fingerprint, saved, store, { conversationId, computed: history.length });
    await gpu.device.queue.onSubmittedWorkDone();
    const restore = performance.now() - t1;
    await engine.generate(b, saved.slice(r.reusedTokens), { maxNewTokens: 1 });
    const swapIn = performance.now() - t1;
    engine.destroy();

    const io = (await ioBound(gpu, db, hashes)).ms;
    const bytes = store.usage().bytes;
    return {
      context,
      recompute_ms: round(recompute),
      swap_in_ms: round(swapIn),
      restore_ms: round(restore),
      io_bound_ms: round(io),
      resume_speedup: round(recompute / swapIn, 2),
      resume_vs_io_bound: round(io / restore, 3),
      resume_mb_per_s: round(bytes / 1e6 / (restore / 1000), 1),
      reused_tokens: r.reusedTokens,
      bytes,
    };
  } finally {
    db.close();
    await close();
    await rm(dir, { recursive: true, force: true });
  }
}

export interface ResumeIoFigures {
  readonly context: number;
  readonly restore_ms: number;
  readonly io_bound_ms: number;
  readonly resume_vs_io_bound: number;
  /** Process CPU time (all threads) of the restore and of the floor: steadier than wall time on a shared machine. */
  readonly restore_cpu_ms: number;
  readonly io_bound_cpu_ms: number;
  readonly reused_tokens: number;
  readonly bytes: number;
}

/**
 * resume_vs_io_bound alone, without the prefill that computes the blocks (minutes at 16K tokens on a CPU driver):
 * the store is filled with blocks of arbitrary bytes under the names the history gives, so the restore does all
 * its real work (names, batched reads, checksums, uploads) and no token is run.
 */
export async function resumeIoBenchmark(gpu: Gpu, path: string, context: number): Promise<ResumeIoFigures> {
  const { file, close } = await openGgufFile(path);
  const dir = await mkdtemp(join(tmpdir(), 'kvchat-bench-resume-io-'));
  const db = openDatabase(join(dir, 'store.sqlite'));
  try {
    const fingerprint = `bench-${path}`;
    const conversationId = new ConversationRepository(db).createConversation({ title: 'resume' }).id;
    const engine = await Engine.load(gpu, file, { maxSeqs: 1, maxBatchTokens: 256, kvBlocks: Math.ceil(context / KV_BLOCK_TOKENS) + 4, modelFingerprint: fingerprint });
    const saved = Array.from({ length: context }, (_, i) => 3 + ((i * 7919) % (engine.config.vocabSize - 3)));
    const computed = context - 1; // the last token pending, as a saved conversation's
    const root = engine.kv.chainRoot;
    const layout = layoutRecord(engine.pool.layout);
    const size = blockBytes(engine.pool.layout);
    const store = new KvBlockStore(db);
    const names = blockHashChain(root, saved.slice(0, computed));
    for (let i = 0; i < names.length; i += 64) {
      store.putBlocks(names.slice(i, i + 64).map((hash, j) => ({ hash, modelFingerprint: fingerprint, layout, bytes: new Uint8Array(size).fill((i + j) & 0xff) })));
    }
    const tail = tailBlockName(root, conversationId, saved, computed);
    store.putBlocks([{ hash: tail, modelFingerprint: fingerprint, layout: { ...layout, tail: true }, bytes: new Uint8Array(size).fill(7) }]);
    store.saveConversationKv(conversationId, { modelFingerprint: fingerprint, tokens: saved, computed, blockHashes: [...names, tail] });

    await gpu.device.queue.onSubmittedWorkDone(); // the weights' upload is not the restore's
    collectGarbage();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await resumeFromStore(engine, engine.createSequence(), fingerprint, saved, store, { conversationId, computed });
    await gpu.device.queue.onSubmittedWorkDone();
    const restore = performance.now() - t0;
    const restoreCpu = cpuMs(cpu0);
    engine.destroy();
    const io = await ioBound(gpu, db, [...names, tail]);
    return {
      context,
      restore_ms: round(restore),
      io_bound_ms: round(io.ms),
      resume_vs_io_bound: round(io.ms / restore, 3),
      restore_cpu_ms: round(restoreCpu),
      io_bound_cpu_ms: round(io.cpuMs),
      reused_tokens: r.reusedTokens,
      bytes: store.usage().bytes,
    };
  } finally {
    db.close();
    await close();
    await rm(dir, { recursive: true, force: true });
  }
}
