// The Gemma 2 / 3 forward pass on the GPU, in llama.cpp's order (src/models/gemma3.cpp, gemma2-iswa.cpp): embedding
// * sqrt(dim); per layer attn_norm -> QKV -> (Gemma 3) per-head q/k norm -> RoPE with the layer's base -> attention
// (sliding window on local layers, Gemma 2's score soft-capping) -> wo -> post_attention_norm -> residual add ->
// ffn_norm -> GeGLU -> ffn_down -> post_ffw_norm -> residual add; output_norm; logits (Gemma 2: soft-capped).
import { flashDecodeGqa, prefillAttention, type PagedAttentionShape } from '../kernels/attention';
import type { KernelContext } from '../kernels/context';
import { encodeEmbed } from '../kernels/embed';
import { encodeAdd, encodeGeglu, encodeScale, encodeSoftcap } from '../kernels/gemma';
import { appendKv } from '../kernels/kv-append';
import { encodeMatmul } from '../kernels/matmul';
import { encodeRmsNorm } from '../kernels/norm';
import { encodeRope, RopeTable } from '../kernels/rope';
import type { KvPool } from '../kv/pool';
import type { ModelConfig } from './config';
import type { Activations } from './forward';
import type { GemmaTraits } from './gemma';
import type { GpuWeights } from './gpu-weights';


export interface GemmaStep {
  readonly tokens: number;
  readonly logitRows: number;
  readonly maxPos: number;
  /** Consecutive positions of one sequence: the tiled prefill kernel applies. */
  readonly prefill: boolean;
  readonly shape: PagedAttentionShape;
}

export class GemmaForward {
  private readonly g: GemmaTraits;
  /** (cos, sin) table with the sliding layers' own RoPE base. */
  private readonly ropeLocal: RopeTable;

  constructor(
    private readonly ctx: KernelContext,
    private readonly config: ModelConfig,
    private readonly weights: GpuWeights,
    private readonly pool: KvPool,
  ) {
    if (!config.gemma) throw new Error(`GemmaForward: ${config.architecture} is not a Gemma architecture`);
    this.g = config.gemma;
    this.ropeLocal = new RopeTable(ctx, { ...config, ropeBase: config.gemma.ropeBaseLocal }, weights.ropeFreqs);
  }

  /** Records the whole step; `ropeGlobal` is the global layers' table covering step.maxPos. */
  encode(pass: GPUComputePassEncoder, a: Activations, ropeGlobal: GPUBuffer, step: GemmaStep): void {
    const { ctx, config: c, weights: w, g } = this;
    const T = step.tokens;
    const ropeLocal = this.ropeLocal.ensure(step.maxPos);
    encodeEmbed(ctx, pass, w.embedding, a.tokenIds, a.x, T);
    encodeScale(ctx, pass, a.x, g.embedScale, T * c.dim);
    for (let l = 0; l < c.nLayers; l++) {
      const lw = w.layers[l]!;
      const sliding = g.slidingLayers[l]!;
      encodeRmsNorm(ctx, pass, { x: a.x, weight: lw.attnNorm, y: a.xb, n: c.dim, rows: T, eps: c.normEps });
      encodeMatmul(ctx, pass, lw.wq, a.xb, a.q, T);
      encodeMatmul(ctx, pass, lw.wk, a.xb, a.k, T);
      encodeMatmul(ctx, pass, lw.wv, a.xb, a.v, T);
      if (lw.qNorm && lw.kNorm) {
        encodeRmsNorm(ctx, pass, { x: a.q, weight: lw.qNorm, y: a.q, n: c.headDim, rows: T * c.nHeads, eps: c.normEps });
        encodeRmsNorm(ctx, pass, { x: a.k, weight: lw.kNorm, y: a.k, n: c.headDim, rows: T * c.nKvHeads, eps: c.normEps });
      }
      const table = sliding ? ropeLocal : ropeGlobal;
      encodeRope(ctx, pass, c, { x: a.q, positions: a.positions, table, tokens: T, heads: c.nHeads });
      encodeRope(ctx, pass, c, { x: a.k, positions: a.positions, table, tokens: T, heads: c.nKvHeads });
      const paged = { pool: this.pool.layers[l]!, blockTables: a.tables, tokenSeq: a.slots, tokenPos: a.positions };
      appendKv(ctx, pass, step.shape, { ...paged, k: a.k, v: a.v }, T);
      const attnOpts = { nTokens: T, scale: g.attnScale, softcap: g.attnSoftcap, ...(sliding ? { window: g.slidingWindow } : {}) };
      if (step.prefill) prefillAttention(ctx, pass, step.shape, { ...paged, q: a.q, o: a.attn }, attnOpts);
      else flashDecodeGqa(ctx, pass, step.shape, { ...paged, q: a.q, o: a.attn }, { ...attnOpts, maxContext: step.maxPos + 1 });
      encodeMatmul(ctx, pass, lw.wo, a.attn, a.xb, T);
      this.postNormAdd(pass, a, lw.postAttnNorm!, T);
      encodeRmsNorm(ctx, pass, { x: a.x, weight: lw.ffnNorm, y: a.xb, n: c.dim, rows: T, eps: c.normEps });
      encodeMatmul(ctx, pass, lw.wGate, a.xb, a.gate, T);
      encodeMatmul(ctx, pass, lw.wUp, a.xb, a.up, T);
      encodeGeglu(ctx, pass, a.gate, a.up, T * c.ffnDim);
      encodeMatmul(ctx, pass, lw.wDown, a.gate, a.xb, T);
      this.postNormAdd(pass, a, lw.postFfnNorm!, T);
    }
    const rows = step.logitRows;
    if (rows === 0) return;
    encodeRmsNorm(ctx, pass, { x: a.x, weight: w.outputNorm, y: a.outNorm, n: c.dim, rows, eps: c.normEps, gather: a.logitRows });
    encodeMatmul(ctx, pass, w.output, a.outNorm, a.logits, rows);
    if (g.finalSoftcap > 0) encodeSoftcap(ctx, pass, a.logits, g.finalSoftcap, rows * c.vocabSize);
  }

  /** x += rmsnorm(xb) * weight: a sublayer's output (in xb) joins the residual stream after its post-norm. */
  private postNormAdd(pass: GPUComputePassEncoder, a: Activations, weight: GPUBuffer, T: number): void {
    const c = this.config;
    encodeRmsNorm(this.ctx, pass, { x: a.xb, weight, y: a.xb, n: c.dim, rows: T, eps: c.normEps });
    encodeAdd(this.ctx, pass, a.x, a.xb, T * c.dim);
  }

  destroy(): void {
    this.ropeLocal.destroy();
  }
}
