// The DeepSeek-V2 forward pass in plain f32 (double-precision accumulation), in llama.cpp's order
// (src/models/deepseek2.cpp), with attention in the EXPANDED form: each head's key [k_b[h] c | k_pe] and value
// v_b[h] c are built from the latent c and cached per head, as the model was trained. The GPU runs the absorbed form
// (queries multiplied into the latent space, attention over the latent cache), so this is an independent check of it.
//
// Per layer: attn_norm -> q (full or low-rank) and [c | k_pe] -> kv_a_norm on c, RoPE on q_pe and k_pe -> attention
// (scale Deepseek2Traits.attnScale) -> attn_output -> residual add -> ffn_norm -> dense SwiGLU (leading layers) or
// routed experts plus shared experts -> residual add.
import type { GgufFile } from '../gguf/reader';
import { layerTensor, readModelConfig, type ModelConfig } from './config';
import { addInPlace, cpuWeight, loadCpuWeights, matvec, rmsNorm, ropeHead, softmax, type CpuWeights } from './cpu-reference';
import { mlaQueryHeadDim, type Deepseek2Traits } from './deepseek2';
import { moeFeedForward, type MoeLayerCpuWeights } from './moe-reference';

const silu = (x: number): number => x / (1 + Math.exp(-x));

export class Deepseek2CpuReference {
  private readonly t: Deepseek2Traits;
  private readonly qHead: number; // qkNope + ropeDim
  private readonly x: Float32Array; // (dim) residual stream
  private readonly xb: Float32Array; // (dim) normed input
  private readonly xb2: Float32Array; // (dim) sublayer output
  private readonly qa: Float32Array; // (qLoraRank) low-rank query
  private readonly q: Float32Array; // (nHeads * qHead)
  private readonly kvA: Float32Array; // (kvLoraRank + ropeDim): [latent | k_pe]
  private readonly attnOut: Float32Array; // (nHeads * vHeadDim)
  private readonly hb: Float32Array; // (ffnDim)
  private readonly hb2: Float32Array; // (ffnDim)
  private readonly att: Float32Array; // (contextLength) scores of one head
  private readonly logits: Float32Array; // (vocabSize)
  private readonly keys: Float32Array[]; // per layer: (contextLength, nHeads, qHead) expanded keys
  private readonly values: Float32Array[]; // per layer: (contextLength, nHeads, vHeadDim) expanded values

  constructor(
    readonly config: ModelConfig,
    private readonly w: CpuWeights,
  ) {
    const c = config;
    if (!c.deepseek2) throw new Error(`Deepseek2CpuReference: ${c.architecture} is not deepseek2`);
    const t = (this.t = c.deepseek2);
    this.qHead = mlaQueryHeadDim(t, c.ropeDim);
    this.x = new Float32Array(c.dim);
    this.xb = new Float32Array(c.dim);
    this.xb2 = new Float32Array(c.dim);
    this.qa = new Float32Array(t.qLoraRank);
    this.q = new Float32Array(c.nHeads * this.qHead);
    this.kvA = new Float32Array(t.kvLoraRank + c.ropeDim);
    this.attnOut = new Float32Array(c.nHeads * t.vHeadDim);
    this.hb = new Float32Array(c.ffnDim);
    this.hb2 = new Float32Array(c.ffnDim);
    this.att = new Float32Array(c.contextLength);
    this.logits = new Float32Array(c.vocabSize);
    this.keys = Array.from({ length: c.nLayers }, () => new Float32Array(c.contextLength * c.nHeads * this.qHead));
    this.values = Array.from({ length: c.nLayers }, () => new Float32Array(c.contextLength * c.nHeads * t.vHeadDim));
  }

  static async load(file: GgufFile): Promise<Deepseek2CpuReference> {
    return new Deepseek2CpuReference(readModelConfig(file.header), await loadCpuWeights(file));
  }

  private weight(name: string): Float32Array {
    return cpuWeight(this.w, name);
  }

  /** Runs `token` at `pos` (all earlier positions must have run) and returns the logits (vocab). */
  forward(token: number, pos: number): Float32Array {
    const c = this.config;
    if (pos >= c.contextLength) throw new RangeError(`position ${pos} is past the context length ${c.contextLength}`);
    this.x.set(this.weight('token_embd.weight').subarray(token * c.dim, (token + 1) * c.dim));
    for (let l = 0; l < c.nLayers; l++) {
      this.attention(l, pos);
      addInPlace(this.x, this.xb2);
      this.feedForward(l);
      addInPlace(this.x, this.xb2);
    }
    rmsNorm(this.x, this.x, this.weight('output_norm.weight'), c.normEps);
    matvec(this.logits, this.weight(c.tiedEmbeddings ? 'token_embd.weight' : 'output.weight'), this.x, c.vocabSize, c.dim);
    return this.logits;
  }

