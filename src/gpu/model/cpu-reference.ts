// A plain f32 Llama forward pass with a contiguous KV cache, in the manner of llama2.c's run.c.
// It is the oracle the GPU kernels and engine are tested against, not the product path: weights are
// dequantized to f32 in host memory, and every matvec accumulates in double precision.
import type { GgufFile } from '../gguf/reader';
import { dequantize } from '../quant';
import { layerBias, layerTensor, readModelConfig, type ModelConfig } from './config';
import { moeFeedForward } from './moe-reference';
import { splitFusedCpuWeights } from './phi3';
import { ropeCosSin, ropeFactorTensor } from './rope-scaling';

/** f32 weights by tensor name; matrices are row-major (rows, row length) as in GGUF. */
export type CpuWeights = ReadonlyMap<string, Float32Array>;

export async function loadCpuWeights(file: GgufFile): Promise<CpuWeights> {
  const out = new Map<string, Float32Array>();
  for (const t of file.header.tensors) {
    out.set(t.name, dequantize(t.type, await file.tensorBytes(t), t.elementCount, undefined, t.name));
  }
  return out;
}

/** out(rows) = W(rows, cols) @ x(cols). */
export function matvec(out: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) s += w[base + c]! * x[c]!;
    out[r] = s;
  }
}

/** out = x / rms(x) * weight, over `n` elements starting at `offset`. */
export function rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, eps: number, offset = 0, n = weight.length): void {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[offset + i]! * x[offset + i]!;
  const scale = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[offset + i] = x[offset + i]! * scale * weight[i]!;
}

const cosSin = new Float64Array(2);

/** Rotates one head (headDim values at `offset`; the first ropeDim of them) in place for position `pos`. */
export function ropeHead(v: Float32Array, offset: number, pos: number, c: ModelConfig, freqFactors?: Float32Array): void {
  const half = c.ropeDim / 2;
  for (let i = 0; i < half; i++) {
    ropeCosSin(c, freqFactors, pos, i, cosSin);
    const cos = cosSin[0]!;
    const sin = cosSin[1]!;
    const a = c.ropeStyle === 'normal' ? offset + 2 * i : offset + i;
    const b = c.ropeStyle === 'normal' ? a + 1 : a + half;
    const x0 = v[a]!;
    const x1 = v[b]!;
    v[a] = x0 * cos - x1 * sin;
    v[b] = x0 * sin + x1 * cos;
  }
}

/** In place: x = softmax(x[0..n)). */
export function softmax(x: Float32Array, n = x.length): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    x[i] = Math.exp(x[i]! - max);
    sum += x[i]!;
  }
  for (let i = 0; i < n; i++) x[i] = x[i]! / sum;
}

const silu = (x: number): number => x / (1 + Math.exp(-x));

/** What varies between the architectures' attention over the cached keys. */
export interface CachedAttentionOptions {
  /** First visible key (a sliding window); keys first ..= pos are attended. Default 0. */
  readonly first?: number;
  readonly scale: number;
  /** Gemma 2: scores soft-capped as cap * tanh(score / cap) (0 or absent: none). */
  readonly softcap?: number;
  /** gpt-oss: one logit per query head that joins the softmax's denominator only (ggml_soft_max_ext's sinks). */
  readonly sinks?: Float32Array;
}

/**
 * Writes each query head's attention over layer l's cached keys 0 ..= pos (GQA: head h reads KV head
 * floor(h / group)) into s.xb[0, nHeads * headDim); q is in s.q, RoPE applied.
 */
