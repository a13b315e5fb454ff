// The mixture-of-experts FFN on the GPU (Qwen3-MoE, gpt-oss, DeepSeek-V2): router matvec, top-k routing, the selected
// experts' SwiGLU matvecs and their weighted sum into the residual stream, plus DeepSeek's shared experts (a plain
// SwiGLU every token runs), all recorded into the step's pass with no readback.
// Decode runs each (token, slot) pair's expert rows; prefill and batched decode first sort the pairs by expert on
// the GPU, so that each expert's rows are read once per tile of its tokens instead of once per token.
import type { GgufFile } from '../gguf/reader';
import type { KernelContext } from '../kernels/context';
import { encodeSwiglu } from '../kernels/elementwise';
import { encodeMatmul } from '../kernels/matmul';
import {
  destroyExperts,
  encodeExpertGrouping,
  encodeExpertMatvec,
  encodeGroupedExpertMatvec,
  encodeMoeCombine,
  encodeRoute,
  encodeSwigluOai,
  expertTiles,
  MAX_GROUPED_EXPERTS,
  uploadExperts,
  type ExpertGrouping,
  type ExpertTensor,
} from '../kernels/moe';
import { checkGpuType, destroyWeight, uploadWeight, type WeightTensor } from '../kernels/weights';
import { dequantize } from '../quant';
import { layerBias, layerTensor } from './config';
import { SWIGLU_OAI, type MoeConfig } from './moe-config';

export interface MoeLayerWeights {
  readonly router: WeightTensor; // (experts, dim)
  readonly gate: ExpertTensor; // (experts, expertFfnDim, dim)
  readonly up: ExpertTensor; // (experts, expertFfnDim, dim)
  readonly down: ExpertTensor; // (experts, dim, expertFfnDim)
  /** gpt-oss (MoeConfig.oai): f32 biases of the router and of each expert's rows. */
  readonly biases?: MoeBiases;
  /** DeepSeek (MoeConfig.sharedFfnDim): the shared experts' SwiGLU. */
  readonly shared?: SharedExpertWeights;
}

export interface SharedExpertWeights {
  readonly gate: WeightTensor; // (sharedFfnDim, dim)
  readonly up: WeightTensor; // (sharedFfnDim, dim)
  readonly down: WeightTensor; // (dim, sharedFfnDim)
}

const SHARED_TENSORS = ['ffn_gate_shexp', 'ffn_up_shexp', 'ffn_down_shexp'] as const;

export interface MoeBiases {
  readonly router: GPUBuffer; // (experts)
  readonly gate: GPUBuffer; // (experts, expertFfnDim)
  readonly up: GPUBuffer; // (experts, expertFfnDim)
  readonly down: GPUBuffer; // (experts, dim)
}

const EXPERT_TENSORS = ['ffn_gate_exps', 'ffn_up_exps', 'ffn_down_exps'] as const;

/** The MoE matrices of layer `l`, for checkWeightTypes. */
export function moeMatrixNames(l: number, m?: MoeConfig): string[] {
  // Biases (gpt-oss) are vectors, read as f32 whatever their file type.
  return ['ffn_gate_inp', ...EXPERT_TENSORS, ...(m?.sharedFfnDim !== undefined ? SHARED_TENSORS : [])].map((n) => layerTensor(l, n));
}

const BIASED_TENSORS = ['ffn_gate_inp', 'ffn_gate_exps', 'ffn_up_exps', 'ffn_down_exps'] as const;

async function loadMoeBiases(ctx: KernelContext, file: GgufFile, l: number, onTensor: (bytes: number) => void): Promise<MoeBiases> {
  const done: GPUBuffer[] = [];
  try {
    for (const n of BIASED_TENSORS) {
      const t = file.requireTensor(layerBias(l, n));
      done.push(ctx.upload(dequantize(t.type, await file.tensorBytes(t), t.elementCount, undefined, t.name), t.name));
      onTensor(t.byteSize);
    }
    return { router: done[0]!, gate: done[1]!, up: done[2]!, down: done[3]! };
  } catch (e) {
    done.forEach((b) => b.destroy());
    throw e;
  }
}

