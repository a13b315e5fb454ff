// The model library and the model loaded in the engine: the list, the selected model (remembered across starts),
// loading it into the worker whenever the selection or its file changes, and a .gguf opened from the OS.
import { useCallback, useEffect, useEffectEvent, useState } from 'react';
import type { ModelInfo } from '../../../shared/api';
import { api, value } from '../api';
import type { LoadOptions } from '../engine/protocol';
import { engine, useEngineEvents } from './engine';

export type ModelState =
  | { readonly phase: 'none' }
  | { readonly phase: 'loading'; readonly done: number; readonly total: number; readonly note?: string }
  | { readonly phase: 'ready'; readonly contextLength: number; readonly adapter: string }
  | { readonly phase: 'error'; readonly message: string };

export interface Models {
  readonly list: readonly ModelInfo[];
  readonly selectedId: string | null;
  readonly selected: ModelInfo | undefined;
  readonly state: ModelState;
  /** The selected model's load options (context length, KV type), remembered per model. */
  readonly loadOptions: LoadOptions;
  /** Changes the selected model's load options; the model loads again with them. */
  setLoadOptions(options: LoadOptions): void;
  /** Selects `id` (loading it); the open chat's own model is the conversations' business. */
  select(id: string): void;
  /** Reads the library again; `selectId` (a model just imported or opened) becomes the selection when available. */
  refresh(selectId?: string): Promise<void>;
}

const SELECTED_MODEL_KEY = 'kvchat.selectedModel';
const loadOptionsKey = (id: string): string => `kvchat.loadOptions.${id}`;

function storedLoadOptions(id: string | null): LoadOptions {
  if (id === null) return {};
  try {
    const o = JSON.parse(localStorage.getItem(loadOptionsKey(id)) ?? '{}') as Record<string, unknown>;
    const kvType = o.kvType === 'q8_0' || o.kvType === 'q4_0' ? o.kvType : undefined;
    const contextLength = typeof o.contextLength === 'number' && Number.isInteger(o.contextLength) && o.contextLength > 0 ? o.contextLength : undefined;
    return { ...(kvType ? { kvType } : {}), ...(contextLength ? { contextLength } : {}) };
  } catch {
    return {}; // a damaged entry: the model's defaults
  }
}

/** `onLoadStart` runs as a model starts loading (the last answer's stats no longer describe it). */
export function useModels(fail: (e: unknown) => void, onLoadStart: () => void): Models {
  const [list, setList] = useState<ModelInfo[]>([]);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [state, setState] = useState<ModelState>({ phase: 'none' });
  // Bumped when the selected model's load options are stored, to render (and so load) with them.
  const [, setOptionsVersion] = useState(0);

  const refresh = useCallback(
    (selectId?: string) =>
      value(api.listModels()).then((models) => {
        setList(models);
        setSelectedId((current) => {
          const wanted = selectId ?? current ?? localStorage.getItem(SELECTED_MODEL_KEY);
          return models.find((m) => m.id === wanted && m.available)?.id ?? models.find((m) => m.available)?.id ?? null;
        });
      }),
    [],
  );

  useEffect(() => void refresh().catch(fail), [refresh, fail]);
  // A .gguf opened from the OS (double-click, launch argument) that main has imported: list it and select it.
  useEffect(() => api.onModelOpened((m) => void refresh(m.id).catch(fail)), [refresh, fail]);

  useEngineEvents((e) => {
    switch (e.type) {
      case 'load-progress':
        return setState({ phase: 'loading', done: e.bytesDone, total: e.bytesTotal });
      case 'loaded':
        return setState({ phase: 'ready', contextLength: e.contextLength, adapter: e.adapter });
      case 'load-error':
        return setState({ phase: 'error', message: e.message });
      case 'device-lost':
        return setState({ phase: 'loading', done: 0, total: 0, note: e.message });
    }
  });

  // Load the selected model into the worker, again only when the selection or its file changes.
  const selected = list.find((m) => m.id === selectedId);
  const loadOptions = storedLoadOptions(selected?.id ?? null);
  const loadKey = selected ? `${selected.id}:${selected.fingerprint}:${JSON.stringify(loadOptions)}` : null;
  const load = useEffectEvent((model: ModelInfo) => {
    localStorage.setItem(SELECTED_MODEL_KEY, model.id);
    setState({ phase: 'loading', done: 0, total: model.size });
    onLoadStart();
    value(api.getModelUrl({ id: model.id }))
      .then((url) => engine().load(model.id, url, model.fingerprint, storedLoadOptions(model.id)))
      .catch((e: Error) => setState({ phase: 'error', message: e.message }));
  });
  useEffect(() => {
    // The status says 'loading' from the moment the worker is asked to load, before its first progress event.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (selected) load(selected);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `selected` is named by loadKey
  }, [loadKey]);

  const setLoadOptions = useCallback(
    (options: LoadOptions) => {
      if (!selectedId) return;
      localStorage.setItem(loadOptionsKey(selectedId), JSON.stringify(options));
      setOptionsVersion((v) => v + 1);
    },
    [selectedId],
  );

  return { list, selectedId, selected, state, loadOptions, setLoadOptions, select: setSelectedId, refresh };
}
