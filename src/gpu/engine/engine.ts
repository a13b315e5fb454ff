// The generation engine: model weights and the paged KV pool on one device, sequences with block tables, and a
// scheduler that batches every running request into each step (continuous batching: requests join and leave
// between steps). Each step reads back only the sampled token ids.
import type { GpuContext } from '../device';
import { GpuError } from '../device';
import type { GgufFile } from '../gguf/reader';
import { KernelContext } from '../kernels/context';
import { useDecodeKeysPerSplit, useDecodeTiling } from '../kernels/attention';
import { useGemmVariant, useMatvecVariant } from '../kernels/matmul';
import { GpuSampler } from '../kernels/sampling';
import { usesLongRopeFactors } from '../model/rope-scaling';
import { KvCapacityError } from '../kv/block-manager';
import { KvCache, type KvBlockStoreLike, type KvStats, type PrefixMatch } from '../kv/cache';
import { KV_BLOCK_TOKENS, layerBlockBytes } from '../kv/layout';
import { KvPool } from '../kv/pool';
import { readBlocks, writeBlocks } from '../kv/swap';
import { readModelConfig, type ModelConfig } from '../model/config';
import { ForwardPass, type StepPlan, type StepToken } from '../model/forward';
import { destroyGpuWeights, loadGpuWeights, type GpuWeights } from '../model/gpu-weights';
import { planContextShift, shiftedTokens, shiftReport, type ContextPolicy, type ContextShift, type ShiftingPolicy } from './context-shift';
import { planEngineSizing } from './engine-sizing';
import type { EngineOptions, GenerateOptions, GenerateResult, StopReason } from './engine-types';
import { normalizeSamplingParams, type SamplingParams } from './sampling-params';
import { scheduleStep, type BlockLedger, type QueuedRequest } from './scheduler';

export type { ContextPolicy, ContextShift } from './context-shift';
export type { EngineOptions, GenerateOptions, GenerateResult, StopReason } from './engine-types';

interface SequenceState {
  /** Tokens whose K/V are in the pool, positions 0..computed-1. */
  computed: number;
  /** Their ids (block hashes and persistence need them). */
  readonly tokens: number[];
  /** Tokens appended but not yet run through the model (a sampled token waits here for the next step). */
  pending: number[];
  busy: boolean;
}

/** A queued request as the scheduler sees it at the start of a step. */
interface Queued extends QueuedRequest {
  readonly request: Request;
}

