// Downloads (at most two run at once, in main): progress with bytes, speed and ETA; pause, resume, cancel; a
// finished one opens in a chat.
import type { ModelDownload } from '../../../../shared/api';
import { formatBytes, formatEta } from './format';

export interface DownloadListProps {
  readonly downloads: readonly ModelDownload[];
  readonly onPause: (id: number) => void;
  readonly onResume: (id: number) => void;
  readonly onCancel: (id: number) => void;
  readonly onUse: (modelId: string) => void;
}

const STATE_TEXT: Readonly<Record<ModelDownload['state'], string>> = { queued: 'queued', running: 'downloading', paused: 'paused', failed: 'failed', done: 'done' };

function progressText(d: ModelDownload): string {
  const bytes = `${formatBytes(d.bytesDone)} of ${formatBytes(d.bytesTotal)}`;
  if (d.state !== 'running') return `${STATE_TEXT[d.state]} · ${bytes}`;
  return `${bytes} · ${formatBytes(d.bytesPerSecond)}/s · ${formatEta(d.etaSeconds)} left`;
}

export function DownloadList({ downloads, onPause, onResume, onCancel, onUse }: DownloadListProps) {
  if (downloads.length === 0) return null;
  return (
    <section className="downloads" aria-label="Downloads">
      <h3>Downloads</h3>
      <ul>
        {downloads.map((d) => {
          const name = d.file.split('/').pop()!;
          return (
            <li key={d.id} data-testid="download-item" data-state={d.state} data-file={d.file}>
              <span className="name" title={`${d.repo}/${d.file}`}>
                {name}
              </span>
              <progress max={d.bytesTotal} value={d.bytesDone} aria-label={`${name}: ${Math.floor((100 * d.bytesDone) / Math.max(1, d.bytesTotal))}%`} />
              <span className="meta" data-testid="download-progress" role="status">
                {progressText(d)}
              </span>
              {d.error && <span className="error">{d.error}</span>}
              <span className="actions">
                {(d.state === 'running' || d.state === 'queued') && (
                  <button data-testid="download-pause" aria-label={`Pause ${name}`} onClick={() => onPause(d.id)}>
                    Pause
                  </button>
                )}
                {(d.state === 'paused' || d.state === 'failed') && (
                  <button data-testid="download-resume" aria-label={`Resume ${name}`} onClick={() => onResume(d.id)}>
                    Resume
                  </button>
                )}
                {d.state !== 'done' && (
                  <button data-testid="download-cancel" aria-label={`Cancel ${name}`} onClick={() => onCancel(d.id)}>
                    Cancel
                  </button>
                )}
                {d.state === 'done' && d.modelId && (
                  <button className="primary" data-testid="download-use" aria-label={`Chat with ${name}`} onClick={() => onUse(d.modelId!)}>
                    Chat with it
                  </button>
                )}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
