// The model the app loads by itself across starts: the last one loaded, none after the user unloaded it (until a
// model is chosen again), and which model a refresh of the library selects. Over an in-memory Storage; each "start"
// reads the same storage afresh, as the renderer does after a restart.
import { describe, expect, it } from 'vitest';
import {
  modelToSelect,
  rememberChosen,
  rememberedModelId,
  rememberLoaded,
  rememberUnloaded,
  wasUnloaded,
  type ModelMemory,
  type SelectionInputs,
} from '../../../src/renderer/src/hooks/remembered-model';

class MemoryStorage implements ModelMemory {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

const MODELS = [
  { id: 'gone', available: false },
  { id: 'a', available: true },
  { id: 'b', available: true },
];

/** What a fresh start selects from the storage: the first refresh of the library, nothing selected yet. */
const selectedAtStart = (memory: ModelMemory, models = MODELS): string | null =>
  modelToSelect(models, { current: null, unloaded: wasUnloaded(memory), remembered: rememberedModelId(memory) });

describe('the model loaded at start', () => {
  it('a first start (nothing remembered) selects the first available model', () => {
    expect(selectedAtStart(new MemoryStorage())).toBe('a');
  });

  it('the last model loaded is loaded again at the next start', () => {
    const memory = new MemoryStorage();
    rememberLoaded(memory, 'b');
    expect(selectedAtStart(memory)).toBe('b');
  });

  it('after the user unloaded it, the next start (and every one after) loads nothing', () => {
    const memory = new MemoryStorage();
    rememberLoaded(memory, 'b');
    rememberUnloaded(memory);
    expect(wasUnloaded(memory)).toBe(true);
    expect(selectedAtStart(memory)).toBeNull();
    expect(selectedAtStart(memory)).toBeNull();
    expect(rememberedModelId(memory)).toBe('b'); // still known, for when a model is chosen
  });

  it('choosing a model after the unload clears it: the start after loads the model chosen', () => {
    const memory = new MemoryStorage();
    rememberLoaded(memory, 'b');
    rememberUnloaded(memory);
    rememberChosen(memory); // picked in the model picker, imported or opened from the OS
    rememberLoaded(memory, 'a'); // and it loaded
    expect(wasUnloaded(memory)).toBe(false);
    expect(selectedAtStart(memory)).toBe('a');
  });

  it('a model chosen but never loaded (the app closed first) still ends the unload: the last one loaded comes back', () => {
    const memory = new MemoryStorage();
    rememberLoaded(memory, 'b');
    rememberUnloaded(memory);
    rememberChosen(memory);
    expect(selectedAtStart(memory)).toBe('b');
  });

  it('a remembered model whose file went missing gives way to the first available one', () => {
    const memory = new MemoryStorage();
    rememberLoaded(memory, 'gone');
    expect(selectedAtStart(memory)).toBe('a');
    expect(selectedAtStart(memory, [{ id: 'gone', available: false }])).toBeNull();
  });
});

describe('modelToSelect after a refresh of the library', () => {
  const base: SelectionInputs = { current: null, unloaded: false, remembered: null };

  it('keeps the current selection over the remembered one', () => {
    expect(modelToSelect(MODELS, { ...base, current: 'b', remembered: 'a' })).toBe('b');
  });

  it('a model just imported or opened is selected, even while unloaded', () => {
    expect(modelToSelect(MODELS, { ...base, chosen: 'b', unloaded: true, remembered: 'a' })).toBe('b');
  });

  it('while unloaded, a refresh without a chosen model (an import elsewhere, a download) selects nothing', () => {
    expect(modelToSelect(MODELS, { ...base, unloaded: true, remembered: 'a' })).toBeNull();
  });

  it('an empty library selects nothing', () => {
    expect(modelToSelect([], { ...base, remembered: 'a' })).toBeNull();
  });
});
