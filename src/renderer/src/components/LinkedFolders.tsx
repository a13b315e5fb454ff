// "Link a folder": a folder of GGUF models (main's own folder dialog) whose models join the library where they are,
// never copied, and which is scanned again at every start. My models lists the linked folders; the Welcome view offers
// the link as a first step. What a scan did is said in one line.
import { useCallback, useEffect, useState } from 'react';
import type { LinkedFolder, LinkedFolderScan, ModelInfo } from '../../../shared/api';
import { api, value } from '../api';
import { Icon } from './icons';

/** "2 models added from /data/models; 1 file skipped (notes.gguf: Not a readable GGUF model…)". */
export function scanSummary(scan: LinkedFolderScan): string {
  const n = scan.added.length;
  const parts = [n === 0 ? `No new model in ${scan.folder}` : `${n} model${n === 1 ? '' : 's'} added from ${scan.folder}`];
  if (scan.known > 0) parts.push(`${scan.known} already in the library`);
  if (scan.skipped.length > 0) {
    const first = scan.skipped[0]!;
    const name = first.path.split(/[\\/]/).pop();
    parts.push(`${scan.skipped.length} file${scan.skipped.length === 1 ? '' : 's'} skipped (${name}: ${first.reason})`);
  }
  return parts.join('; ');
}

/** The outcome of the last link, for the line under the button. */
export type LinkOutcome = { readonly scan: LinkedFolderScan } | { readonly error: string } | null;

export function LinkOutcomeLine({ outcome }: { readonly outcome: LinkOutcome }) {
  if (outcome === null) return null;
  if ('error' in outcome) {
    return (
      <p className="error" role="alert" data-testid="link-folder-error">
        {outcome.error}
      </p>
    );
  }
  return (
    <p className="muted" role="status" data-testid="link-folder-result" data-added={outcome.scan.added.length}>
      {scanSummary(outcome.scan)}
    </p>
  );
}

export interface LinkedFoldersProps {
  /** The library: when it changes (a link from the Welcome view, a delete) the folders' counts are read again. */
  readonly models: readonly ModelInfo[];
  /** A link finished (its models, if any, are in the library). */
  readonly onChanged: () => void;
  readonly busy: boolean;
}

/** My models' linked folders: the list (with unlink) and the button that links another. */
export function LinkedFolders({ models, onChanged, busy }: LinkedFoldersProps) {
  const [folders, setFolders] = useState<readonly LinkedFolder[]>([]);
  const [outcome, setOutcome] = useState<LinkOutcome>(null);
  const [linking, setLinking] = useState(false);
  const reload = useCallback(() => value(api.listLinkedFolders()).then(setFolders), []);
  useEffect(() => {
    reload().catch((e: Error) => setOutcome({ error: e.message }));
  }, [reload, models]);

  const link = async () => {
    setLinking(true);
    setOutcome(null);
    try {
      const scan = await value(api.linkModelFolder());
      if (scan) setOutcome({ scan });
      await reload();
    } catch (e) {
      setOutcome({ error: (e as Error).message });
    } finally {
      setLinking(false);
      onChanged();
    }
  };

  const unlink = (path: string) =>
    void value(api.unlinkModelFolder({ path }))
      .then(reload)
      .catch((e: Error) => setOutcome({ error: e.message }));

  return (
    <section className="linked-folders" data-testid="linked-folders" aria-labelledby="linked-folders-title">
      <h3 id="linked-folders-title">Linked folders</h3>
      {folders.length === 0 ? (
        <p className="muted" data-testid="linked-folders-none">
          No folder is linked. Link the folder where you keep .gguf files: its models stay there and new ones show up at the next start.
        </p>
      ) : (
        <ul aria-label="Linked folders">
          {folders.map((f) => (
            <li key={f.path} data-testid="linked-folder" title={f.path}>
              <span className="name">{f.path}</span>
              <span className="meta">
                {f.models} model{f.models === 1 ? '' : 's'} in the library
              </span>
              <button type="button" data-testid="unlink-folder" aria-label={`Unlink ${f.path} (its models stay in the library)`} onClick={() => unlink(f.path)}>
                Unlink
              </button>
            </li>
          ))}
        </ul>
      )}
      <button type="button" data-testid="link-folder" disabled={busy || linking} onClick={() => void link()}>
        <Icon name="folder" size={16} /> {linking ? 'Scanning the folder…' : 'Link a folder…'}
      </button>
      <LinkOutcomeLine outcome={outcome} />
    </section>
  );
}
