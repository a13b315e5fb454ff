// Export the open conversation (every branch, settings, system prompt) as JSON, to import elsewhere, optionally
// with its KV cache so it resumes at once on a machine with the same model file, or as Markdown to read; and
// import such a JSON file as a new conversation. The lead places it in the layout; it only needs the ids.
import { useRef, useState } from 'react';
import { api, value } from '../api';
import { exportFileName, exportMimeType, type ExportFormat } from './conversation-files';

export interface ConversationTransferProps {
  /** The conversation to export; null: only import is offered. */
  readonly conversationId: number | null;
  readonly title: string;
  /** After an import: the new conversation's id (the app opens it). */
  readonly onImported?: (conversationId: number) => void;
}

function download(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

export function ConversationTransfer({ conversationId, title, onImported }: ConversationTransferProps) {
  const [includeKv, setIncludeKv] = useState(false);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const run = async (action: () => Promise<string | null>): Promise<void> => {
    setBusy(true);
    setError(null);
    setNote(null);
    try {
      setNote(await action());
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const exportAs = (format: ExportFormat): void =>
    void run(async () => {
      if (conversationId === null) return null;
      const text = await value(api.exportConversation({ id: conversationId, format, ...(format === 'json' ? { includeKv } : {}) }));
      download(text, exportFileName(title, format), exportMimeType(format));
      return `Exported ${exportFileName(title, format)}`;
    });

  const importFile = (file: File): void =>
    void run(async () => {
      const r = await value(api.importConversation({ text: await file.text() }));
      onImported?.(r.conversation.id);
      const kv = r.kvBlocksImported > 0 ? `, with ${r.kvBlocksImported} KV blocks` : '';
      return `Imported "${r.conversation.title}"${kv}${r.kvRefusedReason ? ` (${r.kvRefusedReason})` : ''}`;
    });

  return (
    <section className="conversation-transfer panel" data-testid="conversation-transfer" aria-label="Export and import">
      <h3>Export and import</h3>
      <div className="row">
        <button type="button" data-testid="export-json" disabled={busy || conversationId === null} onClick={() => exportAs('json')}>
          Export JSON
        </button>
        <button type="button" data-testid="export-markdown" disabled={busy || conversationId === null} onClick={() => exportAs('markdown')}>
          Export Markdown
        </button>
        <label className="field inline" title="The chat then resumes at once on a computer with the same model file (a larger file)">
          <input type="checkbox" data-testid="export-include-kv" checked={includeKv} onChange={(e) => setIncludeKv(e.target.checked)} />
          <span>Include KV cache</span>
        </label>
      </div>
      <div className="row">
        <button type="button" data-testid="import-json" disabled={busy} onClick={() => fileInput.current?.click()}>
          Import JSON…
        </button>
        <input
          ref={fileInput}
          type="file"
          accept=".json,application/json"
          hidden
          data-testid="import-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = '';
            if (file) importFile(file);
          }}
        />
      </div>
      {note && (
        <p className="note" role="status" data-testid="transfer-note">
          {note}
        </p>
      )}
      {error && (
        <p className="error" role="alert" data-testid="transfer-error">
          {error}
        </p>
      )}
    </section>
  );
}
