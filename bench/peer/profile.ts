// Per-kernel GPU time of our engine's real forward pass, from timestamp queries, without touching engine code: while
// profiling, every compute pass the engine begins is split into one pass per dispatch, each with timestampWrites,
// and each dispatch is named by its pipeline's label (the kernel family and variant key).
import { openGgufFile } from '../../src/node/file-source';
import type { GpuContext } from '../../src/gpu/device';
import { Engine } from '../../src/gpu/engine/engine';
import { GgmlType, ggmlTypeName } from '../../src/gpu/gguf/types';
import { KV_BLOCK_TOKENS, layerBlockBytes } from '../../src/gpu/kv/layout';
import { benchPrompt } from './types';

const MAX_QUERIES = 4096;

interface Dispatch {
  readonly step: number;
  readonly kernel: string;
}

/** Records a pass's state and replays each dispatch in its own timestamped pass. */
class SplittingPass {
  private pipeline: GPUComputePipeline | undefined;
  private readonly groups = new Map<number, [GPUBindGroup | null, Iterable<number> | undefined]>();
  constructor(
    private readonly enc: GPUCommandEncoder,
    private readonly begin: (desc?: GPUComputePassDescriptor) => GPUComputePassEncoder,
    private readonly profiler: PassProfiler,
    private readonly step: number,
  ) {}
  setPipeline(p: GPUComputePipeline): void {
    this.pipeline = p;
  }
  setBindGroup(i: number, g: GPUBindGroup | null, offsets?: Iterable<number>): void {
    this.groups.set(i, [g, offsets]);
  }
  dispatchWorkgroups(x: number, y = 1, z = 1): void {
    const q = this.profiler.take({ step: this.step, kernel: this.pipeline?.label ?? '?' });
    const pass = this.begin.call(this.enc, q === undefined ? undefined : { timestampWrites: { querySet: this.profiler.querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } });
    if (this.pipeline) pass.setPipeline(this.pipeline);
    for (const [i, [g, o]] of this.groups) pass.setBindGroup(i, g, o as number[] | undefined);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
  }
  end(): void {}
}

