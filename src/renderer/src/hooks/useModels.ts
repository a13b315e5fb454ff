// The model library and the model loaded in the engine: the list, the selected model (remembered across starts, and
// so is an unload: see remembered-model.ts), loading it into the worker whenever the selection or its file changes,
// and a .gguf opened from the OS.
import { useCallback, useEffect, useEffectEvent, useRef, useState } from 'react';
import type { ModelInfo } from '../../../shared/api';
import { api, value } from '../api';
import type { LoadOptions } from '../engine/protocol';
import { engine, useEngineEvents } from './engine';
import { modelToSelect, rememberChosen, rememberedModelId, rememberLoaded, rememberUnloaded, wasUnloaded } from './remembered-model';

export type ModelState =
  /** `unloaded`: the user unloaded it (nothing loads until one is picked). */
  | { readonly phase: 'none'; readonly unloaded?: boolean }
  /** `recovering`: the GPU device was lost and the model loads again (conversations resume from the stored KV). */
  | { readonly phase: 'loading'; readonly done: number; readonly total: number; readonly note?: string; readonly recovering?: boolean }
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
  /** Loads the selected model again (after a load error). */
  retry(): void;
  /** Frees the loaded model and its GPU memory (stops a load in progress); nothing loads again until one is selected. */
  unload(): void;
  /**
   * True after unload() until a model is selected, in this run or a past one (a start after an unload loads
   * nothing): opening a chat does not load its model by itself.
   */
  readonly unloaded: boolean;
  /** Reads the library again; `selectId` (a model just imported or opened) becomes the selection when available. */
  refresh(selectId?: string): Promise<void>;
}

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
  // Unloaded by the user in a past run and no model chosen since: this start loads nothing either.
  const [unloadedAtStart] = useState(() => wasUnloaded(localStorage));
  const [state, setState] = useState<ModelState>(unloadedAtStart ? { phase: 'none', unloaded: true } : { phase: 'none' });
  // After an unload a refresh (an import, a download) must not pick a model and load it by itself.
  const unloadedRef = useRef(unloadedAtStart);
  const [unloaded, setUnloaded] = useState(unloadedAtStart);
  // Bumped when the selected model's load options are stored, to render (and so load) with them.
  const [, setOptionsVersion] = useState(0);
  // Bumped by retry(): part of the load key, so the same model loads again.
  const [attempt, setAttempt] = useState(0);
  // The load asked of the worker last (its model and load key), and the load key the worker last said is ready.
  // 'ready' counts only for the load the selection asks for now: not while a newly selected model waits for its load
  // to start (the render before the load effect) and not when a superseded load finishes late.
  const asked = useRef<{ readonly modelId: string; readonly key: string } | null>(null);
  const [readyKey, setReadyKey] = useState<string | null>(null);

  const refresh = useCallback(
    (selectId?: string) =>
      value(api.listModels()).then((models) => {
        setList(models);
        if (selectId !== undefined) {
          unloadedRef.current = false; // a model just imported or opened is meant to be used
          setUnloaded(false);
          rememberChosen(localStorage);
        }
        setSelectedId((current) =>
          modelToSelect(models, { current, chosen: selectId, unloaded: unloadedRef.current, remembered: rememberedModelId(localStorage) }),
        );
      }),
    [],
  );

  useEffect(() => void refresh().catch(fail), [refresh, fail]);
  // A .gguf opened from the OS (double-click, launch argument) that main has imported: list it and select it.
  useEffect(() => api.onModelOpened((m) => void refresh(m.id).catch(fail)), [refresh, fail]);

  useEngineEvents((e) => {
    switch (e.type) {
      case 'load-progress':
        return setState((old) => ({ phase: 'loading', done: e.bytesDone, total: e.bytesTotal, ...(old.phase === 'loading' && old.recovering ? { recovering: true } : {}) }));
      case 'tune-progress': {
        // At a model shape's first load on this GPU, before its weights: the kernel variants being timed.
        const percent = Math.round(e.fraction * 100);
        return setState((old) => ({ phase: 'loading', done: percent, total: 100, note: `Tuning kernels for this GPU… ${percent}%`, ...(old.phase === 'loading' && old.recovering ? { recovering: true } : {}) }));
      }
      case 'loaded':
        if (asked.current?.modelId !== e.modelId) return; // a load the selection no longer wants
        setReadyKey(asked.current.key);
        return setState({ phase: 'ready', contextLength: e.contextLength, adapter: e.adapter });
      case 'load-error':
        return setState({ phase: 'error', message: e.message });
      case 'device-lost':
        return setState({ phase: 'loading', done: 0, total: 0, note: e.message, recovering: true });
      case 'unloaded':
        return setState({ phase: 'none', unloaded: true });
    }
  });

  // Load the selected model into the worker, again only when the selection or its file changes.
  const selected = list.find((m) => m.id === selectedId);
  const loadOptions = storedLoadOptions(selected?.id ?? null);
  const loadKey = selected ? `${selected.id}:${selected.fingerprint}:${JSON.stringify(loadOptions)}:${attempt}` : null;
  const load = useEffectEvent((model: ModelInfo, key: string) => {
    asked.current = { modelId: model.id, key };
    rememberLoaded(localStorage, model.id);
    setState({ phase: 'loading', done: 0, total: model.size });
    onLoadStart();
    value(api.getModelUrl({ id: model.id }))
      .then((url) => engine().load(model.id, url, model.fingerprint, storedLoadOptions(model.id)))
      .catch((e: Error) => setState({ phase: 'error', message: e.message }));
  });
  useEffect(() => {
    // The status says 'loading' from the moment the worker is asked to load, before its first progress event.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (selected && loadKey) load(selected, loadKey);
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

  const select = useCallback((id: string) => {
    unloadedRef.current = false;
    setUnloaded(false);
    rememberChosen(localStorage);
    setSelectedId(id);
  }, []);
  const unload = useCallback(() => {
    unloadedRef.current = true;
    setUnloaded(true);
    rememberUnloaded(localStorage);
    asked.current = null;
    setSelectedId(null);
    setState({ phase: 'loading', done: 0, total: 0, note: 'Unloading the model…' });
    engine().unload();
  }, []);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);

  const shownState: ModelState = state.phase === 'ready' && readyKey !== loadKey ? { phase: 'loading', done: 0, total: selected?.size ?? 0 } : state;

  return { list, selectedId, selected, state: shownState, loadOptions, setLoadOptions, select, retry, unload, unloaded, refresh };
}