interface Request {
  /** Arrival order: the older of two requests is never preempted for the newer. */
  readonly serial: number;
  readonly seq: number;
  readonly opts: GenerateOptions;
  readonly sampling: SamplingParams;
  readonly started: number;
  readonly generated: number[];
  readonly recent: number[];
  firstTokenAt: number;
  firstLogits?: Float32Array;
  resolve: (r: GenerateResult) => void;
  reject: (e: unknown) => void;
  promptTokens: number;
  cachedTokens: number;
  /** A new sequence: look its prompt's prefix up in the cache before the first step. */
  matchPrefix: boolean;
  prefix?: PrefixMatch & { readonly ms: number };
  readonly contextShifts: ContextShift[];
  /** Times its blocks were taken back for an older request (it then ran its tokens again). */
  preemptions: number;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export class Engine {
  readonly ctx: KernelContext;
  readonly maxSeqs: number;
  readonly maxBatchTokens: number;
  readonly kv: KvCache;
  private readonly forward: ForwardPass;
  private readonly sampler: GpuSampler;
  private readonly sequences = new Map<number, SequenceState>();
  private readonly queue: Request[] = [];
  private nextSeqId = 1;
  private nextRequestSerial = 0;
  private readonly prefixCache: boolean;
  private running: Promise<void> | undefined;

  private constructor(
    gpu: GpuContext,
    readonly config: ModelConfig,
    private readonly weights: GpuWeights,
    readonly pool: KvPool,
    opts: Required<Pick<EngineOptions, 'maxSeqs' | 'maxBatchTokens' | 'prefixCache' | 'ramBytes' | 'modelFingerprint'>> & Pick<EngineOptions, 'kvStore'>,
    ctx: KernelContext,
  ) {
    this.ctx = ctx;
    this.maxSeqs = opts.maxSeqs;
    this.maxBatchTokens = opts.maxBatchTokens;
    this.prefixCache = opts.prefixCache;
    this.kv = new KvCache({
      numBlocks: pool.blocks,
      layout: pool.layout,
      modelFingerprint: opts.modelFingerprint,
      // K depends on LongRoPE's factor set, which the context length at load picks (rope-scaling.ts).
      ...(usesLongRopeFactors(config) ? { kvVariant: 'longrope-long-factors' } : {}),
      ramBytes: opts.ramBytes,
      ...(opts.kvStore ? { store: opts.kvStore } : {}),
      io: {
        copy: (copies) => {
          for (const c of copies) this.copyBlock(c.src, c.dst);
        },
        readOut: (slots) => readBlocks(ctx, pool, slots),
        writeIn: (blocks) => writeBlocks(ctx, pool, blocks),
      },
    });
    const maxBlocksPerSeq = Math.ceil(config.contextLength / KV_BLOCK_TOKENS);
    this.forward = new ForwardPass(ctx, config, weights, pool, { maxTokens: opts.maxBatchTokens, maxSeqs: opts.maxSeqs, maxBlocksPerSeq });
    this.sampler = new GpuSampler(ctx, opts.maxSeqs, config.vocabSize);
    void gpu;
  }

  /** Loads a GGUF model onto the device; fails with a clear error before uploading what cannot fit. */
  static async load(gpu: GpuContext, file: GgufFile, opts: EngineOptions = {}): Promise<Engine> {
    const { config, layout, maxSeqs, maxBatchTokens, kvBlocks } = planEngineSizing(gpu, readModelConfig(file.header), opts);
    const ctx = new KernelContext(gpu);
    useMatvecVariant(ctx, opts.matvecVariant);
    useGemmVariant(ctx, opts.gemmVariant);
    useDecodeKeysPerSplit(ctx, opts.decodeKeysPerSplit);
    useDecodeTiling(ctx, opts.decodeTiling);
    gpu.device.pushErrorScope('out-of-memory');
    const weights = await loadGpuWeights(ctx, file, config, opts.onProgress);
    const pool = new KvPool(ctx, layout, kvBlocks);
    const oom = await gpu.device.popErrorScope();
    if (oom) {
      destroyGpuWeights(weights);
      pool.destroy();
      throw new GpuError('limit-exceeded', `the model (${(weights.bytes / 2 ** 20).toFixed(0)} MiB of weights) and its KV cache do not fit in this GPU's memory: ${oom.message}`);
    }
    if (opts.kvStore && !opts.modelFingerprint) throw new Error('a KV store needs the model file\'s fingerprint (EngineOptions.modelFingerprint)');
    return new Engine(gpu, config, weights, pool, {
      maxSeqs,
      maxBatchTokens,
      prefixCache: opts.prefixCache ?? true,
      ramBytes: opts.ramBytes ?? 256 * 2 ** 20,
      modelFingerprint: opts.modelFingerprint ?? `local:${config.architecture}:${file.header.tensors.length}:${file.header.dataOffset}`,
      ...(opts.kvStore ? { kvStore: opts.kvStore } : {}),
    }, ctx);
  }

  createSequence(): number {
    const id = this.nextSeqId++;
    this.kv.addSequence(id);
    this.sequences.set(id, { computed: 0, tokens: [], pending: [], busy: false });
    return id;
  }

  /** A new sequence sharing all of `seq`'s K/V blocks (regenerate, several candidate answers); copy-on-write. */
  forkSequence(seq: number): number {
    const s = this.state(seq);
    if (s.busy) throw new Error(`sequence ${seq} is generating; fork it between steps`);
    const id = this.nextSeqId++;
    this.kv.fork(seq, id);
    this.sequences.set(id, { computed: s.computed, tokens: [...s.tokens], pending: [...s.pending], busy: false });
    return id;
  }

  /** Tokens of the sequence, computed or pending. */
  sequenceLength(seq: number): number {
    const s = this.state(seq);
    return s.computed + s.pending.length;
  }

  releaseSequence(seq: number): void {
    const s = this.state(seq);
    if (s.busy) throw new Error(`sequence ${seq} is generating; abort it first`);
    this.kv.removeSequence(seq);
    this.sequences.delete(seq);
  }

  /** Token ids whose K/V are in the pool, then those appended but not yet run. */
  sequenceTokens(seq: number): { readonly computed: readonly number[]; readonly pending: readonly number[] } {
    const s = this.state(seq);
    return { computed: s.tokens, pending: s.pending };
  }

  /**
   * Gives an empty sequence the K/V of `tokens`' first `blocks.length` full blocks from stored bytes (a resumed
   * conversation): those positions are never recomputed. The bytes were checked against this model's layout.
   */
  restoreBlocks(seq: number, tokens: readonly number[], blocks: readonly Uint8Array[]): void {
    const s = this.state(seq);
    if (s.busy || s.computed > 0 || s.pending.length > 0) throw new Error(`sequence ${seq} is not empty; restore blocks into a new sequence`);
    const n = blocks.length * KV_BLOCK_TOKENS;
    if (tokens.length < n) throw new RangeError(`${blocks.length} blocks need ${n} tokens, got ${tokens.length}`);
    this.kv.reserve(seq, n, 0);
    const table = this.kv.table(seq);
    writeBlocks(this.ctx, this.pool, blocks.map((bytes, i) => ({ slot: table[i]!, bytes })));
    s.computed = n;
    s.tokens.push(...tokens.slice(0, n));
    this.kv.commit(seq, s.tokens);
  }

  /**
   * Gives the empty sequence `seq` the K/V of the longest prefix of `tokens` (whole blocks) that any cache tier
   * holds: the GPU pool, host RAM, or `store` (default: the engine's kvStore). The caller then generates the rest.
   */
  async resumePrefix(seq: number, tokens: readonly number[], store?: KvBlockStoreLike): Promise<PrefixMatch> {
    const s = this.state(seq);
    if (s.busy || s.computed > 0 || s.pending.length > 0) throw new Error(`sequence ${seq} is not empty; resume into a new sequence`);
    // Never the block holding the last token: at least one token must be left to run, or a continuation with an
    // empty prompt would find nothing to compute (the engine's own prefix match keeps the same rule).
    const m = await this.kv.matchPrefix(seq, tokens, Math.floor((tokens.length - 1) / KV_BLOCK_TOKENS), store ?? this.kv.store);
    s.computed = m.tokens;
    s.tokens.push(...tokens.slice(0, m.tokens));
    return m;
  }

  /** The bytes of the sequence's partial last block (positions [16 * floor(computed / 16), computed)); null if none. */
  async exportTailBlock(seq: number): Promise<Uint8Array | null> {
    const s = this.state(seq);
    if (s.computed % KV_BLOCK_TOKENS === 0) return null;
    const [bytes] = await readBlocks(this.ctx, this.pool, [this.kv.table(seq)[Math.floor(s.computed / KV_BLOCK_TOKENS)]!]);
    return bytes!;
  }

  /**
   * Extends `seq`, which holds exactly the full blocks before position `upto`, with the K/V of its partial tail
   * block (positions [16 * floor(upto / 16), upto) of `tokens`) from a conversation's own saved bytes, checked
   * against this model's layout: those positions are never recomputed. The block is not named for prefix sharing.
   */
  restoreTailBlock(seq: number, tokens: readonly number[], upto: number, bytes: Uint8Array): void {
    const s = this.state(seq);
    const from = upto - (upto % KV_BLOCK_TOKENS);
    if (s.busy || s.pending.length > 0 || s.computed !== from || upto === from || tokens.length < upto) {
      throw new Error(`sequence ${seq} holds ${s.computed} tokens; a tail block up to ${upto} needs exactly ${from}, idle`);
    }
    this.kv.reserve(seq, upto, from);
    writeBlocks(this.ctx, this.pool, [{ slot: this.kv.table(seq)[from / KV_BLOCK_TOKENS]!, bytes }]);
    s.computed = upto;
    s.tokens.push(...tokens.slice(from, upto));
  }

  /** The bytes of the sequence's full blocks [from, computed / 16), for persisting. */
  exportBlocks(seq: number, from = 0): Promise<Uint8Array[]> {
    const s = this.state(seq);
    const full = Math.floor(s.computed / KV_BLOCK_TOKENS);
    return readBlocks(this.ctx, this.pool, this.kv.table(seq).slice(from, full));
  }

  /** Forgets every cached block of no sequence, in the GPU pool and in RAM (the store keeps its copies). */
  clearKvCache(): void {
    this.kv.clearIdle();
  }

  /** KV blocks a new sequence can take now: free ones and idle cached ones (evicted on demand). */
  get freeKvBlocks(): number {
    return this.kv.freeBlocks;
  }

  /** The KV cache's figures and each GPU block's state (0 free, 1 used, 2 shared, 3 cached), for the UI. */
  kvSnapshot(): KvStats & { readonly states: Uint8Array } {
    return { ...this.kv.stats(), states: this.kv.blockStates() };
  }

  /**
   * Appends `prompt` to the sequence and samples up to `maxNewTokens` tokens. Runs batched with every other
   * request in flight. The last sampled token stays pending in the sequence, so a later call continues from it.
   */
  generate(seq: number, prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
    const s = this.state(seq);
    if (s.busy) return Promise.reject(new Error(`sequence ${seq} is already generating`));
    for (const t of prompt) {
      if (!Number.isInteger(t) || t < 0 || t >= this.config.vocabSize) return Promise.reject(new RangeError(`token ${t} is outside the vocabulary (0..${this.config.vocabSize - 1})`));
    }
    const policy: ContextPolicy = opts.contextPolicy ?? { kind: 'stop' };
    if (policy.kind !== 'stop' && (!Number.isInteger(policy.keepTokens ?? 0) || (policy.keepTokens ?? 0) < 0 || (policy.keepTokens ?? 0) >= this.config.contextLength / 2)) {
      return Promise.reject(new RangeError(`keepTokens must be an integer from 0 to half the context (${this.config.contextLength / 2})`));
    }
    s.pending.push(...prompt);
    if (s.pending.length === 0) return Promise.reject(new Error('nothing to run: the prompt is empty and the sequence has no pending token'));
    const shifts: ContextShift[] = [];
    if (s.computed + s.pending.length > this.config.contextLength) {
      const needed = s.computed + s.pending.length;
      if (policy.kind !== 'stop') shifts.push(this.shiftContext(s, seq, policy));
      if (s.computed + s.pending.length > this.config.contextLength) {
        s.pending.length -= prompt.length;
        return Promise.reject(new RangeError(`the prompt needs ${needed} positions; the model's context is ${this.config.contextLength}`));
      }
    }
    s.busy = true;
    return new Promise<GenerateResult>((resolve, reject) => {
      this.queue.push({
        serial: this.nextRequestSerial++,
        seq,
        opts,
        sampling: normalizeSamplingParams(opts.sampling ?? {}),
        started: now(),
        generated: [],
        recent: [],
        firstTokenAt: 0,
        resolve,
        reject,
        promptTokens: s.pending.length,
        cachedTokens: 0,
        matchPrefix: this.prefixCache && s.computed === 0 && s.tokens.length === 0,
        contextShifts: shifts,
        preemptions: 0,
      });
      this.running ??= this.loop();
    });
  }

  private state(seq: number): SequenceState {
    const s = this.sequences.get(seq);
    if (!s) throw new Error(`no sequence ${seq}`);
    return s;
  }

  /**
   * Steps until the queue is empty. `running` is cleared in the same turn as the final empty-queue check, so a
   * request queued at any later moment starts a new loop (clearing it in a `.finally` callback a few microtasks
   * later would strand a request that arrives in between). A step fails only the requests it is about; an error
   * that names none (a bug) fails the queue rather than spinning on it.
   */
  private async loop(): Promise<void> {
    try {
      // No step before `running` holds this loop: a step may call back into generate synchronously (a request queued
      // from inside a store read), which must find the loop running, not start a second one beside it.
      await Promise.resolve();
      while (this.queue.length > 0) {
        try {
          await this.step();
        } catch (e) {
          for (const r of this.queue.splice(0)) this.finish(r, undefined, e);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  /**
   * Picks this step's tokens (the scheduler decides; see scheduler.ts) and reserves their KV blocks. A request
   * whose blocks are taken back for an older one is preempted and recomputed later, as vLLM does; a request that
   * cannot fit even so fails alone.
   */
  private plan(): { plan: StepPlan; requests: Request[]; sampled: Request[] } {
    const queued = this.queue.filter((r) => !r.matchPrefix).map((request): Queued => {
      const s = this.state(request.seq);
      return { request, serial: request.serial, computed: s.computed, pending: s.pending.length };
    });
    const schedule = scheduleStep(queued, { maxSeqs: this.maxSeqs, maxBatchTokens: this.maxBatchTokens }, this.ledger);
    for (const f of schedule.failed) {
      const short = `the KV cache needs ${f.needed} more blocks for sequence ${f.request.request.seq} but ${f.free} are free`;
      this.finish(f.request.request, undefined, new KvCapacityError(`${short}: the sequence needs ${Math.ceil(f.end / KV_BLOCK_TOKENS)} blocks of the pool's ${this.pool.blocks}, and the rest are held by sequences that are not generating`));
    }
    const tokens: StepToken[] = [];
    const tables: number[][] = [];
    const logitRows: number[] = [];
    const requests: Request[] = [];
    const sampled: Request[] = [];
    for (const run of schedule.runs) {
      const r = run.request.request;
      const s = this.state(r.seq);
      const slot = tables.length;
      tables.push([...this.kv.table(r.seq)]);
      for (let i = 0; i < run.tokens; i++) tokens.push({ slot, token: s.pending[i]!, pos: s.computed + i });
      requests.push(r);
      if (run.samples) {
        logitRows.push(tokens.length - 1);
        sampled.push(r);
      }
    }
    return { plan: { tokens, tables, logitRows }, requests, sampled };
  }

  /** The scheduler's view of the KV pool; a release preempts the request. */
  private readonly ledger: BlockLedger<Queued> = {
    freeBlocks: () => this.kv.freeBlocks,
    blocksNeeded: (q, end) => this.kv.blocksNeeded(q.request.seq, end, q.computed),
    reserve: (q, end) => this.kv.reserve(q.request.seq, end, q.computed),
    holdsBlocks: (q) => this.kv.table(q.request.seq).length > 0,
    release: (q) => this.preempt(q.request),
  };

  /**
   * Gives a queued request's blocks back to the cache: its full blocks stay named by their hashes (cached, and
   * spilled to RAM rather than lost when evicted), and all of its tokens run again from its prefix lookup.
   */
  private preempt(r: Request): void {
    const s = this.state(r.seq);
    this.kv.truncate(r.seq, 0);
    s.pending = [...s.tokens, ...s.pending];
    s.tokens.length = 0;
    s.computed = 0;
    r.matchPrefix = this.prefixCache;
    r.preemptions++;
  }

  private async step(): Promise<void> {
    for (const r of this.queue.filter((q) => q.opts.signal?.aborted)) this.finish(r, 'aborted');
    // Prefix lookups may wait on the RAM and store tiers; a request queued meanwhile is looked up too before any
    // request is planned, so no block is ever reserved for a sequence whose lookup is still to come.
    for (let waiting = this.queue.filter((q) => q.matchPrefix); waiting.length > 0; waiting = this.queue.filter((q) => q.matchPrefix)) {
      for (const r of waiting) if (this.queue.includes(r)) await this.matchPrefix(r);
    }
    if (this.queue.length === 0) return;
    const { plan, requests, sampled } = this.plan();
    if (requests.length === 0) return;
    let ids: Uint32Array;
    let logits: ArrayBuffer | undefined;
    const rows = sampled.map((r) => ({ params: r.sampling, recent: r.recent, step: r.generated.length }));
    const capture = sampled.findIndex((r) => r.opts.captureFirstLogits && r.generated.length === 0);
    try {
      this.forward.writeInputs(plan);
      const enc = this.ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      this.forward.encode(pass, plan);
      if (rows.length > 0) this.sampler.encode(pass, this.forward.logits, rows);
      pass.end();
      this.ctx.device.queue.submit([enc.finish()]);
      [ids, logits] = await Promise.all([
        rows.length > 0 ? this.sampler.read(rows.length) : Promise.resolve(new Uint32Array(0)),
        capture >= 0 ? this.ctx.read(this.forward.logits, this.config.vocabSize * 4, capture * this.config.vocabSize * 4) : Promise.resolve(undefined),
      ]);
      this.ctx.checkErrors();
    } catch (e) {
      // The device failed this step: its requests fail; the others were not touched and go on (or meet the same).
      for (const r of requests) this.finish(r, undefined, e);
      return;
    }
    const perSlot = new Array<number>(requests.length).fill(0);
    for (const t of plan.tokens) perSlot[t.slot]!++;
    requests.forEach((r, slot) => {
      const s = this.state(r.seq);
      s.computed += perSlot[slot]!;
      s.tokens.push(...s.pending.splice(0, perSlot[slot]!));
      this.kv.commit(r.seq, s.tokens);
    });
    sampled.forEach((r, i) => this.accept(r, ids[i]!, i === capture ? new Float32Array(logits!) : undefined));
  }

  private accept(r: Request, token: number, logits: Float32Array | undefined): void {
    const s = this.state(r.seq);
    if (r.generated.length === 0) {
      r.firstTokenAt = now();
      if (logits) r.firstLogits = logits;
    }
    r.generated.push(token);
    r.recent.push(token);
    if (r.recent.length > r.sampling.repetitionWindow) r.recent.shift();
    s.pending.push(token);
    try {
      r.opts.onToken?.(token);
    } catch (e) {
      this.finish(r, undefined, e); // the caller's callback failed: its request ends, the batch goes on
      return;
    }
    if (r.opts.stopTokens?.has(token)) this.finish(r, 'eos');
    else if (r.generated.length >= r.opts.maxNewTokens) this.finish(r, 'max-tokens');
    else if (r.opts.signal?.aborted) this.finish(r, 'aborted');
    else if (s.computed + s.pending.length > this.config.contextLength) {
      const policy = r.opts.contextPolicy ?? { kind: 'stop' };
      if (policy.kind === 'stop') this.finish(r, 'context');
      else r.contextShifts.push(this.shiftContext(s, r.seq, policy));
    }
  }

  /**
   * Looks a new sequence's prompt up in the KV cache tiers before its first step; what is found is not computed.
   * At least the prompt's last token is always run, since its logits are needed. A tier that fails (a store that
   * cannot be read) costs a recompute, not the request.
   */
  private async matchPrefix(r: Request): Promise<void> {
    r.matchPrefix = false;
    const s = this.state(r.seq);
    const started = now();
    let m: PrefixMatch;
    try {
      m = await this.kv.matchPrefix(r.seq, s.pending, Math.floor((s.pending.length - 1) / KV_BLOCK_TOKENS));
    } catch {
      this.kv.truncate(r.seq, 0);
      m = { tokens: 0, fromGpu: 0, fromRam: 0, fromDisk: 0, rejected: 0, source: 'recompute' };
    }
    s.computed = m.tokens;
    s.tokens.push(...s.pending.splice(0, m.tokens));
    if (r.preemptions > 0) return; // its answer's figures describe its first lookup
    r.cachedTokens = m.tokens;
    r.prefix = { ...m, ms: now() - started };
  }

  /**
   * Makes room under a truncate-middle or rolling-window policy (context-shift.ts decides what stays): keeps the
   * K/V of the blocks wholly inside the head and queues every later kept token for recomputation.
   */
  private shiftContext(s: SequenceState, seq: number, policy: ShiftingPolicy): ContextShift {
    const all = [...s.tokens, ...s.pending];
    const shift = planContextShift(policy, all.length, s.computed, this.config.contextLength);
    this.kv.truncate(seq, shift.validTokens);
    s.computed = shift.validTokens;
    s.tokens.length = shift.validTokens;
    s.pending = shiftedTokens(all, shift).slice(shift.validTokens);
    return shiftReport(shift);
  }

  private finish(r: Request, reason: StopReason | undefined, error?: unknown): void {
    const i = this.queue.indexOf(r);
    if (i >= 0) this.queue.splice(i, 1);
    const s = this.sequences.get(r.seq);
    if (s) s.busy = false;
    if (reason === undefined) {
      r.reject(error);
      return;
    }
    const end = now();
    r.resolve({
      tokens: r.generated,
      stopReason: reason,
      promptTokens: r.promptTokens,
      cachedTokens: r.cachedTokens,
      contextShifts: r.contextShifts,
      preemptions: r.preemptions,
      ...(r.prefix ? { prefix: r.prefix } : {}),
      timeToFirstTokenMs: (r.firstTokenAt || end) - r.started,
      totalMs: end - r.started,
      ...(r.firstLogits ? { firstLogits: r.firstLogits } : {}),
    });
  }

  /** Copies one physical block in every layer (copy-on-write of a shared block). */
  private copyBlock(src: number, dst: number): void {
    const bytes = layerBlockBytes(this.pool.layout);
    const enc = this.ctx.device.createCommandEncoder();
    for (const layer of this.pool.layers) enc.copyBufferToBuffer(layer, src * bytes, layer, dst * bytes, bytes);
    this.ctx.device.queue.submit([enc.finish()]);
  }

  destroy(): void {
    this.forward.destroy();
    this.pool.destroy();
    destroyGpuWeights(this.weights);
    this.sampler.destroy();
  }
}
