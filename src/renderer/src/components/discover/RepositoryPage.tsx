// One repository: its GGUF files grouped by quantization, each with its size and fit label; the chosen file's
// header check and the Download button below.
import type { FitDevice, FitOptions } from '../../../../shared/model-fit';
import type { ChosenFile, OpenRepository } from '../../hooks/useDiscover';
import { FileCheck } from './FileCheck';
import { FitBadge } from './FitBadge';
import { hubFileFit } from './fit';
import { formatBytes } from './format';
import { HubStatusLine } from './HubStatusLine';

export interface RepositoryPageProps {
  readonly repo: OpenRepository;
  readonly chosen: ChosenFile | null;
  readonly device: FitDevice | null;
  readonly fitOptions: FitOptions;
  readonly endpoint: string | undefined;
  readonly onChoose: (file: string) => void;
  readonly onDownload: (file: string) => void;
}

export function RepositoryPage({ repo, chosen, device, fitOptions, endpoint, onChoose, onDownload }: RepositoryPageProps) {
  const groups = repo.files?.groups ?? [];
  return (
    <section className="hub-repo" aria-label={`Repository ${repo.id}`} data-testid="hub-repo" data-repo={repo.id}>
      <h2>{repo.id}</h2>
      <HubStatusLine status={repo.status} endpoint={endpoint} testId="hub-repo-status" />
      {repo.files && groups.length === 0 && <p className="muted">This repository has no GGUF file.</p>}
      {groups.map((g) => (
        <div key={g.quant} className="quant-group" data-testid="quant-group" data-quant={g.quant}>
          <h3>{g.quant === 'other' ? 'Other' : g.quant}</h3>
          <ul aria-label={`${g.quant} files`}>
            {g.files.map((f) => {
              const fit = f.problem ? null : hubFileFit(f.size, repo.shape, device, fitOptions);
              const isChosen = chosen?.repo === repo.id && chosen.file === f.file;
              return (
                <li key={f.file} data-testid="hub-file" data-file={f.file} aria-current={isChosen}>
                  <button onClick={() => onChoose(f.file)} aria-label={`Check ${f.file}`} disabled={f.problem !== null}>
                    <span className="name">{f.file}</span>
                    <span className="meta">
                      {formatBytes(f.size)}
                      {f.parts > 1 ? ` in ${f.parts} parts` : ''}
                      {f.problem ? ` · ${f.problem}` : !f.engineReadsQuant ? ' · quantization not supported' : ''}
                    </span>
                  </button>
                  {!f.problem && <FitBadge fit={fit} />}
                </li>
              );
            })}
          </ul>
        </div>
      ))}
      {chosen && chosen.repo === repo.id && <FileCheck chosen={chosen} device={device} fitOptions={fitOptions} endpoint={endpoint} onDownload={() => onDownload(chosen.file)} />}
    </section>
  );
}
