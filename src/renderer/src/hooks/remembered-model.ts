// Which model the app selects (and so loads) by itself: at start the last one loaded, unless the user unloaded it
// since; after a refresh of the library the one selected, or one just imported. Kept in the renderer's
// localStorage (the per-model load options live beside it); pure over that storage, so testable without a DOM.
import type { ModelInfo } from '../../../shared/api';

/** The part of localStorage used here. */
export type ModelMemory = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const SELECTED_MODEL_KEY = 'kvchat.selectedModel';
/** Present ('1') from an unload by the user until a model is chosen again: the next start loads nothing. */
const UNLOADED_KEY = 'kvchat.modelUnloaded';

/** The last model loaded (it may since have been removed from the library), or null. */
export function rememberedModelId(memory: ModelMemory): string | null {
  return memory.getItem(SELECTED_MODEL_KEY);
}

/** Whether the user unloaded the model and has chosen none since (so nothing loads at start). */
export function wasUnloaded(memory: ModelMemory): boolean {
  return memory.getItem(UNLOADED_KEY) !== null;
}

/** A model is loading: it is the one the next start loads. */
export function rememberLoaded(memory: ModelMemory, id: string): void {
  memory.setItem(SELECTED_MODEL_KEY, id);
  memory.removeItem(UNLOADED_KEY);
}

/** The user unloaded the model: the next start loads none until one is chosen. */
export function rememberUnloaded(memory: ModelMemory): void {
  memory.setItem(UNLOADED_KEY, '1');
}

/** The user chose a model (picked, imported, opened from the OS): starts load the last model again. */
export function rememberChosen(memory: ModelMemory): void {
  memory.removeItem(UNLOADED_KEY);
}

export interface SelectionInputs {
  /** The model selected now (null at start and after an unload). */
  readonly current: string | null;
  /** A model just imported or opened, to select when available. */
  readonly chosen?: string | undefined;
  /** True after an unload by the user (this run or a past one) until a model is chosen. */
  readonly unloaded: boolean;
  /** The last model loaded, from a past run. */
  readonly remembered: string | null;
}

/**
 * The model to select after reading the library: the one chosen, else the current one, else the remembered one,
 * else the first available; none while unloaded and nothing was chosen. A model whose file is missing is skipped.
 */
export function modelToSelect(models: readonly Pick<ModelInfo, 'id' | 'available'>[], s: SelectionInputs): string | null {
  if (s.current === null && s.unloaded && s.chosen === undefined) return null;
  const wanted = s.chosen ?? s.current ?? s.remembered;
  return models.find((m) => m.id === wanted && m.available)?.id ?? models.find((m) => m.available)?.id ?? null;
}
