// The Gemma 2 / 3 forward pass in plain f32 (double-precision accumulation), beside the Llama one in
// cpu-reference.ts: the in-repo oracle of gemma-forward.ts, in the same llama.cpp order.
import type { GgufFile } from '../gguf/reader';
import { readModelConfig, layerTensor, type ModelConfig } from './config';
import { attendCached, cpuWeight, CpuScratch, loadCpuWeights, matvec, rmsNorm, ropeHead, type CpuWeights } from './cpu-reference';
import type { GemmaTraits } from './gemma';
import { f16ToF32, f32ToF16Bits } from '../quant/half';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (ggml_gelu / PyTorch's gelu(approximate="tanh")). */
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * x * (1 + 0.044715 * x * x)));

const toHalf = (x: number): number => f16ToF32(f32ToF16Bits(x));

/**
 * GELU as llama.cpp's CPU backend computes it on f32 (ggml_vec_geglu_f32 with GGML_GELU_FP16): the input rounded to
 * f16, looked up in an f16 table, 0 below -10 and x above 10. Off the exact GELU by up to ~2^-11 relative; only the
 * check against llama.cpp's fixtures uses it, to show that this is all that separates the two.
 */
export const geluLlamaCppTable = (x: number): number => (x <= -10 ? 0 : x >= 10 ? x : toHalf(geluTanh(toHalf(x))));

export interface GemmaCpuOptions {
  /** llama.cpp's f16-table GELU instead of the exact one. */
  readonly llamaCppGelu?: boolean;
}

const softcap = (x: number, cap: number): number => (cap > 0 ? cap * Math.tanh(x / cap) : x);

export class GemmaCpuReference {
  private readonly g: GemmaTraits;
  private readonly gelu: (x: number) => number;
  private readonly localRope: ModelConfig; // the config with the sliding layers' RoPE base
  private readonly s: CpuScratch;

  constructor(
    readonly config: ModelConfig,
    private readonly w: CpuWeights,
    opts: GemmaCpuOptions = {},
  ) {
    const c = config;
    if (!c.gemma) throw new Error(`GemmaCpuReference: ${c.architecture} is not a Gemma architecture`);
    this.g = c.gemma;
    this.gelu = opts.llamaCppGelu ? geluLlamaCppTable : geluTanh;
    this.localRope = { ...c, ropeBase: c.gemma.ropeBaseLocal };
    this.s = new CpuScratch(c);
  }

  static async load(file: GgufFile, opts: GemmaCpuOptions = {}): Promise<GemmaCpuReference> {
    return new GemmaCpuReference(readModelConfig(file.header), await loadCpuWeights(file), opts);
  }

  private weight(name: string): Float32Array {
    return cpuWeight(this.w, name);
  }

  /** Runs `token` at `pos` (all earlier positions must have run) and returns the logits (vocab). */
  forward(token: number, pos: number): Float32Array {
    const c = this.config;
    if (pos >= c.contextLength) throw new RangeError(`position ${pos} is past the context length ${c.contextLength}`);
    const e = this.weight('token_embd.weight').subarray(token * c.dim, (token + 1) * c.dim);
    for (let i = 0; i < c.dim; i++) this.s.x[i] = e[i]! * this.g.embedScale;
    for (let l = 0; l < c.nLayers; l++) {
      this.attention(l, pos);
      this.postNormAdd(layerTensor(l, 'post_attention_norm'));
      this.feedForward(l);
      this.postNormAdd(layerTensor(l, 'post_ffw_norm'));
    }
    rmsNorm(this.s.x, this.s.x, this.weight('output_norm.weight'), c.normEps);
    const out = this.weight(c.tiedEmbeddings ? 'token_embd.weight' : 'output.weight');
    matvec(this.s.logits, out, this.s.x, c.vocabSize, c.dim);
    for (let i = 0; i < c.vocabSize; i++) this.s.logits[i] = softcap(this.s.logits[i]!, this.g.finalSoftcap);
    return this.s.logits;
  }

  /** x += rmsnorm(xb2) * w. */
  private postNormAdd(norm: string): void {
    rmsNorm(this.s.xb2, this.s.xb2, this.weight(norm), this.config.normEps);
    for (let i = 0; i < this.s.x.length; i++) this.s.x[i] = this.s.x[i]! + this.s.xb2[i]!;
  }

  /** Leaves the attention block's output (before its post-norm) in xb2. */
  private attention(l: number, pos: number): void {
    const c = this.config;
    const kvDim = c.nKvHeads * c.headDim;
    const qDim = c.nHeads * c.headDim;
    const kc = this.s.keyCache[l]!;
    const vc = this.s.valueCache[l]!;
    const k = kc.subarray(pos * kvDim, (pos + 1) * kvDim);
    rmsNorm(this.s.xb, this.s.x, this.weight(layerTensor(l, 'attn_norm')), c.normEps);
    matvec(this.s.q, this.weight(layerTensor(l, 'attn_q')), this.s.xb, qDim, c.dim);
    matvec(k, this.weight(layerTensor(l, 'attn_k')), this.s.xb, kvDim, c.dim);
    matvec(vc.subarray(pos * kvDim, (pos + 1) * kvDim), this.weight(layerTensor(l, 'attn_v')), this.s.xb, kvDim, c.dim);
    const sliding = this.g.slidingLayers[l]!;
    const rope = sliding ? this.localRope : c;
    for (let h = 0; h < c.nHeads; h++) {
      if (c.hasQkNorm) rmsNorm(this.s.q, this.s.q, this.weight(layerTensor(l, 'attn_q_norm')), c.normEps, h * c.headDim);
      ropeHead(this.s.q, h * c.headDim, pos, rope);
    }
    for (let h = 0; h < c.nKvHeads; h++) {
      if (c.hasQkNorm) rmsNorm(k, k, this.weight(layerTensor(l, 'attn_k_norm')), c.normEps, h * c.headDim);
      ropeHead(k, h * c.headDim, pos, rope);
    }
    const first = sliding ? Math.max(0, pos + 1 - this.g.slidingWindow) : 0; // keys first ..= pos are visible
    attendCached(this.s, c, l, pos, { first, scale: this.g.attnScale, softcap: this.g.attnSoftcap });
    matvec(this.s.xb2, this.weight(layerTensor(l, 'attn_output')), this.s.xb.subarray(0, qDim), c.dim, qDim);
  }

  /** Leaves the FFN's output (before its post-norm) in xb2. */
  private feedForward(l: number): void {
    const c = this.config;
    rmsNorm(this.s.xb, this.s.x, this.weight(layerTensor(l, 'ffn_norm')), c.normEps);
    const xb = this.s.xb.subarray(0, c.dim);
    matvec(this.s.hb, this.weight(layerTensor(l, 'ffn_gate')), xb, c.ffnDim, c.dim);
    matvec(this.s.hb2, this.weight(layerTensor(l, 'ffn_up')), xb, c.ffnDim, c.dim);
    for (let i = 0; i < c.ffnDim; i++) this.s.hb[i] = this.gelu(this.s.hb[i]!) * this.s.hb2[i]!;
    matvec(this.s.xb2, this.weight(layerTensor(l, 'ffn_down')), this.s.hb, c.dim, c.ffnDim);
  }
}
