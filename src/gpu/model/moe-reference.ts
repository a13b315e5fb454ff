// The mixture-of-experts FFN on the CPU, as llama.cpp's build_moe_ffn computes it for Qwen3-MoE: the oracle of
// the GPU router and expert kernels. Weights are f32 in host memory; 3-D expert tensors are (experts, rows, cols).
import type { MoeConfig } from './moe-config';

export interface Routing {
  /** Selected experts, highest probability first. */
  readonly ids: number[];
  /** Their weights: probabilities, renormalised to sum 1 when `normalizeWeights`. */
  readonly weights: number[];
}

/**
 * Softmax over the router logits, top-k by probability, then the k probabilities renormalised (divided by their
 * sum, clamped below at 6.103515625e-5 as llama.cpp does). Ties: llama.cpp's ggml_top_k (std::partial_sort, or
 * std::sort in older trees) leaves the order of equal probabilities unspecified; we take the lower expert index
 * first, on the CPU and in the GPU kernel alike.
 */
export function routeTopK(logits: ArrayLike<number>, m: MoeConfig): Routing {
  const n = m.experts;
  let max = -Infinity;
  for (let e = 0; e < n; e++) max = Math.max(max, logits[e]!);
  const probs = new Float32Array(n);
  let sum = 0;
  for (let e = 0; e < n; e++) {
    probs[e] = Math.exp(logits[e]! - max);
    sum += probs[e]!;
  }
  for (let e = 0; e < n; e++) probs[e] = probs[e]! / sum;
  const ids: number[] = [];
  for (let k = 0; k < m.used; k++) {
    let best = -1;
    for (let e = 0; e < n; e++) {
      if (ids.includes(e)) continue;
      if (best < 0 || probs[e]! > probs[best]!) best = e;
    }
    ids.push(best);
  }
  let weights = ids.map((e) => probs[e]!);
  if (m.normalizeWeights) {
    const total = Math.max(weights.reduce((a, b) => a + b, 0), 6.103515625e-5);
    weights = weights.map((w) => w / total);
  }
  return { ids, weights };
}

export interface MoeLayerCpuWeights {
  readonly router: Float32Array; // (experts, dim)
  readonly gate: Float32Array; // (experts, expertFfnDim, dim)
  readonly up: Float32Array; // (experts, expertFfnDim, dim)
  readonly down: Float32Array; // (experts, dim, expertFfnDim)
}

const silu = (x: number): number => x / (1 + Math.exp(-x));

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

/** out(dim) = sum over the routed experts e of weight_e * down_e(silu(gate_e x) * up_e x), for normed input x(dim). */
export function moeFeedForward(out: Float32Array, x: ArrayLike<number>, dim: number, m: MoeConfig, w: MoeLayerCpuWeights): Routing {
  const f = m.expertFfnDim;
  const routing = routeTopK(Float32Array.from(matvecRows(w.router, 0, m.experts, dim, x)), m);
  out.fill(0, 0, dim);
  routing.ids.forEach((e, k) => {
    const g = matvecRows(w.gate, e * f, f, dim, x);
    const u = matvecRows(w.up, e * f, f, dim, x);
    const h = Float32Array.from(g, (gv, i) => silu(gv) * u[i]!);
    const y = matvecRows(w.down, e * dim, dim, f, h);
    for (let i = 0; i < dim; i++) out[i] = out[i]! + routing.weights[k]! * y[i]!;
  });
  return routing;
}
