// Random valid blocks of the types our quantizer does not write (Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4): random quant
// and sub-scale bytes, with the f16 / E8M0 scales set so that values are of the order of `sigma`. Scales stay normal
// numbers far from f32's limits, so a GPU that flushes subnormals decodes them exactly too.
import { blockGeometry, GgmlType } from '../../src/gpu/gguf/types';
import { f32ToF16Bits } from '../../src/gpu/quant/half';
import { uniform } from './numeric';

// type -> [byte offsets of its f16 scales within a block, typical |value| / scale]
const F16_SCALES: ReadonlyMap<number, readonly [readonly number[], number]> = new Map([
  [GgmlType.Q2_K, [[80, 82], 20]], // (d * sc) * q - dmin * m: sc, m < 16, q < 4 (set apart below)
  [GgmlType.Q3_K, [[108], 32]], // d * (sc - 32) * q: |sc - 32| <= 32, |q| <= 4
  [GgmlType.IQ4_NL, [[0], 60]], // d * kvalues[q], |kvalues| <= 127
  [GgmlType.IQ4_XS, [[0], 1000]], // d * (ls - 32) * kvalues[q]
]);

/** `count` random blocks of `type` (one of the five above) whose values are of the order of `sigma`. */
export function randomBlocks(type: number, count: number, seed: number, sigma = 1): Uint8Array {
  const g = blockGeometry(type)!;
  const next = uniform(seed);
  const out = new Uint8Array(count * g.typeSize);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(next() * 256);
  const view = new DataView(out.buffer);
  for (let b = 0; b < count; b++) {
    const at = b * g.typeSize;
    if (type === GgmlType.MXFP4) {
      // 2^(e - 128) within a factor 4 of sigma / 4 (|kvalues| averages about 5).
      out[at] = Math.round(Math.log2(sigma / 4)) + 128 + Math.floor(next() * 5) - 2;
      continue;
    }
    const spec = F16_SCALES.get(type);
    if (!spec) throw new Error(`randomBlocks: type ${type} is not one of Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4`);
    const [offsets, spread] = spec;
    // Q2_K's d and dmin stay positive, dmin = 1.5 d: E[sc * q] = 7.5 * 1.5 = 1.5 E[m], so values centre on 0 (a
    // common offset would make a model emit one token throughout). The others take either sign.
    const d = (sigma * (0.5 + next())) / spread;
    if (type === GgmlType.Q2_K) {
      view.setUint16(at + 80, f32ToF16Bits(d), true);
      view.setUint16(at + 82, f32ToF16Bits(1.5 * d), true);
      continue;
    }
    for (const o of offsets) view.setUint16(at + o, f32ToF16Bits(next() < 0.5 ? -d : d), true);
  }
  return out;
}
