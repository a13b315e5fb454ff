// The Llama forward pass on the GPU for one engine step: T tokens from one or more sequences, K/V written into
// and read from the paged pool through block tables, logits for the tokens that want them.
import { flashDecodeGqa, prefillAttention, type PagedAttentionShape } from '../kernels/attention';
import { appendKv } from '../kernels/kv-append';
import type { KernelContext } from '../kernels/context';
import { encodeSwiglu } from '../kernels/elementwise';
import { encodeEmbed } from '../kernels/embed';
import { encodeMatmul } from '../kernels/matmul';
import { encodeRmsNorm } from '../kernels/norm';
import { encodeRope, RopeTable } from '../kernels/rope';
import type { KvPool } from '../kv/pool';
import type { ModelConfig } from './config';
import { GemmaForward } from './gemma-forward';
import type { GpuWeights, LayerWeights, MoeBlockWeights } from './gpu-weights';
import { MlaForward } from './mla-forward';
import { MoeFeedForward } from './moe';

export interface StepToken {
  /** Row of the sequence's block table in this step's table buffer. */
  readonly slot: number;
  readonly token: number;
  /** Position in its sequence (K/V go there; attention covers 0..pos). */
  readonly pos: number;
}

export interface StepPlan {
  readonly tokens: readonly StepToken[];
  /** Block table per slot, indexed by slot. */
  readonly tables: readonly (readonly number[])[];
  /** Indices into `tokens` whose logits are computed, in the order the logits rows come out. */
  readonly logitRows: readonly number[];
}

export interface ForwardLimits {
  /** Most tokens in one step (prefill chunk plus decoding sequences). */
  readonly maxTokens: number;
  /** Most sequences in one step. */
  readonly maxSeqs: number;
  /** Most blocks in one sequence's table (context length / 16). */
  readonly maxBlocksPerSeq: number;
}

/** Scratch activations for `maxTokens` tokens; shapes in comments are (tokens, features) f32. */
export class Activations {
  readonly x: GPUBuffer; // (T, dim) residual stream
  readonly xb: GPUBuffer; // (T, dim) normed
  readonly q: GPUBuffer; // (T, nHeads * headDim)
  readonly k: GPUBuffer; // (T, nKvHeads * headDim)
  readonly v: GPUBuffer; // (T, nKvHeads * headDim)
  readonly attn: GPUBuffer; // (T, nHeads * headDim)
  readonly gate: GPUBuffer; // (T, ffnDim)
  readonly up: GPUBuffer; // (T, ffnDim)
  readonly outNorm: GPUBuffer; // (maxSeqs, dim) normed rows that produce logits
  readonly logits: GPUBuffer; // (maxSeqs, vocab)
  readonly tokenIds: GPUBuffer; // (T) u32
  readonly positions: GPUBuffer; // (T) u32
  readonly slots: GPUBuffer; // (T) u32
  readonly tables: GPUBuffer; // (maxSeqs, maxBlocksPerSeq) u32
  readonly logitRows: GPUBuffer; // (maxSeqs) u32

  constructor(ctx: KernelContext, c: ModelConfig, l: ForwardLimits) {
    const T = l.maxTokens;
    const f = (n: number, label: string): GPUBuffer => ctx.storage(n * 4, label);
    this.x = f(T * c.dim, 'x');
    this.xb = f(T * c.dim, 'xb');
    this.q = f(T * c.nHeads * c.headDim, 'q');
    this.k = f(T * c.nKvHeads * c.headDim, 'k');
    this.v = f(T * c.nKvHeads * c.headDim, 'v');
    this.attn = f(T * c.nHeads * c.headDim, 'attn');
    this.gate = f(T * c.ffnDim, 'gate');
    this.up = f(T * c.ffnDim, 'up');
    this.outNorm = f(l.maxSeqs * c.dim, 'out-norm');
    this.logits = f(l.maxSeqs * c.vocabSize, 'logits');
    this.tokenIds = f(T, 'token-ids');
    this.positions = f(T, 'positions');
    this.slots = f(T, 'slots');
    this.tables = f(l.maxSeqs * l.maxBlocksPerSeq, 'block-tables');
    this.logitRows = f(l.maxSeqs, 'logit-rows');
  }