  /** q(nHeads * qHead) from the normed input: attn_q, or attn_q_b(rmsnorm(attn_q_a xb)). */
  private query(l: number): void {
    const c = this.config;
    const n = c.nHeads * this.qHead;
    if (this.t.qLoraRank === 0) {
      matvec(this.q, this.weight(layerTensor(l, 'attn_q')), this.xb, n, c.dim);
      return;
    }
    matvec(this.qa, this.weight(layerTensor(l, 'attn_q_a')), this.xb, this.t.qLoraRank, c.dim);
    rmsNorm(this.qa, this.qa, this.weight(layerTensor(l, 'attn_q_a_norm')), c.normEps);
    matvec(this.q, this.weight(layerTensor(l, 'attn_q_b')), this.qa, n, this.t.qLoraRank);
  }

  /** Caches position `pos`'s expanded keys and values of every head from the latent and k_pe in kvA. */
  private expandKv(l: number, pos: number): void {
    const { config: c, t, qHead } = this;
    const r = t.kvLoraRank;
    const kb = this.weight(layerTensor(l, 'attn_k_b')); // (nHeads, kvLoraRank, qkNope)
    const vb = this.weight(layerTensor(l, 'attn_v_b')); // (nHeads, vHeadDim, kvLoraRank)
    const keys = this.keys[l]!;
    const values = this.values[l]!;
    for (let h = 0; h < c.nHeads; h++) {
      const k = (pos * c.nHeads + h) * qHead;
      for (let j = 0; j < t.qkNopeDim; j++) {
        let s = 0;
        for (let i = 0; i < r; i++) s += kb[(h * r + i) * t.qkNopeDim + j]! * this.kvA[i]!;
        keys[k + j] = s;
      }
      for (let i = 0; i < c.ropeDim; i++) keys[k + t.qkNopeDim + i] = this.kvA[r + i]!;
      const v = (pos * c.nHeads + h) * t.vHeadDim;
      for (let d = 0; d < t.vHeadDim; d++) {
        let s = 0;
        for (let i = 0; i < r; i++) s += vb[(h * t.vHeadDim + d) * r + i]! * this.kvA[i]!;
        values[v + d] = s;
      }
    }
  }

  /** Leaves the attention block's output (attn_output @ heads) in xb2. */
  private attention(l: number, pos: number): void {
    const { config: c, t, qHead } = this;
    rmsNorm(this.xb, this.x, this.weight(layerTensor(l, 'attn_norm')), c.normEps);
    this.query(l);
    matvec(this.kvA, this.weight(layerTensor(l, 'attn_kv_a_mqa')), this.xb, t.kvLoraRank + c.ropeDim, c.dim);
    rmsNorm(this.kvA, this.kvA, this.weight(layerTensor(l, 'attn_kv_a_norm')), c.normEps, 0, t.kvLoraRank);
    ropeHead(this.kvA, t.kvLoraRank, pos, c);
    for (let h = 0; h < c.nHeads; h++) ropeHead(this.q, h * qHead + t.qkNopeDim, pos, c);
    this.expandKv(l, pos);
    const keys = this.keys[l]!;
    const values = this.values[l]!;
    this.attnOut.fill(0);
    for (let h = 0; h < c.nHeads; h++) {
      for (let p = 0; p <= pos; p++) {
        let s = 0;
        const k = (p * c.nHeads + h) * qHead;
        for (let i = 0; i < qHead; i++) s += this.q[h * qHead + i]! * keys[k + i]!;
        this.att[p] = s * t.attnScale;
      }
      softmax(this.att, pos + 1);
      for (let p = 0; p <= pos; p++) {
        const a = this.att[p]!;
        const v = (p * c.nHeads + h) * t.vHeadDim;
        for (let d = 0; d < t.vHeadDim; d++) this.attnOut[h * t.vHeadDim + d] = this.attnOut[h * t.vHeadDim + d]! + a * values[v + d]!;
      }
    }
    matvec(this.xb2, this.weight(layerTensor(l, 'attn_output')), this.attnOut, c.dim, c.nHeads * t.vHeadDim);
  }

  /** Leaves the FFN's output in xb2: dense SwiGLU on the leading layers, else the MoE with its shared experts. */
  private feedForward(l: number): void {
    const c = this.config;
    rmsNorm(this.xb, this.x, this.weight(layerTensor(l, 'ffn_norm')), c.normEps);
    const w = (n: string): Float32Array => this.weight(layerTensor(l, n));
    if (l >= this.t.denseLayers && c.moe) {
      const moe: MoeLayerCpuWeights = {
        router: w('ffn_gate_inp'),
        gate: w('ffn_gate_exps'),
        up: w('ffn_up_exps'),
        down: w('ffn_down_exps'),
        ...(c.moe.sharedFfnDim !== undefined ? { shared: { gate: w('ffn_gate_shexp'), up: w('ffn_up_shexp'), down: w('ffn_down_shexp') } } : {}),
      };
      moeFeedForward(this.xb2, this.xb, c.dim, c.moe, moe);
      return;
    }
    matvec(this.hb, w('ffn_gate'), this.xb, c.ffnDim, c.dim);
    matvec(this.hb2, w('ffn_up'), this.xb, c.ffnDim, c.dim);
    for (let i = 0; i < c.ffnDim; i++) this.hb[i] = silu(this.hb[i]!) * this.hb2[i]!;
    matvec(this.xb2, w('ffn_down'), this.hb, c.dim, c.ffnDim);
  }
}
