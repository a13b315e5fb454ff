// The mixture-of-experts FFN on the CPU, as llama.cpp's build_moe_ffn computes it for Qwen3-MoE, gpt-oss and
// DeepSeek-V2 (shared experts, sigmoid gating, a scale on the routing weights): the oracle of the GPU router and
// expert kernels. Weights are f32 in host memory; 3-D expert tensors are (experts, rows, cols).
import { SWIGLU_OAI, type MoeConfig } from './moe-config';

export interface Routing {
  /** Selected experts, highest probability first. */
  readonly ids: number[];
  /** Their weights: probabilities, renormalised to sum 1 when `normalizeWeights`, then times `weightsScale`. */
  readonly weights: number[];
}

/**
 * `softmax` gating (Qwen3-MoE): softmax over the router logits, top-k by probability, then the k probabilities
 * renormalised (divided by their sum, clamped below at 6.103515625e-5 as llama.cpp does). `softmax-weight` gating
 * (gpt-oss): top-k of the raw logits, then a softmax over the k. Ties: llama.cpp's ggml_top_k (std::partial_sort, or
 * std::sort in older trees) leaves the order of equal values unspecified; we take the lower expert index first, on
 * the CPU and in the GPU kernel alike.
 */
export function routeTopK(logits: ArrayLike<number>, m: MoeConfig): Routing {
  const n = m.experts;
  const byLogit = m.gating === 'softmax-weight';
  const scores = byLogit ? Float32Array.from({ length: n }, (_, e) => logits[e]!) : m.gating === 'sigmoid' ? sigmoidF32(logits, n) : softmaxF32(logits, n);
  const ids: number[] = [];
  for (let k = 0; k < m.used; k++) {
    let best = -1;
    for (let e = 0; e < n; e++) {
      if (ids.includes(e)) continue;
      if (best < 0 || scores[e]! > scores[best]!) best = e;
    }
    ids.push(best);
  }
  let weights = byLogit ? Array.from(softmaxF32(ids.map((e) => scores[e]!), ids.length)) : ids.map((e) => scores[e]!);
  if (m.normalizeWeights) {
    const total = Math.max(weights.reduce((a, b) => a + b, 0), 6.103515625e-5);
    weights = weights.map((w) => w / total);
  }
  const scale = m.weightsScale;
  if (scale !== undefined) weights = weights.map((w) => Math.fround(w * scale));
  return { ids, weights };
}

function sigmoidF32(x: ArrayLike<number>, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 1 / (1 + Math.exp(-x[i]!)));
}

function softmaxF32(x: ArrayLike<number>, n: number): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[i]!);
  const p = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp(x[i]! - max);
    sum += p[i]!;
  }
  for (let i = 0; i < n; i++) p[i] = p[i]! / sum;
  return p;
}

export interface MoeLayerCpuWeights {
  readonly router: Float32Array; // (experts, dim)
  readonly gate: Float32Array; // (experts, expertFfnDim, dim)
  readonly up: Float32Array; // (experts, expertFfnDim, dim)
  readonly down: Float32Array; // (experts, dim, expertFfnDim)
  /** gpt-oss (MoeConfig.oai): the router's and each expert's biases. */
  readonly routerBias?: Float32Array; // (experts)
  readonly gateBias?: Float32Array; // (experts, expertFfnDim)
  readonly upBias?: Float32Array; // (experts, expertFfnDim)
  readonly downBias?: Float32Array; // (experts, dim)
  /** DeepSeek (MoeConfig.sharedFfnDim): the shared experts' SwiGLU, run on every token. */
  readonly shared?: SharedExpertCpuWeights;
}

export interface SharedExpertCpuWeights {
  readonly gate: Float32Array; // (sharedFfnDim, dim)
  readonly up: Float32Array; // (sharedFfnDim, dim)
  readonly down: Float32Array; // (dim, sharedFfnDim)
}

const silu = (x: number): number => x / (1 + Math.exp(-x));

/** ggml_swiglu_oai: the gate clamped above at `limit`, its x * sigmoid(alpha x), times (up clamped to +-limit) + 1. */
export function swigluOai(gate: number, up: number): number {
  const { alpha, limit } = SWIGLU_OAI;
  const x = Math.min(gate, limit);
  const y = Math.min(Math.max(up, -limit), limit);
  return (x / (1 + Math.exp(-alpha * x))) * (y + 1);
}

/** v += bias row `row` (v.length values), when there is a bias. */
function addRow(v: Float64Array, bias: Float32Array | undefined, row: number): void {
  if (!bias) return;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! + bias[row * v.length + i]!;
}

/** rows of W(rows, cols) starting at row `first`, times x(cols); accumulated in double precision. */
function matvecRows(w: Float32Array, first: number, rows: number, cols: number, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = (first + r) * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[base + c]! * x[c]!;
    out[r] = s;
  }
  return out;
}

/**
 * out(dim) = sum over the routed experts e of weight_e * down_e(act(gate_e x, up_e x)), for normed input x(dim):
 * act is silu(g) * u, or swigluOai with every matvec's bias added (gpt-oss); plus the shared experts' SwiGLU when
 * there are some (DeepSeek).
 */
export function moeFeedForward(out: Float32Array, x: ArrayLike<number>, dim: number, m: MoeConfig, w: MoeLayerCpuWeights): Routing {
  const f = m.expertFfnDim;
  const logits = matvecRows(w.router, 0, m.experts, dim, x);
  addRow(logits, w.routerBias, 0);
  const routing = routeTopK(Float32Array.from(logits), m);
  const act = m.oai ? swigluOai : (g: number, u: number): number => silu(g) * u;
  out.fill(0, 0, dim);
  routing.ids.forEach((e, k) => {
    const g = matvecRows(w.gate, e * f, f, dim, x);
    const u = matvecRows(w.up, e * f, f, dim, x);
    addRow(g, w.gateBias, e);
    addRow(u, w.upBias, e);
    const h = Float32Array.from(Float32Array.from(g), (gv, i) => act(gv, Math.fround(u[i]!)));
    const y = matvecRows(w.down, e * dim, dim, f, h);
    addRow(y, w.downBias, e);
    for (let i = 0; i < dim; i++) out[i] = out[i]! + routing.weights[k]! * y[i]!;
  });
  if (w.shared && m.sharedFfnDim !== undefined) addSharedExperts(out, x, dim, m.sharedFfnDim, w.shared);
  return routing;
}

/** out(dim) += down(silu(gate x) * up x): llama.cpp's build_ffn for the shared experts (LLM_FFN_SILU, LLM_FFN_PAR). */
function addSharedExperts(out: Float32Array, x: ArrayLike<number>, dim: number, f: number, w: SharedExpertCpuWeights): void {
  const g = matvecRows(w.gate, 0, f, dim, x);
  const u = matvecRows(w.up, 0, f, dim, x);
  const h = Float32Array.from(g, (gv, i) => silu(gv) * u[i]!);
  const y = matvecRows(w.down, 0, dim, f, h);
  for (let i = 0; i < dim; i++) out[i] = out[i]! + y[i]!;
}
