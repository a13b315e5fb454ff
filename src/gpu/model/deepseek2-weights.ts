// DeepSeek-V2's layer weights on the device (the MLA attention of deepseek2.ts, a dense or MoE FFN). Matrices stay in
// their GGUF block formats; attn_kv_a_mqa is uploaded as two row ranges (latent rows, RoPE-key rows) so each lands in
// its own buffer; the per-head up-projections attn_k_b and attn_v_b too, (nHeads * rows, cols) matrices the per-head
// matvec of kernels/mla.ts decodes as it reads (DeepSeek-V2-Lite's: 2 x 27 x 1.1 MiB at Q8_0, 4 MiB had they been
// dequantized to f32); a type the GPU does not read is dequantized to f32 on the host, as before.
import type { GgufFile } from '../gguf/reader';
import { GgmlType } from '../gguf/types';
import type { KernelContext } from '../kernels/context';
import { checkGpuType, destroyWeight, GPU_WEIGHT_TYPES, isScalarType, uploadWeight, type WeightTensor } from '../kernels/weights';
import { dequantize } from '../quant';
import { layerTensor, type ModelConfig } from './config';
import type { Deepseek2Traits } from './deepseek2';
import { destroyMoeLayer, loadMoeLayer, moeLayerBytes, moeMatrixNames, type MoeLayerWeights } from './moe';

export interface MlaLayerWeights {
  readonly attnNorm: GPUBuffer; // (dim) f32
  /** Full query (qLoraRank 0): (nHeads * qHead, dim). */
  readonly wq?: WeightTensor;
  /** Low-rank query: wqB(rmsnorm(wqA x) * qANorm). */
  readonly wqA?: WeightTensor; // (qLoraRank, dim)
  readonly qANorm?: GPUBuffer; // (qLoraRank) f32
  readonly wqB?: WeightTensor; // (nHeads * qHead, qLoraRank)
  readonly wkvLatent: WeightTensor; // (kvLoraRank, dim): attn_kv_a_mqa's first rows
  readonly wkvRope: WeightTensor; // (ropeDim, dim): its last rows, the shared RoPE key
  readonly kvANorm: GPUBuffer; // (kvLoraRank) f32
  readonly kB: WeightTensor; // (nHeads * kvLoraRank, qkNopeDim): attn_k_b
  readonly vB: WeightTensor; // (nHeads * vHeadDim, kvLoraRank): attn_v_b
  readonly wo: WeightTensor; // (dim, nHeads * vHeadDim)
  readonly ffnNorm: GPUBuffer; // (dim) f32
  /** Dense leading layers: SwiGLU. */
  readonly dense?: { readonly wGate: WeightTensor; readonly wUp: WeightTensor; readonly wDown: WeightTensor }; // (ffnDim, dim) x2, (dim, ffnDim)
  /** The other layers: routed and shared experts (moe.ts). */
  readonly moe?: MoeLayerWeights;
}

const isMoeLayer = (c: ModelConfig, t: Deepseek2Traits, l: number): boolean => l >= t.denseLayers && c.moe !== undefined;

/** The block-format matrices of layer `l`, for checkWeightTypes. */
export function deepseek2MatrixNames(c: ModelConfig, l: number): string[] {
  const t = c.deepseek2!;
  const q = t.qLoraRank > 0 ? ['attn_q_a', 'attn_q_b'] : ['attn_q'];
  const ffn = isMoeLayer(c, t, l) ? [] : ['ffn_gate', 'ffn_up', 'ffn_down'];
  const names = [...q, 'attn_kv_a_mqa', 'attn_output', ...ffn].map((n) => layerTensor(l, n));
  return isMoeLayer(c, t, l) ? [...names, ...moeMatrixNames(l, c.moe)] : names;
}

