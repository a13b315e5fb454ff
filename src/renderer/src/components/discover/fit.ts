// Fit estimates for what Discover shows: a Hub file (its own header, or the repository's shape scaled to its size)
// and a library model (the details its header gave at import).
import type { HubFileCheck, ModelInfo } from '../../../../shared/api';
import { estimateFit, type FitDevice, type FitEstimate, type FitModel, type FitOptions } from '../../../../shared/model-fit';

/** `size` bytes of a file of the repository whose header `probe` read: its weights scale with its size. */
export function hubFileFit(size: number, probe: HubFileCheck | null, device: FitDevice | null, o: FitOptions): FitEstimate | null {
  const shape = probe?.shape;
  if (!shape || !device || !probe) return null;
  const header = Math.max(0, probe.fileSize - shape.weightsBytes);
  const scale = shape.weightsBytes > 0 ? Math.max(0, size - header) / shape.weightsBytes : 1;
  const model: FitModel = {
    ...shape,
    weightsBytes: Math.round(shape.weightsBytes * scale),
    ...(shape.largestTensorBytes !== undefined ? { largestTensorBytes: Math.round(shape.largestTensorBytes * scale) } : {}),
    ...(shape.largestUnitBytes !== undefined ? { largestUnitBytes: Math.round(shape.largestUnitBytes * scale) } : {}),
  };
  return estimateFit(model, device, clampContext(o, probe.contextLength));
}

export function libraryModelFit(m: ModelInfo, device: FitDevice | null, o: FitOptions): FitEstimate | null {
  if (!device) return null;
  const d = m.details;
  return estimateFit({ weightsBytes: m.size, layers: d.nLayers, kvHeads: d.nKvHeads, headDim: d.headDim, dim: d.dim, vocabSize: d.vocabSize }, device, clampContext(o, m.contextLength));
}

/** No model is run past its own context length. */
function clampContext(o: FitOptions, modelContext: number | null): FitOptions {
  return modelContext && modelContext < o.contextLength ? { ...o, contextLength: modelContext } : o;
}