  destroy(): void {
    for (const b of Object.values(this) as GPUBuffer[]) b.destroy();
  }
}

export class ForwardPass {
  readonly act: Activations;
  private readonly rope: RopeTable;
  /** Qwen3-MoE's expert FFN and its scratch (moe.ts). */
  private readonly moe: MoeFeedForward | undefined;
  /** Gemma 2 / 3 record their own layer sequence (gemma-forward.ts). */
  private readonly gemma: GemmaForward | undefined;
  /** DeepSeek-V2 records its own layer sequence, attention over the latent cache (mla-forward.ts). */
  private readonly mla: MlaForward | undefined;

  constructor(
    private readonly ctx: KernelContext,
    readonly config: ModelConfig,
    private readonly weights: GpuWeights,
    private readonly pool: KvPool,
    readonly limits: ForwardLimits,
  ) {
    this.act = new Activations(ctx, config, limits);
    this.rope = new RopeTable(ctx, config, weights.ropeFreqs);
    this.moe = config.moe ? new MoeFeedForward(ctx, config.dim, config.moe, limits.maxTokens) : undefined;
    this.gemma = config.gemma ? new GemmaForward(ctx, config, weights, pool) : undefined;
    this.mla = config.deepseek2 ? new MlaForward(ctx, config, weights, pool, this.moe, limits.maxTokens) : undefined;
  }

  /** The (rows, vocab) logits buffer the last `encode` wrote. */
  get logits(): GPUBuffer {
    return this.act.logits;
  }

  /** Uploads the step's inputs; call before `encode`, in the same queue order. */
  writeInputs(plan: StepPlan): void {
    const T = plan.tokens.length;
    const { maxTokens, maxSeqs, maxBlocksPerSeq } = this.limits;
    if (T < 1 || T > maxTokens) throw new RangeError(`a step holds 1 to ${maxTokens} tokens, not ${T}`);
    if (plan.tables.length > maxSeqs || plan.logitRows.length > maxSeqs) throw new RangeError(`a step holds at most ${maxSeqs} sequences`);
    const q = this.ctx.device.queue;
    q.writeBuffer(this.act.tokenIds, 0, Uint32Array.from(plan.tokens, (t) => t.token));
    q.writeBuffer(this.act.positions, 0, Uint32Array.from(plan.tokens, (t) => t.pos));
    q.writeBuffer(this.act.slots, 0, Uint32Array.from(plan.tokens, (t) => t.slot));
    const tables = new Uint32Array(plan.tables.length * maxBlocksPerSeq);
    plan.tables.forEach((t, s) => {
      if (t.length > maxBlocksPerSeq) throw new RangeError(`sequence table of ${t.length} blocks exceeds ${maxBlocksPerSeq}`);
      tables.set(t, s * maxBlocksPerSeq);
    });
    if (tables.length > 0) q.writeBuffer(this.act.tables, 0, tables);
    if (plan.logitRows.length > 0) q.writeBuffer(this.act.logitRows, 0, Uint32Array.from(plan.logitRows));
  }