export async function loadMoeLayer(ctx: KernelContext, file: GgufFile, l: number, onTensor: (bytes: number) => void, m?: MoeConfig): Promise<MoeLayerWeights> {
  const done: (WeightTensor | ExpertTensor)[] = [];
  try {
    const r = file.requireTensor(layerTensor(l, 'ffn_gate_inp'));
    const router = uploadWeight(ctx, r.name, r.type, await file.tensorBytes(r), r.dims[1]!, r.dims[0]!);
    done.push(router);
    onTensor(r.byteSize);
    const experts: ExpertTensor[] = [];
    for (const n of EXPERT_TENSORS) {
      const t = file.requireTensor(layerTensor(l, n));
      checkGpuType(t.name, t.type);
      const e = uploadExperts(ctx, t.name, t.type, await file.tensorBytes(t), t.dims[2]!, t.dims[1]!, t.dims[0]!);
      experts.push(e);
      done.push(e);
      onTensor(t.byteSize);
    }
    const shared: WeightTensor[] = [];
    for (const n of m?.sharedFfnDim !== undefined ? SHARED_TENSORS : []) {
      const t = file.requireTensor(layerTensor(l, n));
      const w = uploadWeight(ctx, t.name, t.type, await file.tensorBytes(t), t.dims[1]!, t.dims[0]!);
      shared.push(w);
      done.push(w);
      onTensor(t.byteSize);
    }
    const biases = m?.oai ? await loadMoeBiases(ctx, file, l, onTensor) : undefined;
    return {
      router,
      gate: experts[0]!,
      up: experts[1]!,
      down: experts[2]!,
      ...(biases ? { biases } : {}),
      ...(shared.length > 0 ? { shared: { gate: shared[0]!, up: shared[1]!, down: shared[2]! } } : {}),
    };
  } catch (e) {
    done.forEach(destroyAny);
    throw e;
  }
}

function destroyAny(t: WeightTensor | ExpertTensor): void {
  if ('groups' in t) destroyExperts(t);
  else destroyWeight(t);
}

export function destroyMoeLayer(w: MoeLayerWeights): void {
  [w.router, w.gate, w.up, w.down].forEach(destroyAny);
  if (w.shared) [w.shared.gate, w.shared.up, w.shared.down].forEach(destroyWeight);
  if (w.biases) Object.values(w.biases).forEach((b: GPUBuffer) => b.destroy());
}

export function moeLayerBytes(w: MoeLayerWeights): number {
  const experts = [w.gate, w.up, w.down].flatMap((e) => e.groups.map((g) => g.tensor));
  const biases = w.biases ? Object.values(w.biases).reduce((n: number, b: GPUBuffer) => n + b.size, 0) : 0;
  const shared = w.shared ? [w.shared.gate, w.shared.up, w.shared.down] : [];
  return [w.router, ...experts, ...shared].reduce((n, t) => n + t.rows * t.rowBytes, biases);
}

/** Scratch for `maxTokens` tokens and the FFN's encoding; one per forward pass. */
export class MoeFeedForward {
  private readonly logits: GPUBuffer; // (T, experts) router logits
  private readonly ids: GPUBuffer; // (T, used) u32 selected experts
  private readonly weights: GPUBuffer; // (T, used) routing weights
  private readonly gate: GPUBuffer; // (T * used, expertFfnDim)
  private readonly up: GPUBuffer; // (T * used, expertFfnDim)
  private readonly out: GPUBuffer; // (T * used, dim) weighted expert outputs
  private readonly grouping: ExpertGrouping; // pairs sorted by expert, for steps of several tokens
  private readonly sharedGate: GPUBuffer | undefined; // (T, sharedFfnDim)
  private readonly sharedUp: GPUBuffer | undefined; // (T, sharedFfnDim)

  constructor(
    private readonly ctx: KernelContext,
    private readonly dim: number,
    private readonly m: MoeConfig,
    maxTokens: number,
  ) {
    const pairs = maxTokens * this.m.used;
    this.logits = ctx.storage(maxTokens * this.m.experts * 4, 'moe-logits');
    this.ids = ctx.storage(pairs * 4, 'moe-ids');
    this.weights = ctx.storage(pairs * 4, 'moe-weights');
    this.gate = ctx.storage(pairs * this.m.expertFfnDim * 4, 'moe-gate');
    this.up = ctx.storage(pairs * this.m.expertFfnDim * 4, 'moe-up');
    this.out = ctx.storage(pairs * dim * 4, 'moe-out');
    this.grouping = { list: ctx.storage(pairs * 4, 'moe-pair-list'), tiles: ctx.storage(expertTiles(pairs, this.m.experts) * 12, 'moe-tiles') };
    const shared = this.m.sharedFfnDim;
    this.sharedGate = shared === undefined ? undefined : ctx.storage(maxTokens * shared * 4, 'moe-shared-gate');
    this.sharedUp = shared === undefined ? undefined : ctx.storage(maxTokens * shared * 4, 'moe-shared-up');
  }

