// The Discover view's state: the curated list (offline), a Hub search, the open repository with its files and the
// header check of the chosen one, the downloads (kept current by main's events), the Hub settings, and the device
// the fit estimate judges against. Nothing here reaches the network until the user searches, opens a repository
// or downloads: the curated list and the downloads come from main's own files.
import { useCallback, useEffect, useEffectEvent, useRef, useState } from 'react';
import type { CuratedModel, DownloadEvent, HubFileCheck, HubRepository, HubRepositoryFiles, HubSettings, ModelDownload } from '../../../shared/api';
import type { FitDevice, FitOptions } from '../../../shared/model-fit';
import { api, value } from '../api';
import { shapeProbeFile } from '../components/discover/fit';

/** 'offline': the Hub could not be reached (no network, or a wrong endpoint). */
export type HubStatus = { readonly kind: 'idle' | 'busy' | 'offline' } | { readonly kind: 'error'; readonly message: string };

export interface OpenRepository {
  readonly id: string;
  readonly files: HubRepositoryFiles | null;
  /** The header of one file: the shape (layers, heads) every file of the repository shares. */
  readonly shape: HubFileCheck | null;
  readonly status: HubStatus;
}

export interface ChosenFile {
  readonly repo: string;
  readonly file: string;
  readonly check: HubFileCheck | null;
  readonly status: HubStatus;
}

export interface Discover {
  readonly curated: readonly CuratedModel[];
  readonly results: readonly HubRepository[] | null;
  readonly searchStatus: HubStatus;
  readonly repo: OpenRepository | null;
  readonly chosen: ChosenFile | null;
  readonly downloads: readonly ModelDownload[];
  readonly settings: HubSettings | null;
  readonly device: FitDevice | null;
  readonly fitOptions: FitOptions;
  search(query: string): void;
  openRepository(id: string): void;
  choose(repo: string, file: string): void;
  download(repo: string, file: string): void;
  pause(id: number): void;
  resume(id: number): void;
  cancel(id: number): void;
  setFitOptions(o: FitOptions): void;
  saveSettings(changes: { endpoint?: string | null; token?: string | null }): Promise<void>;
}

const DEFAULT_FIT: FitOptions = { contextLength: 4096, kvType: 'f16' };

function statusOf(e: unknown): HubStatus {
  const code = (e as { code?: string }).code;
  return code === 'network' ? { kind: 'offline' } : { kind: 'error', message: (e as Error).message };
}

/** The adapter's buffer limits (requested here, not from the engine's device) and the system memory main reports. */
async function readDevice(): Promise<FitDevice | null> {
  const memory = await value(api.getAppInfo()).then((a) => a.memoryBytes ?? null, () => null);
  const deviceMemory = (navigator as { deviceMemory?: number }).deviceMemory;
  const memoryBytes = memory ?? (deviceMemory ? deviceMemory * 2 ** 30 : null);
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  if (!adapter) return null;
  return { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, memoryBytes };
}

function applyEvent(list: readonly ModelDownload[], e: DownloadEvent): ModelDownload[] {
  if (e.kind === 'removed') return list.filter((d) => d.id !== e.id);
  const at = list.findIndex((d) => d.id === e.download.id);
  return at < 0 ? [...list, e.download] : list.map((d, i) => (i === at ? e.download : d));
}

/** `onModelAdded` runs when a download lands in the library (the model list reads it again). */
export function useDiscover(fail: (e: unknown) => void, onModelAdded: (modelId: string) => void): Discover {
  const [curated, setCurated] = useState<CuratedModel[]>([]);
  const [results, setResults] = useState<HubRepository[] | null>(null);
  const [searchStatus, setSearchStatus] = useState<HubStatus>({ kind: 'idle' });
  const [repo, setRepo] = useState<OpenRepository | null>(null);
  const [chosen, setChosen] = useState<ChosenFile | null>(null);
  const [downloads, setDownloads] = useState<ModelDownload[]>([]);
  const [settings, setSettings] = useState<HubSettings | null>(null);
  const [device, setDevice] = useState<FitDevice | null>(null);
  const [fitOptions, setFitOptions] = useState<FitOptions>(DEFAULT_FIT);
  // The latest request of each kind wins: an older answer arriving late is dropped.
  const latest = useRef({ search: 0, repo: 0, file: 0 });

  useEffect(() => {
    value(api.listCuratedModels()).then(setCurated, fail);
    value(api.listDownloads()).then(setDownloads, fail);
    value(api.getHubSettings()).then(setSettings, fail);
    void readDevice().then(setDevice);
  }, [fail]);

  const landed = useEffectEvent((e: DownloadEvent) => {
    if (e.kind === 'state' && e.download.state === 'done' && e.download.modelId) onModelAdded(e.download.modelId);
  });
  useEffect(
    () =>
      api.onDownloadProgress((e) => {
        setDownloads((list) => applyEvent(list, e));
        landed(e);
      }),
    [],
  );

  const search = useCallback((query: string) => {
    const n = ++latest.current.search;
    setSearchStatus({ kind: 'busy' });
    value(api.searchHub({ query })).then(
      (found) => {
        if (n !== latest.current.search) return;
        setResults(found);
        setSearchStatus({ kind: 'idle' });
      },
      (e: unknown) => n === latest.current.search && setSearchStatus(statusOf(e)),
    );
  }, []);

  const openRepository = useCallback((id: string) => {
    const n = ++latest.current.repo;
    setChosen(null);
    setRepo({ id, files: null, shape: null, status: { kind: 'busy' } });
    const update = (change: Partial<OpenRepository>): void => {
      if (n === latest.current.repo) setRepo((r) => (r && r.id === id ? { ...r, ...change } : r));
    };
    value(api.listHubFiles({ repo: id })).then(
      (files) => {
        update({ files, status: { kind: 'idle' } });
        // One header tells the shape of every file of the repository (a split model's: its parts' headers), over Range.
        const first = shapeProbeFile(files);
        if (first) value(api.probeHubFile({ repo: id, file: first })).then((shape) => update({ shape }), () => {});
      },
      (e: unknown) => update({ status: statusOf(e) }),
    );
  }, []);

  const choose = useCallback((repoId: string, file: string) => {
    const n = ++latest.current.file;
    setChosen({ repo: repoId, file, check: null, status: { kind: 'busy' } });
    value(api.probeHubFile({ repo: repoId, file })).then(
      (check) => n === latest.current.file && setChosen({ repo: repoId, file, check, status: { kind: 'idle' } }),
      (e: unknown) => n === latest.current.file && setChosen({ repo: repoId, file, check: null, status: statusOf(e) }),
    );
  }, []);

  const download = useCallback(
    (repoId: string, file: string) => {
      value(api.startDownload({ repo: repoId, file })).then((d) => setDownloads((list) => applyEvent(list, { kind: 'state', download: d })), fail);
    },
    [fail],
  );
  const pause = useCallback((id: number) => void value(api.pauseDownload({ id })).catch(fail), [fail]);
  const resume = useCallback((id: number) => void value(api.resumeDownload({ id })).catch(fail), [fail]);
  const cancel = useCallback((id: number) => void value(api.cancelDownload({ id })).catch(fail), [fail]);
  const saveSettings = useCallback(async (changes: { endpoint?: string | null; token?: string | null }) => {
    setSettings(await value(api.setHubSettings(changes)));
  }, []);

  return { curated, results, searchStatus, repo, chosen, downloads, settings, device, fitOptions, search, openRepository, choose, download, pause, resume, cancel, setFitOptions, saveSettings };
}
