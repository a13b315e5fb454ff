// Samples the next token of S sequences on the GPU, so that a decode step reads back S * 4 bytes, not S rows
// of logits. Picks exactly the token of the CPU reference (engine/sampler-cpu.ts).
import { encodeSamplingParams, EXP2_TABLE, repetitionWindowOf } from '../engine/sampler-cpu';
import { MAX_REPETITION_WINDOW, normalizeSamplingParams, type SamplingParams } from '../engine/sampling-params';
import { COPY_DST, MAP_READ, type KernelContext } from './context';
import { dispatch, preprocess } from './shader';
import src from './sampling.wgsl?raw';

/** One sequence's sampling for this decode step. */
export interface SamplingRequest {
  readonly params: SamplingParams;
  /** The tokens generated so far, or at least the last `params.repetitionWindow` of them. */
  readonly recent: readonly number[];
  /** Decode step (u32): with `params.seed`, picks the random draw. */
  readonly step: number;
}

const HEADER_WORDS = 16;
/** Per-sequence words of the params buffer: the kernel's Header, then up to MAX_REPETITION_WINDOW recent tokens. */
export const SAMPLING_PARAM_WORDS = HEADER_WORDS + MAX_REPETITION_WINDOW;

/**
 * Per decode step, for up to `maxSeqs` sequences of a `vocab`-token model:
 *
 *     sampler.encode(pass, logits, requests); // writes this step's params now, records the dispatch
 *     pass.end(); device.queue.submit([encoder.finish()]);
 *     const ids = await sampler.read(requests.length);
 *
 * `encode` writes the parameters with `queue.writeBuffer`, which the queue executes before any command buffer
 * submitted after it, so the dispatch sees them as long as it is submitted after `encode` returns. The params
 * and output buffers are single: call `encode` once per submission, and read (or copy out) the output before
 * encoding the next step.
 */
export class GpuSampler {
  /** (maxSeqs,) u32: the sampled token id of each sequence of the last dispatch. */
  readonly output: GPUBuffer;
  private readonly params: GPUBuffer; // (maxSeqs, SAMPLING_PARAM_WORDS) u32
  private readonly table: GPUBuffer; // (257,) u32 EXP2_TABLE
  private readonly words: Uint32Array<ArrayBuffer>; // host image of `params`
  private readonly floats: Float32Array; // the same bytes, for the f32 fields
  private readonly pipeline: GPUComputePipeline;
  private readonly freeStaging: GPUBuffer[] = [];

  constructor(
    private readonly ctx: KernelContext,
    readonly maxSeqs: number,
    readonly vocab: number,
  ) {
    if (!Number.isInteger(maxSeqs) || maxSeqs < 1 || maxSeqs > ctx.caps.maxComputeWorkgroupsPerDimension) {
      throw new RangeError(`GpuSampler: maxSeqs must be an integer in [1, ${ctx.caps.maxComputeWorkgroupsPerDimension}], got ${maxSeqs}`);
    }
    // 2^22 tokens of weight <= 2^31 sum exactly in the CPU reference's doubles.
    if (!Number.isInteger(vocab) || vocab < 1 || vocab > 2 ** 22) throw new RangeError(`GpuSampler: vocab must be an integer in [1, 2^22], got ${vocab}`);
    if (maxSeqs * vocab * 4 > ctx.caps.maxStorageBufferBindingSize) {
      throw new RangeError(`GpuSampler: (${maxSeqs}, ${vocab}) f32 logits exceed this GPU's ${ctx.caps.maxStorageBufferBindingSize}-byte storage binding; sample fewer sequences per dispatch`);
    }
    this.words = new Uint32Array(maxSeqs * SAMPLING_PARAM_WORDS);
    this.floats = new Float32Array(this.words.buffer);
    this.params = ctx.storage(this.words.byteLength, 'sampling params');
    this.table = ctx.upload(EXP2_TABLE, 'sampling exp2 table');
    this.output = ctx.storage(maxSeqs * 4, 'sampled tokens');
    const defines = { RECENT_MAX: `${MAX_REPETITION_WINDOW}u`, PARAM_WORDS: `${SAMPLING_PARAM_WORDS}u` };
    this.pipeline = ctx.pipelines.get({ family: 'sampling' }, () => ({ code: preprocess(src, defines), entryPoint: 'main' }));
  }

