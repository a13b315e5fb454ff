// npm run -s bench -- [--quick] [--json] [--out FILE]   (--peer: against llama.cpp; --matmul: the matmul kernels alone;
// --render: the streaming answer renderer in Chromium; --download: the model downloader)
// Engine benchmarks on this machine's WebGPU device, each figure a ratio against a baseline measured in the same
// run: the device's own streaming bandwidth (a copy kernel), and naive three-pass attention.
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { acquireNodeDevice } from '../src/node/dawn-device';
import { openGgufFile } from '../src/node/file-source';
import { Engine } from '../src/gpu/engine/engine';
import { GgmlType, ggmlTypeName } from '../src/gpu/gguf/types';
import { flashDecodeGqa, naiveAttention, type PagedAttentionShape } from '../src/gpu/kernels/attention';
import { KernelContext } from '../src/gpu/kernels/context';
import { blockBytes, KV_BLOCK_TOKENS, layerBlockBytes, type KvLayout } from '../src/gpu/kv/layout';
import { persistSequence, resumeFromStore } from '../src/gpu/engine/resume';
import { openDatabase } from '../src/store/database';
import { KvBlockStore } from '../src/store/kv-store';
import { kvMemoryBenchmark } from './kv-memory';
import { SHAPES, syntheticModel } from './synthetic';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const json = args.has('--json');
const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Milliseconds per run of `record` (median of `reps` timed batches of `inner` submissions). */
async function timeGpu(ctx: KernelContext, record: (pass: GPUComputePassEncoder) => void, inner: number, reps: number): Promise<number> {
  const once = async (): Promise<void> => {
    for (let i = 0; i < inner; i++) ctx.run(record);
    await ctx.device.queue.onSubmittedWorkDone();
  };
  await once();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await once();
    times.push((performance.now() - t0) / inner);
  }
  ctx.checkErrors();
  return median(times);
}

/** Device streaming bandwidth: a vec4 copy of `mib` MiB (bytes read + written per second). */
async function copyBandwidth(ctx: KernelContext, mib: number): Promise<number> {
  const bytes = mib * 2 ** 20;
  const src = ctx.storage(bytes, 'bw-src');
  const dst = ctx.storage(bytes, 'bw-dst');
  const code = `
    @group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
    @group(0) @binding(1) var<storage, read_write> B: array<vec4<f32>>;
    @compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
      let i = g.x + g.y * n.x * 256u;
      if (i < arrayLength(&A)) { B[i] = A[i]; }
    }`;
  const pipeline = ctx.pipelines.get({ family: 'bench-copy' }, () => ({ code, entryPoint: 'main' }));
  const groups = bytes / 16 / 256;
  const [x, y] = groups > 65535 ? [65535, Math.ceil(groups / 65535)] : [groups, 1];
  const bind = ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
  const ms = await timeGpu(
    ctx,
    (pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(x, y);
    },
    quick ? 2 : 8,
    quick ? 3 : 5,
  );
  src.destroy();
  dst.destroy();
  return (2 * bytes) / (ms / 1000);
}

interface DecodeFigures {
  readonly model: string;
  readonly quant: string;
  readonly decode_tokens_per_s: number;
  readonly step_ms: number;
  readonly bytes_per_token: number;
  readonly decode_bandwidth_fraction: number;
}

/**
 * Greedy decode of `steps` tokens after a short prompt; bytes read per token = weights + the KV read. `quant` is the
 * file's type (a Q4_K file keeps some matrices in its fallback type, see synthetic.ts).
 */
async function decodeBenchmark(gpuCtx: Awaited<ReturnType<typeof acquireNodeDevice>>, path: string, quant: GgmlType, steps: number, bandwidth: number): Promise<DecodeFigures> {
  const { file, close } = await openGgufFile(path);
  try {
    const engine = await Engine.load(gpuCtx, file, { maxSeqs: 1, kvBlocks: 64 });
    const seq = engine.createSequence();
    const prompt = Array.from({ length: 16 }, (_, i) => 100 + i);
    const times: number[] = [];
    let last = 0;
    await engine.generate(seq, prompt, {
      maxNewTokens: steps + 1,
      onToken: () => {
        const t = performance.now();
        if (last) times.push(t - last);
        last = t;
      },
    });
    const c = engine.config;
    const weightBytes = file.header.tensors.reduce((n, t) => n + t.byteSize, 0) - (c.tiedEmbeddings ? 0 : file.requireTensor('token_embd.weight').byteSize);
    const layout: KvLayout = engine.pool.layout;
    const avgContext = prompt.length + steps / 2;
    const kvBytes = (layerBlockBytes(layout) / KV_BLOCK_TOKENS) * avgContext * c.nLayers;
    const stepMs = median(times);
    const perToken = weightBytes + kvBytes;
    engine.destroy();
    return {
      model: c.name,
      quant: ggmlTypeName(quant),
      decode_tokens_per_s: round(1000 / stepMs),
      step_ms: round(stepMs),
      bytes_per_token: Math.round(perToken),
      decode_bandwidth_fraction: round(perToken / (stepMs / 1000) / bandwidth, 4),
    };
  } finally {
    await close();
  }
}