  /** x(T, dim) += MoE(xb(T, dim)) for layer weights `w`. */
  encode(pass: GPUComputePassEncoder, w: MoeLayerWeights, xb: GPUBuffer, x: GPUBuffer, tokens: number): void {
    const { ctx, m } = this;
    const pairs = tokens * m.used;
    const route = { logits: this.logits, ids: this.ids, weights: this.weights };
    const b = w.biases;
    encodeMatmul(ctx, pass, w.router, xb, this.logits, tokens, b ? { bias: b.router } : {});
    const extras = { sigmoid: m.gating === 'sigmoid', ...(m.weightsScale !== undefined ? { scale: m.weightsScale } : {}) };
    encodeRoute(ctx, pass, route, tokens, m.experts, m.used, m.normalizeWeights, m.gating === 'softmax-weight', extras);
    const opts = (bias: GPUBuffer | undefined): { bias?: GPUBuffer } => (bias ? { bias } : {});
    const down = { xPerPair: true, weighted: true, ...opts(b?.down) };
    const n = pairs * m.expertFfnDim;
    if (tokens > 1 && m.experts <= MAX_GROUPED_EXPERTS) {
      const g = this.grouping;
      encodeExpertGrouping(ctx, pass, this.ids, g, pairs, m.experts);
      encodeGroupedExpertMatvec(ctx, pass, w.gate, g, this.weights, xb, this.gate, pairs, m.used, opts(b?.gate));
      encodeGroupedExpertMatvec(ctx, pass, w.up, g, this.weights, xb, this.up, pairs, m.used, opts(b?.up));
      this.activate(pass, n);
      encodeGroupedExpertMatvec(ctx, pass, w.down, g, this.weights, this.gate, this.out, pairs, m.used, down);
    } else {
      encodeExpertMatvec(ctx, pass, w.gate, route, xb, this.gate, pairs, m.used, opts(b?.gate));
      encodeExpertMatvec(ctx, pass, w.up, route, xb, this.up, pairs, m.used, opts(b?.up));
      this.activate(pass, n);
      encodeExpertMatvec(ctx, pass, w.down, route, this.gate, this.out, pairs, m.used, down);
    }
    encodeMoeCombine(ctx, pass, this.out, x, tokens, this.dim, m.used);
    if (w.shared) this.encodeShared(pass, w.shared, xb, x, tokens);
  }

  /** x(T, dim) += down(silu(gate xb) * up xb): the shared experts (llama.cpp adds them to the routed sum). */
  private encodeShared(pass: GPUComputePassEncoder, w: SharedExpertWeights, xb: GPUBuffer, x: GPUBuffer, tokens: number): void {
    const { ctx } = this;
    if (!this.sharedGate || !this.sharedUp) throw new Error('MoeFeedForward: the layer has shared experts but the config has no sharedFfnDim');
    encodeMatmul(ctx, pass, w.gate, xb, this.sharedGate, tokens);
    encodeMatmul(ctx, pass, w.up, xb, this.sharedUp, tokens);
    encodeSwiglu(ctx, pass, this.sharedGate, this.sharedUp, tokens * w.gate.rows);
    encodeMatmul(ctx, pass, w.down, this.sharedGate, x, tokens, { accumulate: true });
  }

  /** gate(n) = act(gate, up): SwiGLU, or gpt-oss's clamped swiglu_oai. */
  private activate(pass: GPUComputePassEncoder, n: number): void {
    if (this.m.oai) encodeSwigluOai(this.ctx, pass, this.gate, this.up, n, SWIGLU_OAI);
    else encodeSwiglu(this.ctx, pass, this.gate, this.up, n);
  }

  destroy(): void {
    for (const b of [this.logits, this.ids, this.weights, this.gate, this.up, this.out, this.grouping.list, this.grouping.tiles, this.sharedGate, this.sharedUp]) b?.destroy();
  }
}
