// The models already in the library, judged by the same estimate at the chosen context.
import type { ModelInfo } from '../../../../shared/api';
import type { FitDevice, FitOptions } from '../../../../shared/model-fit';
import { FitBadge } from './FitBadge';
import { libraryModelFit } from './fit';
import { formatBytes } from './format';

export function LibraryFit({ models, device, fitOptions }: { models: readonly ModelInfo[]; device: FitDevice | null; fitOptions: FitOptions }) {
  if (models.length === 0) return null;
  return (
    <section className="library-fit" aria-label="Your models">
      <h3>Your models</h3>
      <ul>
        {models.map((m) => (
          <li key={m.id} data-testid="library-model" data-name={m.name}>
            <span className="name">{m.name}</span>
            <span className="meta">
              {formatBytes(m.size)} · {m.quantization}
            </span>
            <FitBadge fit={libraryModelFit(m, device, fitOptions)} />
          </li>
        ))}
      </ul>
    </section>
  );
}