export class PassProfiler {
  readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private dispatches: Dispatch[] = [];
  private steps = 0;
  private active = false;
  private restore: (() => void) | undefined;

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
    this.resolve = device.createBuffer({ size: MAX_QUERIES * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const proto = Object.getPrototypeOf(device.createCommandEncoder()) as GPUCommandEncoder;
    const original = proto.beginComputePass;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    proto.beginComputePass = function (this: GPUCommandEncoder, desc?: GPUComputePassDescriptor): GPUComputePassEncoder {
      if (!self.active) return original.call(this, desc);
      return new SplittingPass(this, original, self, self.steps++) as unknown as GPUComputePassEncoder;
    };
    this.restore = () => {
      proto.beginComputePass = original;
    };
  }

  /** A free pair of query indices for one dispatch, or none when the set is full (that dispatch goes untimed). */
  take(d: Dispatch): number | undefined {
    if (this.dispatches.length * 2 + 2 > MAX_QUERIES) return undefined;
    this.dispatches.push(d);
    return (this.dispatches.length - 1) * 2;
  }

  start(): void {
    this.dispatches = [];
    this.steps = 0;
    this.active = true;
  }

  /** Stops recording and returns each dispatch with its GPU time in microseconds. */
  async stop(): Promise<(Dispatch & { readonly us: number })[]> {
    this.active = false;
    const n = this.dispatches.length * 2;
    if (n === 0) return [];
    const read = this.device.createBuffer({ size: n * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.resolveQuerySet(this.querySet, 0, n, this.resolve, 0);
    enc.copyBufferToBuffer(this.resolve, 0, read, 0, n * 8);
    this.device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ts = new BigUint64Array(read.getMappedRange().slice(0));
    read.destroy();
    return this.dispatches.map((d, i) => ({ ...d, us: Number(ts[2 * i + 1]! - ts[2 * i]!) / 1000 }));
  }

  dispose(): void {
    this.restore?.();
    this.restore = undefined;
    this.querySet.destroy();
    this.resolve.destroy();
  }
}

/** Kernel family and variant from a pipeline label (its `key=value;...` cache key), e.g. `matmul Q8_0 t8`. */
export function kernelName(label: string): string {
  const k = new Map(label.split(';').map((kv) => kv.split('=') as [string, string]));
  if (!k.has('family')) return label;
  const wtype = k.get('wtype');
  const parts = [
    k.get('family'),
    k.get('variant') ?? k.get('op'),
    wtype !== undefined ? ggmlTypeName(Number(wtype) as GgmlType) : undefined,
    k.get('headDim') !== undefined ? `hd${k.get('headDim')}` : undefined,
    k.get('tTile') !== undefined ? `t${k.get('tTile')}` : undefined,
    k.get('accumulate') === 'true' ? '+residual' : undefined,
    k.get('gather') === 'true' ? 'gather' : undefined,
  ];
  return parts.filter((p) => p !== undefined).join(' ');
}

export interface KernelRow {
  readonly kernel: string;
  readonly dispatches: number;
  readonly ms: number;
  readonly share: number;
}

export interface StepProfile {
  readonly what: string;
  readonly wall_ms: number;
  readonly gpu_ms: number;
  readonly kernels: KernelRow[];
  /** Bytes a decode step must read (weights except the embedding table, plus the KV cache), over the GPU time. */
  readonly weight_and_kv_gb_per_s?: number;
  readonly matmul_gb_per_s?: number;
  /** The longest single dispatches: kernel, position in the step, microseconds. */
  readonly slowest: { readonly kernel: string; readonly index: number; readonly us: number }[];
}

function summarize(what: string, rows: readonly (Dispatch & { us: number })[], wallMs: number, bytes?: { weights: number; kv: number }): StepProfile {
  const by = new Map<string, { n: number; us: number }>();
  for (const r of rows) {
    const k = kernelName(r.kernel);
    const e = by.get(k) ?? { n: 0, us: 0 };
    e.n++;
    e.us += r.us;
    by.set(k, e);
  }
  const total = rows.reduce((s, r) => s + r.us, 0);
  const kernels = [...by].map(([kernel, e]) => ({ kernel, dispatches: e.n, ms: Math.round(e.us) / 1000, share: Math.round((e.us / total) * 1000) / 1000 })).sort((a, b) => b.ms - a.ms);
  const matmulUs = kernels.filter((k) => k.kernel.startsWith('matmul')).reduce((s, k) => s + k.ms * 1000, 0);
  return {
    what,
    wall_ms: Math.round(wallMs * 100) / 100,
    gpu_ms: Math.round(total) / 1000,
    kernels,
    slowest: rows.map((r, index) => ({ kernel: kernelName(r.kernel), index, us: Math.round(r.us) })).sort((a, b) => b.us - a.us).slice(0, 6),
    ...(bytes ? { weight_and_kv_gb_per_s: Math.round(((bytes.weights + bytes.kv) / (total / 1e6) / 1e9) * 100) / 100, matmul_gb_per_s: Math.round((bytes.weights / (matmulUs / 1e6) / 1e9) * 100) / 100 } : {}),
  };
}

/**
 * Profiles one prefill of `prefillTokens` and one decode step at each context in `contexts` on `path`, each
 * after a warm-up run of the same shape (pipelines compiled).
 */
export async function profileOurs(gpu: GpuContext, path: string, prefillTokens: number, contexts: readonly number[], contextSize: number): Promise<StepProfile[]> {
  if (!gpu.caps.timestampQuery) throw new Error('this device has no timestamp-query feature; per-kernel times need it');
  const { file, close } = await openGgufFile(path);
  const engine = await Engine.load(gpu, file, { maxSeqs: 1, maxBatchTokens: 512, kvBlocks: Math.ceil(contextSize / KV_BLOCK_TOKENS) + 1, kvDtype: 'f16', prefixCache: false, ramBytes: 0 });
  const profiler = new PassProfiler(gpu.device);
  const c = engine.config;
  const weights = file.header.tensors.filter((t) => t.name !== 'token_embd.weight' || c.tiedEmbeddings).reduce((n, t) => n + t.byteSize, 0);
  const out: StepProfile[] = [];
  const generate = async (prompt: number[], maxNew: number, onToken?: () => void): Promise<void> => {
    const seq = engine.createSequence();
    await engine.generate(seq, prompt, { maxNewTokens: maxNew, sampling: { temperature: 0 }, ...(onToken ? { onToken } : {}) });
    engine.releaseSequence(seq);
  };
  try {
    const prefill = benchPrompt(prefillTokens, c.vocabSize);
    await generate(prefill, 1);
    profiler.start();
    const t0 = performance.now();
    await generate(prefill, 1);
    out.push(summarize(`prefill ${prefillTokens} tokens`, await profiler.stop(), performance.now() - t0));
    for (const context of contexts) {
      const prompt = benchPrompt(context, c.vocabSize);
      await generate(prompt, 2);
      // Profile the whole call, keep only the decode step (the last pass: prompt chunks come first).
      let stepStart = 0;
      let stepEnd = 0;
      profiler.start();
      await generate(prompt, 2, () => {
        if (stepStart) stepEnd = performance.now();
        else stepStart = performance.now();
      });
      const rows = await profiler.stop();
      const last = Math.max(...rows.map((r) => r.step));
      const kv = (layerBlockBytes(engine.pool.layout) / KV_BLOCK_TOKENS) * context * c.nLayers;
      out.push(summarize(`decode at ${context} context`, rows.filter((r) => r.step === last), stepEnd - stepStart, { weights, kv }));
    }
  } finally {
    profiler.dispose();
    engine.destroy();
    await close();
  }
  return out;
}
