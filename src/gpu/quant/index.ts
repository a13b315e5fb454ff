export {
  assertDequantizable,
  DEQUANTIZABLE_TYPES,
  dequantize,
  isDequantizable,
  matvecRows,
} from './dequant';
export { bf16ToF32, bf16ToF32Bits, f16ToF32, f16ToF32Bits } from './half';
export { KVALUES_IQ4NL, KVALUES_MXFP4 } from './legacy';
export type { RowDecoder } from './decoder';