/** Loads every layer; `onTensor(bytes)` after each GGUF tensor. Frees what it uploaded when one fails. */
export async function loadDeepseek2Layers(ctx: KernelContext, file: GgufFile, c: ModelConfig, onTensor: (bytes: number) => void): Promise<MlaLayerWeights[]> {
  const t = c.deepseek2;
  if (!t) throw new Error(`loadDeepseek2Layers: ${c.architecture} is not deepseek2`);
  const matrices: WeightTensor[] = [];
  const buffers: GPUBuffer[] = [];
  const layers: MlaLayerWeights[] = [];
  const matrix = async (name: string): Promise<WeightTensor> => {
    const info = file.requireTensor(name);
    const w = uploadWeight(ctx, name, info.type, await file.tensorBytes(info), info.dims[1] ?? 1, info.dims[0]!);
    matrices.push(w);
    onTensor(info.byteSize);
    return w;
  };
  /** attn_k_b / attn_v_b: in their GGUF format where the GPU reads it (and their rows are whole blocks), else f32. */
  const perHead = async (name: string): Promise<WeightTensor> => {
    const info = file.requireTensor(name);
    const [cols, rows, heads] = [info.dims[0]!, info.dims[1] ?? 1, info.dims[2] ?? 1];
    const bytes = await file.tensorBytes(info);
    const asIs = GPU_WEIGHT_TYPES.has(info.type) && (isScalarType(info.type) || cols % 32 === 0);
    const f = asIs ? undefined : dequantize(info.type, bytes, info.elementCount, undefined, name);
    const values = f ? new Uint8Array(f.buffer, f.byteOffset, f.byteLength) : bytes;
    const w = uploadWeight(ctx, name, asIs ? info.type : GgmlType.F32, values, rows * heads, cols);
    matrices.push(w);
    onTensor(info.byteSize);
    return w;
  };
  const f32 = async (name: string): Promise<GPUBuffer> => {
    const info = file.requireTensor(name);
    const bytes = await file.tensorBytes(info);
    const values = info.type === GgmlType.F32 ? new Float32Array(bytes.slice().buffer) : dequantize(info.type, bytes, info.elementCount, undefined, name);
    const b = ctx.upload(values, name);
    buffers.push(b);
    onTensor(info.byteSize);
    return b;
  };
  // attn_kv_a_mqa's rows: [latent (kvLoraRank) | RoPE key (ropeDim)], as two WeightTensors.
  const kvA = async (l: number): Promise<[WeightTensor, WeightTensor]> => {
    const info = file.requireTensor(layerTensor(l, 'attn_kv_a_mqa'));
    const bytes = await file.tensorBytes(info);
    const rowBytes = bytes.byteLength / info.dims[1]!;
    const latent = uploadWeight(ctx, `${info.name}[latent]`, info.type, bytes.subarray(0, t.kvLoraRank * rowBytes), t.kvLoraRank, info.dims[0]!);
    matrices.push(latent);
    const rope = uploadWeight(ctx, `${info.name}[rope]`, info.type, bytes.subarray(t.kvLoraRank * rowBytes), c.ropeDim, info.dims[0]!);
    matrices.push(rope);
    onTensor(info.byteSize);
    return [latent, rope];
  };
  try {
    for (let l = 0; l < c.nLayers; l++) {
      const name = (n: string): string => layerTensor(l, n);
      const attnNorm = await f32(name('attn_norm'));
      const query = t.qLoraRank > 0 ? { wqA: await matrix(name('attn_q_a')), qANorm: await f32(name('attn_q_a_norm')), wqB: await matrix(name('attn_q_b')) } : { wq: await matrix(name('attn_q')) };
      const [wkvLatent, wkvRope] = await kvA(l);
      const attention = { attnNorm, ...query, wkvLatent, wkvRope, kvANorm: await f32(name('attn_kv_a_norm')), kB: await perHead(name('attn_k_b')), vB: await perHead(name('attn_v_b')), wo: await matrix(name('attn_output')) };
      const ffnNorm = await f32(name('ffn_norm'));
      if (isMoeLayer(c, t, l)) {
        layers.push({ ...attention, ffnNorm, moe: await loadMoeLayer(ctx, file, l, onTensor, c.moe) });
        continue;
      }
      layers.push({ ...attention, ffnNorm, dense: { wGate: await matrix(name('ffn_gate')), wUp: await matrix(name('ffn_up')), wDown: await matrix(name('ffn_down')) } });
    }
    return layers;
  } catch (e) {
    matrices.forEach(destroyWeight);
    buffers.forEach((b) => b.destroy());
    layers.forEach((l) => l.moe && destroyMoeLayer(l.moe));
    throw e;
  }
}

const layerMatrices = (l: MlaLayerWeights): WeightTensor[] =>
  [l.wq, l.wqA, l.wqB, l.wkvLatent, l.wkvRope, l.kB, l.vB, l.wo, l.dense?.wGate, l.dense?.wUp, l.dense?.wDown].filter((w): w is WeightTensor => w !== undefined);

const layerBuffers = (l: MlaLayerWeights): GPUBuffer[] => [l.attnNorm, l.qANorm, l.kvANorm, l.ffnNorm].filter((b): b is GPUBuffer => b !== undefined);

export function mlaLayerBytes(l: MlaLayerWeights): number {
  const own = layerMatrices(l).reduce((n, w) => n + w.rows * w.rowBytes, 0) + layerBuffers(l).reduce((n, b) => n + b.size, 0);
  return own + (l.moe ? moeLayerBytes(l.moe) : 0);
}

export function destroyMlaLayer(l: MlaLayerWeights): void {
  layerMatrices(l).forEach(destroyWeight);
  layerBuffers(l).forEach((b) => b.destroy());
  if (l.moe) destroyMoeLayer(l.moe);
}

/** Checks the block-format matrices' types before anything is uploaded. */
export function checkDeepseek2WeightTypes(file: GgufFile, c: ModelConfig): void {
  for (let l = 0; l < c.nLayers; l++) for (const n of deepseek2MatrixNames(c, l)) checkGpuType(n, file.requireTensor(n).type);
}
