// Fit estimates for what Discover shows: a Hub file (its own header, or the repository's shape scaled to its size)
// and a library model (the details its header gave at import).
import type { HubFileCheck, HubRepositoryFiles, ModelInfo } from '../../../../shared/api';
import { estimateFit, kvKindsOf, type FitDevice, type FitEstimate, type FitModel, type FitOptions } from '../../../../shared/model-fit';

/**
 * The file whose header tells the shape (layers, heads) every file of the repository shares: the smallest single
 * file (one header to read), else the smallest complete split model, named by its first part (the probe reads every
 * part's header and sums the parts' sizes, as the listing sums them). Null when no file can tell.
 */
export function shapeProbeFile(files: HubRepositoryFiles): string | null {
  const complete = files.groups.flatMap((g) => g.files).filter((f) => f.problem === null);
  const bySize = (a: { size: number }, b: { size: number }): number => a.size - b.size;
  const single = complete.filter((f) => f.parts === 1).sort(bySize)[0];
  return (single ?? complete.sort(bySize)[0])?.file ?? null;
}

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
  const model: FitModel = { weightsBytes: m.size, layers: d.nLayers, kvHeads: d.nKvHeads, headDim: d.headDim, kvKinds: kvKindsOf(m.architecture), dim: d.dim, vocabSize: d.vocabSize };
  return estimateFit(model, device, clampContext(o, m.contextLength));
}

/** No model is run past its own context length. */
function clampContext(o: FitOptions, modelContext: number | null): FitOptions {
  return modelContext && modelContext < o.contextLength ? { ...o, contextLength: modelContext } : o;
}
