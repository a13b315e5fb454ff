// The chosen file's header, read over Range before any download: can the engine run it, will it fit; Download.
import { estimateFit, type FitDevice, type FitOptions } from '../../../../shared/model-fit';
import type { ChosenFile } from '../../hooks/useDiscover';
import { FitBadge } from './FitBadge';
import { formatBytes } from './format';
import { HubStatusLine } from './HubStatusLine';

export interface FileCheckProps {
  readonly chosen: ChosenFile;
  readonly device: FitDevice | null;
  readonly fitOptions: FitOptions;
  readonly endpoint: string | undefined;
  readonly onDownload: () => void;
}

export function FileCheck({ chosen, device, fitOptions, endpoint, onDownload }: FileCheckProps) {
  const c = chosen.check;
  const context = c?.contextLength ? Math.min(c.contextLength, fitOptions.contextLength) : fitOptions.contextLength;
  const fit = c?.shape && device ? estimateFit(c.shape, device, { ...fitOptions, contextLength: context }) : null;
  return (
    <div className="file-check" role="region" aria-label={`Check of ${chosen.file}`} data-testid="file-check" data-supported={c ? String(c.supported) : 'pending'}>
      <h3>{chosen.file}</h3>
      <HubStatusLine status={chosen.status} endpoint={endpoint} testId="file-check-status" />
      {c && (
        <>
          <p data-testid="file-verdict" className={c.supported ? 'ok' : 'error'}>
            {c.supported ? 'The engine can run this model.' : `Not supported: ${c.reason}`}
          </p>
          <dl className="file-facts">
            <dt>Architecture</dt>
            <dd>{c.architecture ?? '–'}</dd>
            <dt>Tensor types</dt>
            <dd>{Object.entries(c.tensorTypes).map(([t, n]) => `${t} ×${n}`).join(', ') || '–'}</dd>
            <dt>Tokenizer</dt>
            <dd>{c.tokenizer ?? '–'}</dd>
            <dt>Context</dt>
            <dd>{c.contextLength ?? '–'} tokens</dd>
            <dt>Size</dt>
            <dd>{formatBytes(c.fileSize)}</dd>
            <dt>Fit</dt>
            <dd>
              <FitBadge fit={fit} /> {fit?.reason}
            </dd>
          </dl>
          <button className="primary" data-testid="download" disabled={!c.supported} onClick={onDownload} aria-label={`Download ${chosen.file}`}>
            Download
          </button>
        </>
      )}
    </div>
  );
}
