// A model's weights on the device: matrices in their GGUF block formats, norms and biases as f32.
import type { GgufFile } from '../gguf/reader';
import { GgmlType } from '../gguf/types';
import type { KernelContext } from '../kernels/context';
import { checkGpuType, destroyWeight, uploadWeight, type WeightTensor } from '../kernels/weights';
import { dequantize } from '../quant';
import { layerBias, layerTensor, type ModelConfig } from './config';
import { checkDeepseek2WeightTypes, destroyMlaLayer, loadDeepseek2Layers, mlaLayerBytes, type MlaLayerWeights } from './deepseek2-weights';
import { destroyMoeLayer, loadMoeLayer, moeLayerBytes, moeMatrixNames, type MoeLayerWeights } from './moe';
import { phi3FusedMatrices, phi3MatrixNames } from './phi3';
import { ropeFactorTensor } from './rope-scaling';

export interface LayerWeights {
  readonly attnNorm: GPUBuffer; // (dim) f32
  readonly wq: WeightTensor; // (nHeads * headDim, dim)
  readonly wk: WeightTensor; // (nKvHeads * headDim, dim)
  readonly wv: WeightTensor; // (nKvHeads * headDim, dim)
  readonly wo: WeightTensor; // (dim, nHeads * headDim)
  readonly bq?: GPUBuffer; // (nHeads * headDim) f32, Qwen2
  readonly bk?: GPUBuffer; // (nKvHeads * headDim) f32
  readonly bv?: GPUBuffer; // (nKvHeads * headDim) f32
  readonly qNorm?: GPUBuffer; // (headDim) f32, Qwen3
  readonly kNorm?: GPUBuffer; // (headDim) f32
  readonly ffnNorm: GPUBuffer; // (dim) f32
  readonly wGate: WeightTensor; // (ffnDim, dim)
  readonly wUp: WeightTensor; // (ffnDim, dim)
  readonly wDown: WeightTensor; // (dim, ffnDim)
  readonly postAttnNorm?: GPUBuffer; // (dim) f32, Gemma: on the attention output before the residual add
  readonly postFfnNorm?: GPUBuffer; // (dim) f32, Gemma: on the FFN output before the residual add
  readonly bo?: GPUBuffer; // (dim) f32, gpt-oss: attention output bias
  readonly sinks?: GPUBuffer; // (nHeads) f32, gpt-oss: attention sink logits
}

/** A mixture-of-experts layer (Qwen3-MoE): the attention weights of LayerWeights, the FFN a router over experts. */
export type MoeBlockWeights = Omit<LayerWeights, 'wGate' | 'wUp' | 'wDown'> & { readonly moe: MoeLayerWeights };

export interface GpuWeights {
  readonly embedding: WeightTensor; // (vocab, dim)
  /** Dense layers; empty when `moeLayers` holds the model's layers. */
  readonly layers: readonly LayerWeights[];
  readonly moeLayers?: readonly MoeBlockWeights[];
  /** DeepSeek-V2 (config.deepseek2): every layer, MLA attention and a dense or MoE FFN; `layers` is empty then. */
  readonly mlaLayers?: readonly MlaLayerWeights[];
  readonly outputNorm: GPUBuffer; // (dim) f32
  readonly output: WeightTensor; // (vocab, dim); the embedding itself when tied
  /** RoPE frequency divisors (ropeDim / 2): Llama 3's, or LongRoPE's for the loaded context; read on the host for the angle table. */
  readonly ropeFreqs?: Float32Array;
  /** Bytes of weights on the device. */
  readonly bytes: number;
}