  /** Records the whole forward pass for `plan` into `pass`. */
  encode(pass: GPUComputePassEncoder, plan: StepPlan): void {
    const { ctx, config: c, weights: w, act: a } = this;
    const T = plan.tokens.length;
    const maxPos = plan.tokens.reduce((m, t) => Math.max(m, t.pos), 0);
    const ropeTable = this.rope.ensure(maxPos);
    const prefill = isSingleRun(plan);
    const shape: PagedAttentionShape = {
      nHeads: c.nHeads,
      nKvHeads: c.nKvHeads,
      headDim: c.headDim,
      dtype: this.pool.layout.dtype,
      maxBlocksPerSeq: this.limits.maxBlocksPerSeq,
    };
    if (this.gemma) {
      this.gemma.encode(pass, a, ropeTable, { tokens: T, logitRows: plan.logitRows.length, maxPos, prefill, shape });
      return;
    }
    if (this.mla) {
      this.mla.encode(pass, a, ropeTable, { tokens: T, logitRows: plan.logitRows.length, maxPos, prefill, shape });
      return;
    }
    encodeEmbed(ctx, pass, w.embedding, a.tokenIds, a.x, T);
    for (let l = 0; l < c.nLayers; l++) {
      const lw: LayerWeights | MoeBlockWeights = w.moeLayers?.[l] ?? w.layers[l]!;
      encodeRmsNorm(ctx, pass, { x: a.x, weight: lw.attnNorm, y: a.xb, n: c.dim, rows: T, eps: c.normEps });
      encodeMatmul(ctx, pass, lw.wq, a.xb, a.q, T, lw.bq ? { bias: lw.bq } : {});
      encodeMatmul(ctx, pass, lw.wk, a.xb, a.k, T, lw.bk ? { bias: lw.bk } : {});
      encodeMatmul(ctx, pass, lw.wv, a.xb, a.v, T, lw.bv ? { bias: lw.bv } : {});
      if (lw.qNorm && lw.kNorm) {
        encodeRmsNorm(ctx, pass, { x: a.q, weight: lw.qNorm, y: a.q, n: c.headDim, rows: T * c.nHeads, eps: c.normEps });
        encodeRmsNorm(ctx, pass, { x: a.k, weight: lw.kNorm, y: a.k, n: c.headDim, rows: T * c.nKvHeads, eps: c.normEps });
      }
      encodeRope(ctx, pass, c, { x: a.q, positions: a.positions, table: ropeTable, tokens: T, heads: c.nHeads });
      encodeRope(ctx, pass, c, { x: a.k, positions: a.positions, table: ropeTable, tokens: T, heads: c.nKvHeads });
      const pool = this.pool.layers[l]!;
      const paged = { pool, blockTables: a.tables, tokenSeq: a.slots, tokenPos: a.positions };
      appendKv(ctx, pass, shape, { ...paged, k: a.k, v: a.v }, T);
      // gpt-oss: sink logits in every layer, a sliding window on alternate layers, a bias on the output projection.
      const window = c.gptOss?.slidingLayers[l] ? { window: c.gptOss.slidingWindow } : {};
      const attnOpts = { nTokens: T, ...window, ...(lw.sinks ? { sinks: lw.sinks } : {}) };
      if (prefill) prefillAttention(ctx, pass, shape, { ...paged, q: a.q, o: a.attn }, attnOpts);
      else flashDecodeGqa(ctx, pass, shape, { ...paged, q: a.q, o: a.attn }, { ...attnOpts, maxContext: maxPos + 1 });
      encodeMatmul(ctx, pass, lw.wo, a.attn, a.x, T, { accumulate: true, ...(lw.bo ? { bias: lw.bo } : {}) });
      encodeRmsNorm(ctx, pass, { x: a.x, weight: lw.ffnNorm, y: a.xb, n: c.dim, rows: T, eps: c.normEps });
      if ('moe' in lw) {
        this.moe!.encode(pass, lw.moe, a.xb, a.x, T);
        continue;
      }
      encodeMatmul(ctx, pass, lw.wGate, a.xb, a.gate, T);
      encodeMatmul(ctx, pass, lw.wUp, a.xb, a.up, T);
      encodeSwiglu(ctx, pass, a.gate, a.up, T * c.ffnDim);
      encodeMatmul(ctx, pass, lw.wDown, a.gate, a.x, T, { accumulate: true });
    }
    const rows = plan.logitRows.length;
    if (rows === 0) return;
    encodeRmsNorm(ctx, pass, { x: a.x, weight: w.outputNorm, y: a.outNorm, n: c.dim, rows, eps: c.normEps, gather: a.logitRows });
    encodeMatmul(ctx, pass, w.output, a.outNorm, a.logits, rows);
  }

  destroy(): void {
    this.act.destroy();
    this.rope.destroy();
    this.moe?.destroy();
    this.gemma?.destroy();
    this.mla?.destroy();
  }
}

/** True when the step is consecutive positions of one sequence (a prompt chunk): the tiled prefill kernel applies. */
function isSingleRun(plan: StepPlan): boolean {
  const t = plan.tokens;
  if (t.length < 2) return false;
  return t.every((x, i) => x.slot === t[0]!.slot && x.pos === t[0]!.pos + i);
}
