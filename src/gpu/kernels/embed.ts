import type { KernelContext } from './context';
import embedSource from './embed.wgsl?raw';
import quantSource from './quant.wgsl?raw';
import { dispatch, preprocess } from './shader';
import { isScalarType, wgslTypeName, type WeightTensor } from './weights';

/** y(tokens, dim) = rows `tokens` of the embedding table, decoded from its GGUF type. */
export function encodeEmbed(ctx: KernelContext, pass: GPUComputePassEncoder, table: WeightTensor, tokens: GPUBuffer, y: GPUBuffer, count: number): void {
  if (count > ctx.caps.maxComputeWorkgroupsPerDimension) throw new RangeError(`embedding lookup of ${count} tokens in one call`);
  const scalar = isScalarType(table.type);
  const p = ctx.pipelines.get({ family: 'embed', wtype: table.type, paired: table.paired }, () => ({
    code: preprocess(embedSource, { WTYPE: wgslTypeName(table.type), SCALAR: scalar, PAIRED: table.paired }, { quant: quantSource }),
    entryPoint: 'main',
  }));
  for (const part of table.parts) {
    const params = ctx.uniform([table.cols, count, table.rowBytes, part.firstRow, part.rows, 0, 0, 0]);
    dispatch(pass, ctx.device, p, [params, part.buffer, tokens, y], [count]);
  }
}
