import { describe, expect, it } from 'vitest';
import { CpuReferenceModel } from '../../src/gpu/model/cpu-reference';
import { argmax, loadReference, openModel, REFERENCE_CASES } from '../helpers/shared';

describe('CPU reference forward pass reproduces the shared references', () => {
  for (const { model, reference } of REFERENCE_CASES) {
    it(`${model} → ${reference}`, async () => {
      const ref = loadReference(reference);
      const m = await CpuReferenceModel.load(openModel(model));
      const eos = 2;
      const tokens = [...ref.prompt_tokens];
      const generated: number[] = [];
      let pos = 0;
      for (; pos < tokens.length - 1; pos++) m.forward(tokens[pos]!, pos);
      let firstLogits: Float32Array | undefined;
      while (generated.length < ref.generated_tokens.length) {
        const logits = m.forward(tokens[pos]!, pos);
        firstLogits ??= Float32Array.from(logits);
        const next = argmax(logits);
        if (ref.stopped_on_eog && next === eos) break;
        generated.push(next);
        tokens.push(next);
        pos++;
      }
      expect(generated).toEqual(ref.generated_tokens);
      let maxErr = 0;
      ref.first_generated_position_logits.forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - firstLogits![i]!))));
      expect(maxErr).toBeLessThan(1e-4);
    });
  }
});