/** Flash-decode vs naive three-pass attention for one decode token over `context` keys (GQA 4:1, head dim 64). */
async function attentionBenchmark(ctx: KernelContext, context: number): Promise<{ flash_ms: number; naive_ms: number; speedup: number }> {
  const shape: PagedAttentionShape = { nHeads: 32, nKvHeads: 8, headDim: 64, dtype: 'f32', maxBlocksPerSeq: Math.ceil(context / KV_BLOCK_TOKENS) };
  const layout: KvLayout = { nLayers: 1, nKvHeads: shape.nKvHeads, headDim: shape.headDim, dtype: 'f32' };
  const blocks = shape.maxBlocksPerSeq;
  const pool = ctx.storage(layerBlockBytes(layout) * blocks, 'bench-pool');
  const fill = new Float32Array(layerBlockBytes(layout) / 4);
  for (let i = 0; i < fill.length; i++) fill[i] = Math.sin(i * 0.37);
  for (let b = 0; b < blocks; b++) ctx.device.queue.writeBuffer(pool, b * fill.byteLength, fill);
  // Physical blocks in a shuffled order, as a long-lived pool would have them.
  const table = Uint32Array.from({ length: blocks }, (_, i) => (i * 7919) % blocks);
  const q = ctx.upload(Float32Array.from({ length: shape.nHeads * shape.headDim }, (_, i) => Math.cos(i)), 'bench-q');
  const bufs = {
    q,
    pool,
    blockTables: ctx.upload(table, 'bench-table'),
    tokenSeq: ctx.upload(new Uint32Array([0]), 'bench-seq'),
    tokenPos: ctx.upload(new Uint32Array([context - 1]), 'bench-pos'),
    o: ctx.storage(shape.nHeads * shape.headDim * 4, 'bench-o'),
  };
  const inner = quick ? 2 : 10;
  const reps = quick ? 3 : 7;
  const flash = await timeGpu(ctx, (pass) => flashDecodeGqa(ctx, pass, shape, bufs, { nTokens: 1, maxContext: context }), inner, reps);
  const naive = await timeGpu(ctx, (pass) => naiveAttention(ctx, pass, shape, bufs, { nTokens: 1, maxContext: context }), inner, reps);
  pool.destroy();
  return { flash_ms: round(flash, 4), naive_ms: round(naive, 4), speedup: round(naive / flash, 3) };
}

interface ResumeFigures {
  readonly context: number;
  readonly recompute_ms: number;
  readonly swap_in_ms: number;
  readonly resume_speedup: number;
  readonly resume_mb_per_s: number;
  readonly bytes: number;
}

/**
 * A `context`-token conversation resumed two ways in the same run: recomputing it (prefill) versus swapping its KV
 * blocks in from a real SQLite file (read, check, upload), each followed by the same next token.
 */