export function attendCached(s: CpuScratch, c: ModelConfig, l: number, pos: number, o: CachedAttentionOptions): void {
  const kvDim = c.nKvHeads * c.headDim;
  const kc = s.keyCache[l]!;
  const vc = s.valueCache[l]!;
  const first = o.first ?? 0;
  const group = c.nHeads / c.nKvHeads;
  s.xb.fill(0, 0, c.nHeads * c.headDim);
  for (let h = 0; h < c.nHeads; h++) {
    const kvOff = Math.floor(h / group) * c.headDim;
    const sink = o.sinks?.[h];
    let max = sink ?? -Infinity;
    for (let t = first; t <= pos; t++) {
      let dot = 0;
      for (let i = 0; i < c.headDim; i++) dot += s.q[h * c.headDim + i]! * kc[t * kvDim + kvOff + i]!;
      const score = o.softcap ? o.softcap * Math.tanh((dot * o.scale) / o.softcap) : dot * o.scale;
      s.att[t - first] = score;
      max = Math.max(max, s.att[t - first]!);
    }
    let sum = sink === undefined ? 0 : Math.exp(sink - max);
    for (let t = first; t <= pos; t++) sum += s.att[t - first] = Math.exp(s.att[t - first]! - max);
    for (let t = first; t <= pos; t++) {
      const a = s.att[t - first]! / sum;
      for (let i = 0; i < c.headDim; i++) s.xb[h * c.headDim + i] = s.xb[h * c.headDim + i]! + a * vc[t * kvDim + kvOff + i]!;
    }
  }
}

/** Scratch activations and the KV cache of one CPU forward pass, named as in llama2.c's run.c. */
/** A loaded weight by its GGUF name; a missing one is a bug in the caller's tensor list. */
export function cpuWeight(w: CpuWeights, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`CPU reference: weight ${name} not loaded`);
  return t;
}

export class CpuScratch {
  readonly x: Float32Array; // (dim) residual stream
  readonly xb: Float32Array; // (max(dim, q)) normed input / attention output
  readonly xb2: Float32Array; // (dim) sublayer output
  readonly q: Float32Array; // (nHeads * headDim)
  readonly hb: Float32Array; // (ffnDim)
  readonly hb2: Float32Array; // (ffnDim)
  readonly att: Float32Array; // (contextLength)
  readonly logits: Float32Array; // (vocabSize)
  readonly keyCache: Float32Array[]; // per layer: (contextLength, nKvHeads * headDim)
  readonly valueCache: Float32Array[]; // per layer: (contextLength, nKvHeads * headDim)

  constructor(c: ModelConfig) {
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    this.x = new Float32Array(c.dim);
    this.xb = new Float32Array(Math.max(c.dim, qDim));
    this.xb2 = new Float32Array(c.dim);
    this.q = new Float32Array(qDim);
    this.hb = new Float32Array(c.ffnDim);
    this.hb2 = new Float32Array(c.ffnDim);
    this.att = new Float32Array(c.contextLength);
    this.logits = new Float32Array(c.vocabSize);
    this.keyCache = Array.from({ length: c.nLayers }, () => new Float32Array(c.contextLength * kvDim));
    this.valueCache = Array.from({ length: c.nLayers }, () => new Float32Array(c.contextLength * kvDim));
  }
}

export class CpuReferenceModel {
  private readonly s: CpuScratch;

  private readonly w: CpuWeights;

  /** `config.contextLength` is the context the model is loaded with (LongRoPE's factors depend on it). */
  constructor(
    readonly config: ModelConfig,
    weights: CpuWeights,
  ) {
    const c = config;
    this.w = c.phi3 ? splitFusedCpuWeights(weights, c) : weights;
    this.s = new CpuScratch(c);
  }

  /** `contextLength`: the context to load the model with (default the trained one; LongRoPE's factors depend on it). */
  static async load(file: GgufFile, contextLength?: number): Promise<CpuReferenceModel> {
    const config = readModelConfig(file.header);
    return new CpuReferenceModel(contextLength === undefined ? config : { ...config, contextLength }, await loadCpuWeights(file));
  }

  private weight(name: string): Float32Array {
    return cpuWeight(this.w, name);
  }

  /** Runs token `token` at position `pos` (all earlier positions must have run) and returns the logits. */
  forward(token: number, pos: number): Float32Array {
    const c = this.config;
    if (pos >= c.contextLength) throw new RangeError(`position ${pos} is past the context length ${c.contextLength}`);
    this.s.x.set(this.weight('token_embd.weight').subarray(token * c.dim, (token + 1) * c.dim));
    for (let l = 0; l < c.nLayers; l++) {
      this.attention(l, pos);
      this.feedForward(l);
    }
    rmsNorm(this.s.x, this.s.x, this.weight('output_norm.weight'), c.normEps);
    const out = this.weight(c.tiedEmbeddings ? 'token_embd.weight' : 'output.weight');
    matvec(this.s.logits, out, this.s.x, c.vocabSize, c.dim);
    return this.s.logits;
  }

