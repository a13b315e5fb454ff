// Discover: a view of its own for finding models on the Hugging Face Hub. Recommended chat models first (offline),
// search, a repository's files by quantization with fit labels, the header check before any download, the
// downloads with progress, and the Hub settings. The state is the useDiscover hook's (kept while the chat shows).
import type { ModelInfo } from '../../../../shared/api';
import type { KvType } from '../../../../shared/model-fit';
import type { Discover } from '../../hooks/useDiscover';
import { DownloadList } from './DownloadList';
import { HubSearch } from './HubSearch';
import { HubSettingsForm } from './HubSettingsForm';
import { LibraryFit } from './LibraryFit';
import { RepositoryPage } from './RepositoryPage';

const CONTEXTS = [2048, 4096, 8192, 16384, 32768, 131072];

export interface DiscoverViewProps {
  readonly discover: Discover;
  readonly models: readonly ModelInfo[];
  /** Opens the chat with a downloaded model. */
  readonly onUse: (modelId: string) => void;
}

export function DiscoverView({ discover: d, models, onUse }: DiscoverViewProps) {
  const endpoint = d.settings?.endpoint;
  return (
    <div className="discover" data-testid="discover">
      <HubSearch
        curated={d.curated}
        results={d.results}
        status={d.searchStatus}
        endpoint={endpoint}
        openId={d.repo?.id ?? null}
        onSearch={d.search}
        onOpen={d.openRepository}
        onChooseCurated={(m) => {
          d.openRepository(m.repo);
          d.choose(m.repo, m.file);
        }}
      />
      <div className="discover-main">
        {d.repo ? (
          <RepositoryPage
            repo={d.repo}
            chosen={d.chosen}
            device={d.device}
            fitOptions={d.fitOptions}
            endpoint={endpoint}
            onChoose={(file) => d.choose(d.repo!.id, file)}
            onDownload={(file) => d.download(d.repo!.id, file)}
          />
        ) : (
          <p className="muted empty">
            Pick a recommended model, or search the Hub. Nothing is sent over the network until you do. Before a download the file&apos;s header is read
            (a few hundred KB) to check that the engine can run it.
          </p>
        )}
      </div>
      <aside className="discover-side" aria-label="Fit, downloads and settings">
        <fieldset className="fit-options">
          <legend>Will it fit</legend>
          <label>
            Context
            <select data-testid="fit-context" value={d.fitOptions.contextLength} onChange={(e) => d.setFitOptions({ ...d.fitOptions, contextLength: Number(e.target.value) })}>
              {CONTEXTS.map((c) => (
                <option key={c} value={c}>
                  {c.toLocaleString()} tokens
                </option>
              ))}
            </select>
          </label>
          <label>
            KV cache
            <select data-testid="fit-kv-type" value={d.fitOptions.kvType} onChange={(e) => d.setFitOptions({ ...d.fitOptions, kvType: e.target.value as KvType })}>
              <option value="f16">f16</option>
              <option value="f32">f32</option>
            </select>
          </label>
          <p className="muted" data-testid="fit-device">
            {d.device
              ? `GPU buffers up to ${Math.round(Math.min(d.device.maxBufferSize, d.device.maxStorageBufferBindingSize) / 2 ** 20)} MB${d.device.memoryBytes ? `, ${Math.round(d.device.memoryBytes / 2 ** 30)} GB memory` : ''}`
              : 'No WebGPU adapter: fit cannot be estimated'}
          </p>
        </fieldset>
        <DownloadList downloads={d.downloads} onPause={d.pause} onResume={d.resume} onCancel={d.cancel} onUse={onUse} />
        <LibraryFit models={models} device={d.device} fitOptions={d.fitOptions} />
        <HubSettingsForm key={d.settings?.endpointSetting ?? ''} settings={d.settings} onSave={d.saveSettings} />
      </aside>
    </div>
  );
}