  /**
   * Writes this step's parameters and records one dispatch: sequence s samples from row s of `logits`
   * ((seqs.length, vocab) f32) into output[s]. Throws a RangeError for invalid params or recent tokens.
   */
  encode(pass: GPUComputePassEncoder, logits: GPUBuffer | GPUBufferBinding, seqs: readonly SamplingRequest[]): void {
    if (seqs.length < 1 || seqs.length > this.maxSeqs) throw new RangeError(`GpuSampler: ${seqs.length} sequences, between 1 and ${this.maxSeqs} expected`);
    const rowsBytes = seqs.length * this.vocab * 4;
    const binding: GPUBufferBinding = 'buffer' in logits ? logits : { buffer: logits, size: rowsBytes };
    const bound = binding.size ?? binding.buffer.size - (binding.offset ?? 0);
    if (bound < rowsBytes) throw new RangeError(`GpuSampler: logits hold ${bound} bytes, (${seqs.length}, ${this.vocab}) f32 needs ${rowsBytes}`);
    seqs.forEach((s, i) => this.writeHeader(i * SAMPLING_PARAM_WORDS, s));
    this.ctx.device.queue.writeBuffer(this.params, 0, this.words, 0, seqs.length * SAMPLING_PARAM_WORDS);
    dispatch(pass, this.ctx.device, this.pipeline, [binding, this.params, this.table, this.output], [seqs.length]);
  }

  private writeHeader(at: number, s: SamplingRequest): void {
    const p = normalizeSamplingParams(s.params);
    if (!Number.isInteger(s.step) || s.step < 0) throw new RangeError(`GpuSampler: step must be an integer >= 0, got ${s.step}`);
    const enc = encodeSamplingParams(p);
    const recent = repetitionWindowOf(s.recent, p, this.vocab);
    const w = this.words;
    w[at] = enc.greedy ? 1 : 0;
    w[at + 1] = enc.topK;
    w[at + 2] = enc.topPFixed;
    w[at + 3] = enc.minPWeight;
    this.floats[at + 4] = enc.tempScale;
    this.floats[at + 5] = enc.penalty;
    this.floats[at + 6] = enc.invPenalty;
    w[at + 7] = enc.seed;
    w[at + 8] = s.step >>> 0;
    w[at + 9] = recent.length;
    w[at + 10] = this.vocab;
    w.set(recent, at + HEADER_WORDS);
  }

  /** Reads back the first `n` sampled token ids (n * 4 bytes), after everything submitted so far. */
  async read(n: number): Promise<Uint32Array> {
    const bytes = n * 4;
    const staging =
      this.freeStaging.pop() ?? this.ctx.device.createBuffer({ size: this.maxSeqs * 4, usage: COPY_DST | MAP_READ, label: 'sampled tokens readback' });
    const enc = this.ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.output, 0, staging, 0, bytes);
    this.ctx.device.queue.submit([enc.finish()]);
    await staging.mapAsync(1 /* GPUMapMode.READ */, 0, bytes);
    const ids = new Uint32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    this.freeStaging.push(staging);
    return ids;
  }

  /** Samples `seqs` from `logits` in a pass of its own and reads the ids back: for callers without a pass to share. */
  async sample(logits: GPUBuffer | GPUBufferBinding, seqs: readonly SamplingRequest[]): Promise<Uint32Array> {
    this.ctx.run((pass) => this.encode(pass, logits, seqs));
    return this.read(seqs.length);
  }

  destroy(): void {
    for (const b of [this.output, this.params, this.table, ...this.freeStaging.splice(0)]) b.destroy();
  }
}
