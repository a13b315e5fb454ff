// The DeepSeek-V2 forward pass on the GPU with multi-head latent attention in the ABSORBED form (llama.cpp's MLA path
// in src/models/deepseek2.cpp): the cache holds one row per token, [latent c | RoPE key k_pe] (KvLayout.latentDim),
// and no per-head key or value is ever built. Per layer, H heads, T tokens:
//   q (T, H, qkNope + rope) = attn_q x, or attn_q_b rmsnorm(attn_q_a x)
//   c (T, kvLora) = rmsnorm(kv_a[latent rows] x);  k_pe (T, rope) = RoPE(kv_a[rope rows] x)
//   query head h = [k_b[h] q_nope[h] (kvLora) | RoPE(q_pe[h]) (rope)]: scored against the rows by the MLA kernels,
//     whose output is each head's softmax-weighted sum of latents (T, H, kvLora)
//   out head h = v_b[h] latent_out[h] (vHead);  x += attn_output out;  then the dense or MoE FFN (moe.ts).
// The CPU reference (cpu-reference-deepseek2.ts) runs the expanded form, so the two are independent.
import { flashDecodeGqa, prefillAttention, type PagedAttentionShape } from '../kernels/attention';
import type { KernelContext } from '../kernels/context';
import { encodeSwiglu } from '../kernels/elementwise';
import { encodeEmbed } from '../kernels/embed';
import { appendKv } from '../kernels/kv-append';
import { encodeMatmul } from '../kernels/matmul';
import { encodeHeadCopy, encodeHeadMatvec, type HeadSlices } from '../kernels/mla';
import { encodeRmsNorm } from '../kernels/norm';
import { encodeRope } from '../kernels/rope';
import type { KvPool } from '../kv/pool';
import type { ModelConfig } from './config';
import { mlaQueryHeadDim, type Deepseek2Traits } from './deepseek2';
import type { MlaLayerWeights } from './deepseek2-weights';
import type { Activations } from './forward';
import type { GpuWeights } from './gpu-weights';
import type { MoeFeedForward } from './moe';

export interface MlaStep {
  readonly tokens: number;
  readonly logitRows: number;
  readonly maxPos: number;
  /** Consecutive positions of one sequence: the tiled prefill kernel applies. */
  readonly prefill: boolean;
  /** The step's attention shape without MLA; latentDim is added here. */
  readonly shape: PagedAttentionShape;
}

export class MlaForward {
  private readonly t: Deepseek2Traits;
  private readonly qHead: number; // qkNope + rope: one head of the projected query
  private readonly qa: GPUBuffer | undefined; // (T, qLoraRank) low-rank query
  private readonly qFull: GPUBuffer; // (T, H, qHead) projected query [q_nope | q_pe]
  private readonly qPe: GPUBuffer; // (T, H, rope) q_pe, roped
  private readonly latent: GPUBuffer; // (T, kvLoraRank) normed latent
  private readonly kPe: GPUBuffer; // (T, rope) shared RoPE key, roped
  private readonly heads: GPUBuffer; // (T, H, vHeadDim) attention output after v_b

  constructor(
    private readonly ctx: KernelContext,
    private readonly config: ModelConfig,
    private readonly weights: GpuWeights,
    private readonly pool: KvPool,
    private readonly moe: MoeFeedForward | undefined,
    maxTokens: number,
  ) {
    if (!config.deepseek2 || !weights.mlaLayers) throw new Error(`MlaForward: ${config.architecture} is not an MLA model`);
    const t = (this.t = config.deepseek2);
    this.qHead = mlaQueryHeadDim(t, config.ropeDim);
    const f = (n: number, label: string): GPUBuffer => ctx.storage(maxTokens * n * 4, label);
    const H = config.nHeads;
    this.qa = t.qLoraRank > 0 ? f(t.qLoraRank, 'mla-q-a') : undefined;
    this.qFull = f(H * this.qHead, 'mla-q');
    this.qPe = f(H * config.ropeDim, 'mla-q-pe');
    this.latent = f(t.kvLoraRank, 'mla-latent');
    this.kPe = f(config.ropeDim, 'mla-k-pe');
    this.heads = f(H * t.vHeadDim, 'mla-heads');
  }

  /** Records the whole step; `rope` is the (cos, sin) table covering step.maxPos. */
  encode(pass: GPUComputePassEncoder, a: Activations, rope: GPUBuffer, step: MlaStep): void {
    const { ctx, config: c, weights: w } = this;
    const T = step.tokens;
    encodeEmbed(ctx, pass, w.embedding, a.tokenIds, a.x, T);
    for (let l = 0; l < c.nLayers; l++) {
      const lw = w.mlaLayers![l]!;
      encodeRmsNorm(ctx, pass, { x: a.x, weight: lw.attnNorm, y: a.xb, n: c.dim, rows: T, eps: c.normEps });
      this.attention(pass, a, rope, step, l, lw);
      encodeRmsNorm(ctx, pass, { x: a.x, weight: lw.ffnNorm, y: a.xb, n: c.dim, rows: T, eps: c.normEps });
      if (lw.moe) {
        if (!this.moe) throw new Error('MlaForward: a MoE layer in a model without a MoE config');
        this.moe.encode(pass, lw.moe, a.xb, a.x, T);
        continue;
      }
      const d = lw.dense!;
      encodeMatmul(ctx, pass, d.wGate, a.xb, a.gate, T);
      encodeMatmul(ctx, pass, d.wUp, a.xb, a.up, T);
      encodeSwiglu(ctx, pass, a.gate, a.up, T * c.ffnDim);
      encodeMatmul(ctx, pass, d.wDown, a.gate, a.x, T, { accumulate: true });
    }
    const rows = step.logitRows;
    if (rows === 0) return;
    encodeRmsNorm(ctx, pass, { x: a.x, weight: w.outputNorm, y: a.outNorm, n: c.dim, rows, eps: c.normEps, gather: a.logitRows });
    encodeMatmul(ctx, pass, w.output, a.outNorm, a.logits, rows);
  }