async function resumeBenchmark(gpuCtx: Awaited<ReturnType<typeof acquireNodeDevice>>, path: string, context: number): Promise<ResumeFigures> {
  const { file, close } = await openGgufFile(path);
  const dbPath = join(await mkdtemp(join(tmpdir(), 'kvchat-bench-resume-')), 'store.sqlite');
  const db = openDatabase(dbPath);
  try {
    const fingerprint = `bench-${path}`;
    const engine = await Engine.load(gpuCtx, file, { maxSeqs: 1, maxBatchTokens: 256, kvBlocks: Math.ceil(context / KV_BLOCK_TOKENS) * 2 + 4, modelFingerprint: fingerprint });
    const history = Array.from({ length: context }, (_, i) => 3 + ((i * 7919) % (engine.config.vocabSize - 3)));
    const store = new KvBlockStore(db);
    const t0 = performance.now();
    const a = engine.createSequence();
    await engine.generate(a, history, { maxNewTokens: 1 });
    const recompute = performance.now() - t0;
    await persistSequence(engine, a, fingerprint, store);
    engine.releaseSequence(a);
    engine.clearKvCache(); // the blocks must come from SQLite, not from the GPU pool's or RAM's cache
    const t1 = performance.now();
    const b = engine.createSequence();
    // The last history token is run again (its logits give the next token), so its block is not restored.
    const r = await resumeFromStore(engine, b, fingerprint, history.slice(0, -1), store);
    await engine.generate(b, history.slice(r.reusedTokens), { maxNewTokens: 1 });
    const swapIn = performance.now() - t1;
    const bytes = (r.reusedTokens / KV_BLOCK_TOKENS) * blockBytes(engine.pool.layout);
    engine.destroy();
    return {
      context,
      recompute_ms: round(recompute),
      swap_in_ms: round(swapIn),
      resume_speedup: round(recompute / swapIn, 2),
      resume_mb_per_s: round(bytes / 1e6 / (r.ms / 1000), 1),
      bytes,
    };
  } finally {
    db.close();
    await close();
  }
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const gpu = await acquireNodeDevice();
  const ctx = new KernelContext(gpu);
  log(`device: ${gpu.adapterDescription} (f16: ${gpu.caps.f16})`);
  const bandwidth = await copyBandwidth(ctx, quick ? 32 : 256);
  log(`streaming bandwidth: ${(bandwidth / 1e9).toFixed(2)} GB/s`);

  const dir = join(tmpdir(), 'kvchat-bench-models');
  const shapes = quick ? [SHAPES.tiny!] : [SHAPES['135M']!, SHAPES['1B']!];
  const decode: DecodeFigures[] = [];
  for (const shape of shapes) {
    // A Q4_K model is written once (about 0.3 us a value in JS, minutes for the 1B shape), then reused from `dir`.
    for (const quant of [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K] as const) {
      const path = await syntheticModel(dir, shape, quant);
      const f = await decodeBenchmark(gpu, path, quant, quick ? 8 : 64, bandwidth);
      log(`decode ${f.model} ${f.quant}: ${f.decode_tokens_per_s} tokens/s, ${(f.decode_bandwidth_fraction * 100).toFixed(1)}% of bandwidth`);
      decode.push(f);
    }
  }
  const flash: Record<string, { flash_ms: number; naive_ms: number; speedup: number }> = {};
  for (const context of quick ? [1024, 4096] : [1024, 4096, 16384]) {
    flash[context] = await attentionBenchmark(ctx, context);
    log(`attention @${context}: flash-decode ${flash[context]!.flash_ms} ms vs naive ${flash[context]!.naive_ms} ms (${flash[context]!.speedup}x)`);
  }
  const resume: ResumeFigures[] = [];
  const resumeModel = await syntheticModel(dir, quick ? SHAPES.tiny! : SHAPES['135M']!, GgmlType.Q8_0);
  for (const context of quick ? [1024] : [1024, 4096, 16384]) {
    const r = await resumeBenchmark(gpu, resumeModel, context);
    log(`resume @${context}: swap-in ${r.swap_in_ms} ms vs recompute ${r.recompute_ms} ms (${r.resume_speedup}x), ${r.resume_mb_per_s} MB/s`);
    resume.push(r);
  }
  // Memory accounting does not depend on the weights: the bundled tiny real model keeps it quick.
  const memory = await kvMemoryBenchmark(gpu, fileURLToPath(new URL('../resources/models/stories260K.gguf', import.meta.url)));
  log(`KV memory, mixed workload: ${memory.kv_waste_pct}% of allocated slots empty (contiguous per-context cache: ${memory.contiguous_waste_pct}%), ${memory.prefix_blocks_shared} blocks shared by prefixes`);
  const first = decode[0]!;
  const result = {
    device: gpu.adapterDescription,
    quick,
    date: new Date().toISOString(),
    bandwidth_gb_per_s: round(bandwidth / 1e9, 3),
    decode_tokens_per_s: first.decode_tokens_per_s,
    decode_bandwidth_fraction: first.decode_bandwidth_fraction,
    flash_decode_speedup: Object.fromEntries(Object.entries(flash).map(([k, v]) => [k, v.speedup])),
    resume_speedup: Object.fromEntries(resume.map((r) => [r.context, r.resume_speedup])),
    resume_mb_per_s: Object.fromEntries(resume.map((r) => [r.context, r.resume_mb_per_s])),
    kv_waste_pct: memory.kv_waste_pct,
    prefix_blocks_shared: memory.prefix_blocks_shared,
    kv_memory: memory,
    decode,
    attention: flash,
    resume,
  };
  const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : undefined;
  if (out) await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

// --peer: our engine against llama.cpp on the same device and files (bench/peer).
// --matmul: the quantized matmul kernels alone (bench/matmul).
// --render: the streaming answer renderer (bench/render).
// --download: the model downloader against a plain HTTP read over loopback (bench/download).
const entry = args.has('--download')
  ? import('./download').then((m) => m.runDownloadBench(process.argv.slice(2)))
  : args.has('--peer')
  ? import('./peer/run').then((m) => m.runPeerBench(process.argv.slice(2)))
  : args.has('--matmul')
    ? import('./matmul').then((m) => m.runMatmulBench(process.argv.slice(2)))
    : args.has('--render')
      ? import('./render').then((m) => m.runRenderBench(process.argv.slice(2)))
      : main();
entry.then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
