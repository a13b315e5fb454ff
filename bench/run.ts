// npm run -s bench -- [--quick] [--json] [--out FILE]   (--peer: against llama.cpp; --matmul: the matmul kernels alone;
// --render: the streaming answer renderer in Chromium; --download: the model downloader; --kv-types: KV cache types alone;
// --mla: multi-head latent attention's figures)
// Engine benchmarks on this machine's WebGPU device, each figure a ratio against a baseline measured in the same
// run: the device's own streaming bandwidth (a copy kernel), and naive three-pass attention.
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { acquireNodeDevice } from '../src/node/dawn-device';
import { openGgufFile } from '../src/node/file-source';
import { Engine } from '../src/gpu/engine/engine';
import { GgmlType, ggmlTypeName } from '../src/gpu/gguf/types';
import { flashDecodeGqa, naiveAttention, type PagedAttentionShape } from '../src/gpu/kernels/attention';
import { KernelContext } from '../src/gpu/kernels/context';
import { KV_BLOCK_TOKENS, layerBlockBytes, type KvLayout } from '../src/gpu/kv/layout';
import { kvMemoryBenchmark, kvTypeBenchmark, type KvTypeFigures } from './kv-memory';
import { resumeBenchmark, type ResumeFigures } from './resume';
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
    log(`resume @${context}: swap-in ${r.swap_in_ms} ms vs recompute ${r.recompute_ms} ms (${r.resume_speedup}x), ${r.resume_mb_per_s} MB/s; restore ${r.restore_ms} ms vs read + upload ${r.io_bound_ms} ms (${r.resume_vs_io_bound})`);
    resume.push(r);
  }
  // Memory accounting does not depend on the weights: the bundled tiny real model keeps it quick.
  const memory = await kvMemoryBenchmark(gpu, fileURLToPath(new URL('../resources/models/stories260K.gguf', import.meta.url)));
  log(`KV memory, mixed workload: ${memory.kv_waste_pct}% of allocated slots empty (contiguous per-context cache: ${memory.contiguous_waste_pct}%), ${memory.prefix_blocks_shared} blocks shared by prefixes`);
  const kvTypes = await measureKvTypes(gpu, dir);
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
    resume_vs_io_bound: Object.fromEntries(resume.map((r) => [r.context, r.resume_vs_io_bound])),
    kv_waste_pct: memory.kv_waste_pct,
    prefix_blocks_shared: memory.prefix_blocks_shared,
    kv_memory: memory,
    kv_types: kvTypes,
    decode,
    attention: flash,
    resume,
  };
  const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : undefined;
  if (out) await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** KV cache types (bench/kv-memory.ts): bytes per token, decode q8_0/q4_0 vs f16 KV, greedy agreement on the shared models. */
async function measureKvTypes(gpu: Awaited<ReturnType<typeof acquireNodeDevice>>, dir: string): Promise<KvTypeFigures> {
  const model = await syntheticModel(dir, quick ? SHAPES.tiny! : SHAPES['135M']!, GgmlType.Q8_0);
  const sharedDir = fileURLToPath(new URL('../../shared', import.meta.url));
  const f = await kvTypeBenchmark(gpu, model, sharedDir, quick ? 512 : 2048, quick ? 8 : 32);
  const t = f.decode.tokens_per_s;
  log(`KV types: decode ${f.decode.model} @${f.decode.context}: f32 ${t.f32}, f16 ${t.f16}, q8_0 ${t.q8_0}, q4_0 ${t.q4_0} tokens/s`);
  for (const g of f.greedy_agreement) log(`  ${g.model} ${g.reference}: q8_0 = f16 for ${g.q8_0_vs_f16}/${g.generated} tokens, q8_0 = f32 for ${g.q8_0_vs_f32}, q4_0 = f16 for ${g.q4_0_vs_f16}`);
  return f;
}

// --kv-types: the KV cache types alone (bench/kv-memory.ts).
async function kvTypesOnly(): Promise<void> {
  const gpu = await acquireNodeDevice();
  log(`device: ${gpu.adapterDescription} (f16: ${gpu.caps.f16})`);
  const f = await measureKvTypes(gpu, join(tmpdir(), 'kvchat-bench-models'));
  if (json) process.stdout.write(`${JSON.stringify({ device: gpu.adapterDescription, quick, kv_types: f })}\n`);
}

// --peer: our engine against llama.cpp on the same device and files (bench/peer).
// --matmul: the quantized matmul kernels alone (bench/matmul).
// --render: the streaming answer renderer (bench/render).
// --download: the model downloader against a plain HTTP read over loopback (bench/download).
// --tune: kernel variants chosen by measuring, against the fixed rule (bench/tune).
// --mla: multi-head latent attention's KV bytes per token and resume from SQLite (bench/mla).
const entry = args.has('--mla')
  ? import('./mla').then((m) => m.runMlaBench(process.argv.slice(2)))
  : args.has('--peer') // before --tune: `--peer --tune` is the peer bench with our kernels tuned
  ? import('./peer/run').then((m) => m.runPeerBench(process.argv.slice(2)))
  : args.has('--tune')
  ? import('./tune').then((m) => m.runTuneBench(process.argv.slice(2)))
  : args.has('--download')
  ? import('./download').then((m) => m.runDownloadBench(process.argv.slice(2)))
  : args.has('--matmul')
    ? import('./matmul').then((m) => m.runMatmulBench(process.argv.slice(2)))
    : args.has('--render')
      ? import('./render').then((m) => m.runRenderBench(process.argv.slice(2)))
      : args.has('--kv-types')
        ? kvTypesOnly()
        : main();
entry.then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
