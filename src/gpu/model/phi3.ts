// What Phi-3 / Phi-4-mini add to the Llama-family description, read as llama.cpp reads them (src/models/phi3.cpp):
// - Q, K and V fused in one `attn_qkv` matrix (rows: q | k | v), or separate as in Llama;
// - gate and up fused in one `ffn_up` matrix of 2 * ffnDim rows: LLM_FFN_SWIGLU without a gate tensor is
//   ggml_swiglu (not swapped): silu(first half) * second half, so the first ffnDim rows are the gate;
// - partial rotary dims (`rope.dimension_count` < head dim, NeoX pairs), the rest of each head passes unrotated;
// - LongRoPE: `rope_factors_short.weight` / `rope_factors_long.weight` (ropeDim / 2 each), chosen by the context the
//   model is loaded with (rope-scaling.ts), and `rope.scaling.attn_factor` on cos and sin.
// `attention.sliding_window` is read but not applied: llama.cpp disables Phi's SWA (load_arch_hparams sets
// swa_type NONE, see llama.cpp PR 13676), and llama.cpp is what these models are proven equal to.
// Splitting the fused matrices into row ranges at load lets the Llama forward pass run Phi-3 unchanged.
import { GgufError } from '../gguf/errors';

const layerTensor = (layer: number, name: string): string => `blk.${layer}.${name}.weight`;

export interface Phi3Traits {
  /** `blk.N.attn_qkv.weight` holds Q, K and V; otherwise separate attn_q / attn_k / attn_v. */
  readonly fusedQkv: boolean;
}

/**
 * Phi-3's traits from its tensor list. Refuses what llama.cpp's Phi-3 graph would use and we do not: a fused QKV bias
 * and the MoE branch (ffn_gate_inp), rather than run them wrongly.
 */
export function readPhi3Traits(tensors: ReadonlyMap<string, unknown>, s: { headDim: number; ropeDim: number }): Phi3Traits {
  for (const name of [`blk.0.attn_qkv.bias`, layerTensor(0, 'ffn_gate_inp')]) {
    if (tensors.has(name)) throw new GgufError('unknown-architecture', `phi3: tensor ${name} is not supported (dense Phi-3 without a QKV bias only)`);
  }
  if (!Number.isInteger(s.ropeDim) || s.ropeDim < 2 || s.ropeDim % 2 !== 0 || s.ropeDim > s.headDim) {
    throw new GgufError('corrupt', `phi3: rope.dimension_count ${s.ropeDim} is not an even number of at most the head dim ${s.headDim}`);
  }
  return { fusedQkv: tensors.has(layerTensor(0, 'attn_qkv')) };
}

export interface FusedMatrix {
  /** The GGUF tensor name. */
  readonly name: string;
  /** Consecutive row ranges, in the order of `parts`. */
  readonly rows: readonly number[];
  /** The Llama-layout tensor name each row range stands for. */
  readonly parts: readonly string[];
}

interface Phi3Shape {
  readonly dim: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly ffnDim: number;
  readonly ropeDim: number;
}

/** The fused matrices of layer `l`: attn_qkv (when fused) and ffn_up, with the Llama tensors they split into. */
export function phi3FusedMatrices(l: number, c: Phi3Shape & { phi3?: Phi3Traits }): FusedMatrix[] {
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  const up: FusedMatrix = { name: layerTensor(l, 'ffn_up'), rows: [c.ffnDim, c.ffnDim], parts: [layerTensor(l, 'ffn_gate'), layerTensor(l, 'ffn_up')] };
  if (!c.phi3?.fusedQkv) return [up];
  return [{ name: layerTensor(l, 'attn_qkv'), rows: [q, kv, kv], parts: [layerTensor(l, 'attn_q'), layerTensor(l, 'attn_k'), layerTensor(l, 'attn_v')] }, up];
}

/** Expected ggml dims of Phi-3's per-layer projections (the norms and attn_output are the Llama ones). */
export function* phi3LayerTensorShapes(l: number, c: Phi3Shape, fusedQkv: boolean): Generator<[string, readonly number[]]> {
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  if (fusedQkv) {
    yield [layerTensor(l, 'attn_qkv'), [c.dim, q + 2 * kv]];
  } else {
    yield [layerTensor(l, 'attn_q'), [c.dim, q]];
    yield [layerTensor(l, 'attn_k'), [c.dim, kv]];
    yield [layerTensor(l, 'attn_v'), [c.dim, kv]];
  }
  yield [layerTensor(l, 'ffn_up'), [c.dim, 2 * c.ffnDim]];
  yield [layerTensor(l, 'ffn_down'), [c.ffnDim, c.dim]];
}

/** The LongRoPE factor tensors, when the file has them (both or neither). */
export function* phi3RopeFactorShapes(c: Phi3Shape): Generator<[string, readonly number[]]> {
  yield ['rope_factors_short.weight', [c.ropeDim / 2]];
  yield ['rope_factors_long.weight', [c.ropeDim / 2]];
}

/** Matrices the GPU reads for layer `l`, by their GGUF names. */
export function phi3MatrixNames(l: number, fusedQkv: boolean): string[] {
  const attention = fusedQkv ? ['attn_qkv'] : ['attn_q', 'attn_k', 'attn_v'];
  return [...attention, 'attn_output', 'ffn_up', 'ffn_down'].map((n) => layerTensor(l, n));
}

/**
 * f32 weights (row-major) with every fused matrix also present as its Llama-named parts (row ranges as views), so
 * the Llama CPU reference runs Phi-3 unchanged.
 */
export function splitFusedCpuWeights(w: ReadonlyMap<string, Float32Array>, c: Phi3Shape & { nLayers: number; phi3?: Phi3Traits }): Map<string, Float32Array> {
  const out = new Map(w);
  for (let l = 0; l < c.nLayers; l++) {
    for (const m of phi3FusedMatrices(l, c)) {
      const all = w.get(m.name);
      if (!all) throw new Error(`CPU reference: weight ${m.name} not loaded`);
      let first = 0;
      m.rows.forEach((rows, i) => {
        out.set(m.parts[i]!, all.subarray(first * c.dim, (first + rows) * c.dim));
        first += rows;
      });
    }
  }
  return out;
}
