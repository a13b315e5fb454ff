// What the library records about a model, read from its GGUF header through the engine's own reader, so a
// file the engine would refuse is refused at import, with the engine's GgufError. The first part of a split model
// (`-00001-of-0000N.gguf`) is opened with its sibling parts, as the engine opens it (every part checked).
import { basename } from 'node:path';
import type { ModelDetails } from '../../shared/api';
import { openGgufFile } from '../../node/file-source';
import { GgufError } from '../../gpu/gguf/errors';
import { ggmlTypeName, type GgufHeader } from '../../gpu/gguf/types';
import { checkGpuType } from '../../gpu/kernels/weights';
import { expectedTensorShapes, parameterCount, readModelConfig } from '../../gpu/model/config';

export interface ModelFacts {
  readonly architecture: string;
  readonly parameterCount: number;
  readonly quantization: string;
  readonly contextLength: number;
  readonly details: ModelDetails;
  /** Files of the model: 1, or the parts of a split model. */
  readonly partCount: number;
}

// llama.cpp's llama_ftype numbering (general.file_type).
const FILE_TYPES: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 4: 'Q4_1_SOME_F16', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1',
  10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M', 13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M',
  18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL',
  26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0',
  37: 'TQ2_0', 38: 'MXFP4_MOE',
};

/** From general.file_type when present, else the type holding most bytes of the 2-D weights. */
export function quantizationOf(header: GgufHeader): string {
  const fileType = header.metadata.get('general.file_type');
  if (typeof fileType === 'number' && FILE_TYPES[fileType]) return FILE_TYPES[fileType];
  const bytesByType = new Map<number, number>();
  for (const t of header.tensors) {
    if (t.dims.length >= 2) bytesByType.set(t.type, (bytesByType.get(t.type) ?? 0) + t.byteSize);
  }
  let best: number | undefined;
  for (const [type, bytes] of bytesByType) if (best === undefined || bytes > bytesByType.get(best)!) best = type;
  return best === undefined ? 'unknown' : ggmlTypeName(best);
}

/** Reads and checks the header of the model file at `path`. Throws the reader's GgufError for a bad file. */
export async function inspectModelFile(path: string): Promise<ModelFacts> {
  const { file, close } = await openGgufFile(path);
  try {
    const header = file.header;
    const config = readModelConfig(header);
    const byName = new Map(header.tensors.map((t) => [t.name, t]));
    for (const name of expectedTensorShapes(config).keys()) {
      const tensor = byName.get(name);
      if (!tensor) throw new GgufError('missing-tensor', `the model has no tensor ${name}`);
      checkGpuType(name, tensor.type);
    }
    const generalName = header.metadata.get('general.name');
    return {
      architecture: config.architecture,
      parameterCount: parameterCount(header),
      quantization: quantizationOf(header),
      contextLength: config.contextLength,
      details: {
        displayName: typeof generalName === 'string' ? generalName : basename(path),
        dim: config.dim,
        nLayers: config.nLayers,
        nHeads: config.nHeads,
        nKvHeads: config.nKvHeads,
        headDim: config.headDim,
        ffnDim: config.ffnDim,
        vocabSize: config.vocabSize,
        ropeBase: config.ropeBase,
        tiedEmbeddings: config.tiedEmbeddings,
        hasChatTemplate: typeof header.metadata.get('tokenizer.chat_template') === 'string',
        ggufVersion: header.version,
        tensorCount: header.tensors.length,
      },
      partCount: file.parts.length,
    };
  } finally {
    await close();
  }
}
