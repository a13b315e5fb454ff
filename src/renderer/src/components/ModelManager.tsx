// The model library: pick the model to chat with, import one (file dialog or drag and drop, with progress), add one
// another app (LM Studio, Ollama, ...) already downloaded, in place, or link a folder of them; see size /
// quantization / context, delete with confirmation.
import { useEffect, useState } from 'react';
import type { LocalModelCandidate, LocalModelSource, ModelImportProgress, ModelInfo } from '../../../shared/api';
import { api, value } from '../api';
import { LinkedFolders } from './LinkedFolders';

export interface ModelManagerProps {
  readonly models: readonly ModelInfo[];
  readonly selectedId: string | null;
  readonly onSelect: (id: string) => void;
  readonly onChanged: (selectId?: string) => void;
  /** While an answer is being written the model cannot change under it. */
  readonly locked: boolean;
}

const size = (bytes: number): string => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GB` : bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MB` : `${(bytes / 1024).toFixed(0)} KB`);

const SOURCE_NAMES: Readonly<Record<LocalModelSource, string>> = {
  'lm-studio': 'LM Studio',
  ollama: 'Ollama',
  'hugging-face': 'Hugging Face',
  'llama.cpp': 'llama.cpp',
};

function candidateStatus(c: LocalModelCandidate): string {
  if (c.registeredId !== null) return 'in the library';
  if (c.problem) return c.problem.message;
  return [c.architecture, c.quantization].filter(Boolean).join(' · ');
}

/** Models found on this computer; `onAdd` registers one in place. */
function LocalModelList({ candidates, busy, onAdd }: { candidates: readonly LocalModelCandidate[]; busy: boolean; onAdd: (c: LocalModelCandidate) => void }) {
  if (candidates.length === 0) {
    return (
      <p className="muted" role="status" data-testid="local-models-none">
        No GGUF models from LM Studio, Ollama, the Hugging Face cache or llama.cpp were found.
      </p>
    );
  }
  return (
    <ul aria-label="Models found on this computer" data-testid="local-models">
      {candidates.map((c) => (
        <li key={c.path} data-testid="local-model" title={c.path}>
          <span className="name">{c.name}</span>
          <span className="meta">
            {SOURCE_NAMES[c.source]} · {size(c.size)} · {candidateStatus(c)}
          </span>
          {c.problem === null && c.registeredId === null && (
            <button data-testid="add-local-model" disabled={busy} aria-label={`Add ${c.name} (stays where it is)`} onClick={() => onAdd(c)}>
              Add
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

export function ModelManager({ models, selectedId, onSelect, onChanged, locked }: ModelManagerProps) {
  const [progress, setProgress] = useState<ModelImportProgress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [found, setFound] = useState<readonly LocalModelCandidate[] | null>(null);

  useEffect(() => api.onModelImportProgress(setProgress), []);

  const runImport = async (start: () => Promise<ModelInfo | null>) => {
    setBusy(true);
    setError(null);
    setProgress(null);
    try {
      const model = await start();
      if (model) onChanged(model.id);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };

  const findLocal = async () => {
    setBusy(true);
    setError(null);
    try {
      setFound(await value(api.findLocalModels()));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const addLocal = (c: LocalModelCandidate) =>
    void runImport(async () => {
      const model = await value(api.addLocalModel({ path: c.path }));
      setFound((list) => list && list.map((x) => (x.path === c.path ? { ...x, registeredId: model.id } : x)));
      return model;
    });

  const onDrop = (e: React.DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const file = e.dataTransfer.files[0];
    if (file) void runImport(() => value(api.importDroppedModel(file, { copy: true })));
  };

  return (
    <section
      className={`models${dragging ? ' dragging' : ''}`}
      data-testid="model-manager"
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <h3>Models</h3>
      {models.length === 0 && (
        <div className="empty-state" data-testid="models-empty">
          <p>The library is empty.</p>
          <p className="muted">Import a .gguf file, link a folder of them, add the ones other apps downloaded, or download one in Discover.</p>
        </div>
      )}
      <ul>
        {models.map((m) => (
          <li key={m.id} className={m.id === selectedId ? 'selected' : ''} data-testid="model-item" data-id={m.id}>
            <label>
              <input type="radio" name="model" checked={m.id === selectedId} disabled={!m.available || locked} onChange={() => onSelect(m.id)} />
              <span className="name">{m.name}</span>
            </label>
            <span className="meta">
              {size(m.size)} · {m.quantization} · {m.contextLength} ctx{m.available ? '' : ' · missing'}
            </span>
            <button
              data-testid="delete-model"
              disabled={locked && m.id === selectedId}
              aria-label={`Delete ${m.name}`}
              onClick={() => {
                const what = m.deletesFile
                  ? `Delete the model “${m.name}”, its file (${size(m.size)}) and its saved KV cache?`
                  : `Remove the model “${m.name}” and its saved KV cache from the library? Its file stays where it is (${m.path}).`;
                if (!window.confirm(what)) return;
                value(api.deleteModel({ id: m.id, confirm: true }))
                  .then(() => onChanged())
                  .catch((e: Error) => setError(e.message));
              }}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <button data-testid="import-model" disabled={busy} onClick={() => void runImport(() => value(api.pickAndImportModel({ copy: true })))}>
        Import model…
      </button>
      <p className="muted drop-hint">or drop a .gguf file here</p>
      <button data-testid="find-local-models" disabled={busy} onClick={() => void findLocal()}>
        Find models on this computer
      </button>
      {found && <LocalModelList candidates={found} busy={busy} onAdd={addLocal} />}
      <LinkedFolders
        models={models}
        busy={busy}
        onChanged={() => {
          setProgress(null); // the link's fingerprint progress came through the import events
          onChanged();
        }}
      />
      {/* A finished phase is not shown: a link from the Welcome view ends with one while this view is hidden. */}
      {progress && progress.bytesDone < progress.bytesTotal && (
        <div data-testid="import-progress">
          {progress.phase} <progress max={progress.bytesTotal} value={progress.bytesDone} />
        </div>
      )}
      {error && (
        <p className="error" data-testid="model-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