  /** x += attn_output(attention(xb)) for layer `l`, through the latent cache. */
  private attention(pass: GPUComputePassEncoder, a: Activations, rope: GPUBuffer, step: MlaStep, l: number, lw: MlaLayerWeights): void {
    const { ctx, config: c, t, qHead } = this;
    const T = step.tokens;
    const H = c.nHeads;
    const row = t.kvLoraRank + c.ropeDim; // one cache row; also one absorbed query head
    this.query(pass, a, T, lw);
    encodeMatmul(ctx, pass, lw.wkvLatent, a.xb, this.latent, T);
    encodeRmsNorm(ctx, pass, { x: this.latent, weight: lw.kvANorm, y: this.latent, n: t.kvLoraRank, rows: T, eps: c.normEps });
    encodeMatmul(ctx, pass, lw.wkvRope, a.xb, this.kPe, T);
    // RoPE over whole rope-wide heads: the (T, 1, rope) key and the (T, H, rope) query parts.
    const ropeShape = { ...c, headDim: c.ropeDim };
    encodeRope(ctx, pass, ropeShape, { x: this.kPe, positions: a.positions, table: rope, tokens: T, heads: 1 });
    const slices = (buffer: GPUBuffer, headStride: number, heads: number, offset = 0): HeadSlices => ({ buffer, tokenStride: heads * headStride, headStride, offset });
    encodeHeadCopy(ctx, pass, slices(this.qFull, qHead, H, t.qkNopeDim), slices(this.qPe, c.ropeDim, H), { tokens: T, heads: H, n: c.ropeDim });
    encodeRope(ctx, pass, ropeShape, { x: this.qPe, positions: a.positions, table: rope, tokens: T, heads: H });
    // The absorbed query in a.q (T, H, row): [k_b[h] q_nope[h] | q_pe[h]].
    encodeHeadMatvec(ctx, pass, lw.kB, slices(this.qFull, qHead, H), slices(a.q, row, H), { tokens: T, heads: H, rows: t.kvLoraRank, cols: t.qkNopeDim });
    encodeHeadCopy(ctx, pass, slices(this.qPe, c.ropeDim, H), slices(a.q, row, H, t.kvLoraRank), { tokens: T, heads: H, n: c.ropeDim });
    // The cache rows in a.k (T, row): [latent | k_pe].
    encodeHeadCopy(ctx, pass, slices(this.latent, t.kvLoraRank, 1), slices(a.k, row, 1), { tokens: T, heads: 1, n: t.kvLoraRank });
    encodeHeadCopy(ctx, pass, slices(this.kPe, c.ropeDim, 1), slices(a.k, row, 1, t.kvLoraRank), { tokens: T, heads: 1, n: c.ropeDim });
    const shape: PagedAttentionShape = { ...step.shape, nKvHeads: 1, headDim: row, latentDim: t.kvLoraRank };
    const paged = { pool: this.pool.layers[l]!, blockTables: a.tables, tokenSeq: a.slots, tokenPos: a.positions };
    appendKv(ctx, pass, shape, { ...paged, k: a.k }, T);
    // a.attn (T, H, kvLora): each head's softmax-weighted sum of the rows' latents.
    const opts = { nTokens: T, scale: t.attnScale };
    if (step.prefill) prefillAttention(ctx, pass, shape, { ...paged, q: a.q, o: a.attn }, opts);
    else flashDecodeGqa(ctx, pass, shape, { ...paged, q: a.q, o: a.attn }, { ...opts, maxContext: step.maxPos + 1 });
    encodeHeadMatvec(ctx, pass, lw.vB, slices(a.attn, t.kvLoraRank, H), slices(this.heads, t.vHeadDim, H), { tokens: T, heads: H, rows: t.vHeadDim, cols: t.kvLoraRank });
    encodeMatmul(ctx, pass, lw.wo, this.heads, a.x, T, { accumulate: true });
  }

  /** qFull (T, H, qHead) from xb: the full projection, or the low-rank one with its norm. */
  private query(pass: GPUComputePassEncoder, a: Activations, T: number, lw: MlaLayerWeights): void {
    const { ctx, config: c, t } = this;
    if (lw.wq) {
      encodeMatmul(ctx, pass, lw.wq, a.xb, this.qFull, T);
      return;
    }
    encodeMatmul(ctx, pass, lw.wqA!, a.xb, this.qa!, T);
    encodeRmsNorm(ctx, pass, { x: this.qa!, weight: lw.qANorm!, y: this.qa!, n: t.qLoraRank, rows: T, eps: c.normEps });
    encodeMatmul(ctx, pass, lw.wqB!, this.qa!, this.qFull, T);
  }

  destroy(): void {
    for (const b of [this.qa, this.qFull, this.qPe, this.latent, this.kPe, this.heads]) b?.destroy();
  }
}