  private attention(l: number, pos: number): void {
    const c = this.config;
    const kvDim = c.nKvHeads * c.headDim;
    const qDim = c.nHeads * c.headDim;
    const k = this.s.keyCache[l]!.subarray(pos * kvDim, (pos + 1) * kvDim);
    const v = this.s.valueCache[l]!.subarray(pos * kvDim, (pos + 1) * kvDim);
    rmsNorm(this.s.xb, this.s.x, this.weight(layerTensor(l, 'attn_norm')), c.normEps);
    matvec(this.s.q, this.weight(layerTensor(l, 'attn_q')), this.s.xb, qDim, c.dim);
    matvec(k, this.weight(layerTensor(l, 'attn_k')), this.s.xb, kvDim, c.dim);
    matvec(v, this.weight(layerTensor(l, 'attn_v')), this.s.xb, kvDim, c.dim);
    if (c.hasQkvBias) {
      addInPlace(this.s.q, this.weight(layerBias(l, 'attn_q')));
      addInPlace(k, this.weight(layerBias(l, 'attn_k')));
      addInPlace(v, this.weight(layerBias(l, 'attn_v')));
    }
    const factors = ropeFactorTensor(c);
    const freqs = factors ? this.weight(factors) : undefined;
    for (let h = 0; h < c.nHeads; h++) {
      if (c.hasQkNorm) rmsNorm(this.s.q, this.s.q, this.weight(layerTensor(l, 'attn_q_norm')), c.normEps, h * c.headDim);
      ropeHead(this.s.q, h * c.headDim, pos, c, freqs);
    }
    for (let h = 0; h < c.nKvHeads; h++) {
      if (c.hasQkNorm) rmsNorm(k, k, this.weight(layerTensor(l, 'attn_k_norm')), c.normEps, h * c.headDim);
      ropeHead(k, h * c.headDim, pos, c, freqs);
    }
    attendCached(this.s, c, l, pos, { scale: 1 / Math.sqrt(c.headDim) });
    matvec(this.s.xb2, this.weight(layerTensor(l, 'attn_output')), this.s.xb.subarray(0, qDim), c.dim, qDim);
    addInPlace(this.s.x, this.s.xb2);
  }

  private feedForward(l: number): void {
    const c = this.config;
    rmsNorm(this.s.xb, this.s.x, this.weight(layerTensor(l, 'ffn_norm')), c.normEps);
    const xb = this.s.xb.subarray(0, c.dim);
    if (c.moe) {
      const w = { router: this.weight(layerTensor(l, 'ffn_gate_inp')), gate: this.weight(layerTensor(l, 'ffn_gate_exps')), up: this.weight(layerTensor(l, 'ffn_up_exps')), down: this.weight(layerTensor(l, 'ffn_down_exps')) };
      moeFeedForward(this.s.xb2, xb, c.dim, c.moe, w);
      addInPlace(this.s.x, this.s.xb2);
      return;
    }
    matvec(this.s.hb, this.weight(layerTensor(l, 'ffn_gate')), xb, c.ffnDim, c.dim);
    matvec(this.s.hb2, this.weight(layerTensor(l, 'ffn_up')), xb, c.ffnDim, c.dim);
    for (let i = 0; i < c.ffnDim; i++) this.s.hb[i] = silu(this.s.hb[i]!) * this.s.hb2[i]!;
    matvec(this.s.xb2, this.weight(layerTensor(l, 'ffn_down')), this.s.hb, c.dim, c.ffnDim);
    addInPlace(this.s.x, this.s.xb2);
  }
}

/** a += b, elementwise (equal lengths). */
export function addInPlace(a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! + b[i]!;
}