export interface LoadProgress {
  readonly tensorsDone: number;
  readonly tensorsTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

/** Checks that every matrix has a type the GPU decodes before anything is uploaded. */
export function checkWeightTypes(file: GgufFile, config: ModelConfig): void {
  const matrices = ['token_embd.weight', ...(config.tiedEmbeddings ? [] : ['output.weight'])];
  if (config.deepseek2) checkDeepseek2WeightTypes(file, config);
  for (let l = 0; l < (config.deepseek2 ? 0 : config.nLayers); l++) {
    if (config.phi3) {
      matrices.push(...phi3MatrixNames(l, config.phi3.fusedQkv));
      continue;
    }
    const ffn = config.moe ? [] : ['ffn_gate', 'ffn_up', 'ffn_down'];
    for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_output', ...ffn]) matrices.push(layerTensor(l, n));
    if (config.moe) matrices.push(...moeMatrixNames(l));
  }
  for (const name of matrices) checkGpuType(name, file.requireTensor(name).type);
}

export async function loadGpuWeights(ctx: KernelContext, file: GgufFile, config: ModelConfig, onProgress?: (p: LoadProgress) => void): Promise<GpuWeights> {
  checkWeightTypes(file, config);
  const uploaded: WeightTensor[] = [];
  const vectors: GPUBuffer[] = [];
  const moeLayers: MoeBlockWeights[] = [];
  let mlaLayers: MlaLayerWeights[] = [];
  const total = file.header.tensors.length;
  const bytesTotal = file.header.tensors.reduce((n, t) => n + t.byteSize, 0);
  let done = 0;
  let bytesDone = 0;
  const tick = (bytes: number): void => {
    done++;
    bytesDone += bytes;
    onProgress?.({ tensorsDone: done, tensorsTotal: total, bytesDone, bytesTotal });
  };
  const matrix = async (name: string): Promise<WeightTensor> => {
    const t = file.requireTensor(name);
    const w = uploadWeight(ctx, name, t.type, await file.tensorBytes(t), t.dims[1] ?? 1, t.dims[0]!);
    uploaded.push(w);
    tick(t.byteSize);
    return w;
  };
  // Phi-3's fused attn_qkv / ffn_up, uploaded as one WeightTensor per row range, by the Llama names they stand for.
  const fusedParts = async (l: number): Promise<Map<string, WeightTensor>> => {
    const out = new Map<string, WeightTensor>();
    for (const m of phi3FusedMatrices(l, config)) {
      const t = file.requireTensor(m.name);
      const bytes = await file.tensorBytes(t);
      const rowBytes = bytes.byteLength / t.dims[1]!;
      let first = 0;
      m.rows.forEach((rows, i) => {
        const w = uploadWeight(ctx, m.parts[i]!, t.type, bytes.subarray(first * rowBytes, (first + rows) * rowBytes), rows, t.dims[0]!);
        uploaded.push(w);
        out.set(m.parts[i]!, w);
        first += rows;
      });
      tick(t.byteSize);
    }
    return out;
  };
  // Norm weights and biases are tiny: stored as f32 whatever their file type.
  const vector = async (name: string): Promise<GPUBuffer> => {
    const t = file.requireTensor(name);
    const values = t.type === GgmlType.F32 ? new Float32Array((await file.tensorBytes(t)).slice().buffer) : dequantize(t.type, await file.tensorBytes(t), t.elementCount, undefined, name);
    const b = ctx.upload(values, name);
    vectors.push(b);
    tick(t.byteSize);
    return b;
  };
  try {
    const embedding = await matrix('token_embd.weight');
    const layers: LayerWeights[] = [];
    if (config.deepseek2) mlaLayers = await loadDeepseek2Layers(ctx, file, config, tick);
    for (let l = 0; l < (config.deepseek2 ? 0 : config.nLayers); l++) {
      const fused = config.phi3 ? await fusedParts(l) : undefined;
      const projection = async (name: string): Promise<WeightTensor> => fused?.get(layerTensor(l, name)) ?? matrix(layerTensor(l, name));
      const block = {
        attnNorm: await vector(layerTensor(l, 'attn_norm')),
        wq: await projection('attn_q'),
        wk: await projection('attn_k'),
        wv: await projection('attn_v'),
        wo: await matrix(layerTensor(l, 'attn_output')),
        ...(config.hasQkvBias
          ? { bq: await vector(layerBias(l, 'attn_q')), bk: await vector(layerBias(l, 'attn_k')), bv: await vector(layerBias(l, 'attn_v')) }
          : {}),
        ...(config.hasQkNorm ? { qNorm: await vector(layerTensor(l, 'attn_q_norm')), kNorm: await vector(layerTensor(l, 'attn_k_norm')) } : {}),
        ffnNorm: await vector(layerTensor(l, config.gptOss ? 'post_attention_norm' : 'ffn_norm')),
        ...(config.gptOss ? { bo: await vector(layerBias(l, 'attn_output')), sinks: await vector(layerTensor(l, 'attn_sinks')) } : {}),
        ...(config.gemma
          ? { postAttnNorm: await vector(layerTensor(l, 'post_attention_norm')), postFfnNorm: await vector(layerTensor(l, 'post_ffw_norm')) }
          : {}),
      };
      if (config.moe) {
        const moe = await loadMoeLayer(ctx, file, l, tick, config.moe);
        moeLayers.push({ ...block, moe });
        continue;
      }
      layers.push({ ...block, wGate: await projection('ffn_gate'), wUp: await projection('ffn_up'), wDown: await matrix(layerTensor(l, 'ffn_down')) });
    }
    const outputNorm = await vector('output_norm.weight');
    const output = config.tiedEmbeddings ? embedding : await matrix('output.weight');
    let ropeFreqs: Float32Array | undefined;
    const ropeFactors = ropeFactorTensor(config);
    if (ropeFactors) {
      const t = file.requireTensor(ropeFactors);
      ropeFreqs = dequantize(t.type, await file.tensorBytes(t), t.elementCount, undefined, t.name);
    }
    const bytes =
      uploaded.reduce((n, w) => n + w.rows * w.rowBytes, 0) + vectors.reduce((n, b) => n + b.size, 0) + moeLayers.reduce((n, l) => n + moeLayerBytes(l.moe), 0) + mlaLayers.reduce((n, l) => n + mlaLayerBytes(l), 0);
    const mla = config.deepseek2 ? { mlaLayers } : undefined;
    return { embedding, layers, outputNorm, output, bytes, ...(ropeFreqs ? { ropeFreqs } : {}), ...(mla ?? (config.moe ? { moeLayers } : {})) };
  } catch (e) {
    uploaded.forEach(destroyWeight);
    moeLayers.forEach((l) => destroyMoeLayer(l.moe));
    mlaLayers.forEach(destroyMlaLayer);
    vectors.forEach((b) => b.destroy());
    throw e;
  }
}

export function destroyGpuWeights(w: GpuWeights): void {
  destroyWeight(w.embedding);
  if (w.output !== w.embedding) destroyWeight(w.output);
  w.outputNorm.destroy();
  for (const l of w.layers) {
    for (const m of [l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown]) destroyWeight(m);
    for (const b of [l.attnNorm, l.ffnNorm, l.bq, l.bk, l.bv, l.qNorm, l.kNorm, l.postAttnNorm, l.postFfnNorm]) b?.destroy();
  }
  for (const l of w.moeLayers ?? []) {
    for (const m of [l.wq, l.wk, l.wv, l.wo]) destroyWeight(m);
    for (const b of [l.attnNorm, l.ffnNorm, l.bq, l.bk, l.bv, l.qNorm, l.kNorm, l.bo, l.sinks]) b?.destroy();
    destroyMoeLayer(l.moe);
  }
  w.mlaLayers?.forEach(destroyMlaLayer);
}
