// The gpt-oss forward pass in plain f32 (double-precision accumulation), beside the Llama one in cpu-reference.ts:
// the in-repo oracle of the GPU path, in llama.cpp's order (src/models/openai-moe.cpp): attn_norm -> q/k/v with
// biases -> neox RoPE -> attention with sinks (sliding window on alternate layers) -> wo + bias -> residual add ->
// post_attention_norm -> MoE (router bias, top-k then softmax, expert biases, swiglu_oai) -> residual add.
import type { GgufFile } from '../gguf/reader';
import { layerBias, layerTensor, readModelConfig, type ModelConfig } from './config';
import { addInPlace, attendCached, cpuWeight, CpuScratch, loadCpuWeights, matvec, rmsNorm, ropeHead, type CpuWeights } from './cpu-reference';
import type { GptOssTraits } from './gpt-oss';
import { moeFeedForward, type MoeLayerCpuWeights } from './moe-reference';

export class GptOssCpuReference {
  private readonly g: GptOssTraits;
  private readonly s: CpuScratch;

  constructor(
    readonly config: ModelConfig,
    private readonly w: CpuWeights,
  ) {
    if (!config.gptOss || !config.moe) throw new Error(`GptOssCpuReference: ${config.architecture} is not gpt-oss`);
    this.g = config.gptOss;
    this.s = new CpuScratch(config);
  }

  static async load(file: GgufFile): Promise<GptOssCpuReference> {
    return new GptOssCpuReference(readModelConfig(file.header), await loadCpuWeights(file));
  }

  private weight(name: string): Float32Array {
    return cpuWeight(this.w, name);
  }

  /** Runs `token` at `pos` (all earlier positions must have run) and returns the logits (vocab). */
  forward(token: number, pos: number): Float32Array {
    const c = this.config;
    if (pos >= c.contextLength) throw new RangeError(`position ${pos} is past the context length ${c.contextLength}`);
    this.s.x.set(this.weight('token_embd.weight').subarray(token * c.dim, (token + 1) * c.dim));
    for (let l = 0; l < c.nLayers; l++) {
      this.attention(l, pos);
      addInPlace(this.s.x, this.s.xb2);
      this.feedForward(l);
      addInPlace(this.s.x, this.s.xb2);
    }
    rmsNorm(this.s.x, this.s.x, this.weight('output_norm.weight'), c.normEps);
    matvec(this.s.logits, this.weight('output.weight'), this.s.x, c.vocabSize, c.dim);
    return this.s.logits;
  }

  /** Leaves the attention block's output (wo @ attention + bo) in xb2. */
  private attention(l: number, pos: number): void {
    const c = this.config;
    const kvDim = c.nKvHeads * c.headDim;
    const qDim = c.nHeads * c.headDim;
    const kc = this.s.keyCache[l]!;
    const vc = this.s.valueCache[l]!;
    const k = kc.subarray(pos * kvDim, (pos + 1) * kvDim);
    const v = vc.subarray(pos * kvDim, (pos + 1) * kvDim);
    rmsNorm(this.s.xb, this.s.x, this.weight(layerTensor(l, 'attn_norm')), c.normEps);
    matvec(this.s.q, this.weight(layerTensor(l, 'attn_q')), this.s.xb, qDim, c.dim);
    matvec(k, this.weight(layerTensor(l, 'attn_k')), this.s.xb, kvDim, c.dim);
    matvec(v, this.weight(layerTensor(l, 'attn_v')), this.s.xb, kvDim, c.dim);
    addInPlace(this.s.q, this.weight(layerBias(l, 'attn_q')));
    addInPlace(k, this.weight(layerBias(l, 'attn_k')));
    addInPlace(v, this.weight(layerBias(l, 'attn_v')));
    for (let h = 0; h < c.nHeads; h++) ropeHead(this.s.q, h * c.headDim, pos, c);
    for (let h = 0; h < c.nKvHeads; h++) ropeHead(k, h * c.headDim, pos, c);
    const first = this.g.slidingLayers[l] ? Math.max(0, pos + 1 - this.g.slidingWindow) : 0; // keys first ..= pos
    attendCached(this.s, c, l, pos, { first, scale: 1 / Math.sqrt(c.headDim), sinks: this.weight(layerTensor(l, 'attn_sinks')) });
    matvec(this.s.xb2, this.weight(layerTensor(l, 'attn_output')), this.s.xb.subarray(0, qDim), c.dim, qDim);
    addInPlace(this.s.xb2, this.weight(layerBias(l, 'attn_output')));
  }

  /** Leaves the MoE FFN's output in xb2. */
  private feedForward(l: number): void {
    const c = this.config;
    rmsNorm(this.s.xb, this.s.x, this.weight(layerTensor(l, 'post_attention_norm')), c.normEps);
    const t = (n: string): Float32Array => this.weight(layerTensor(l, n));
    const b = (n: string): Float32Array => this.weight(layerBias(l, n));
    const w: MoeLayerCpuWeights = {
      router: t('ffn_gate_inp'),
      gate: t('ffn_gate_exps'),
      up: t('ffn_up_exps'),
      down: t('ffn_down_exps'),
      routerBias: b('ffn_gate_inp'),
      gateBias: b('ffn_gate_exps'),
      upBias: b('ffn_up_exps'),
      downBias: b('ffn_down_exps'),
    };
    moeFeedForward(this.s.xb2, this.s.xb.subarray(0, c.dim), c.dim, c.moe!, w);
  }
}
