// @vitest-environment jsdom
// The model status says 'ready' only for the load the selection asks for now. Choosing another model (Discover's
// "Chat with it") must not show the new model as ready in the render before its load starts, when the state still
// holds the old model's readiness: a message sent then was silently dropped (the composer took it for a loaded
// model). A superseded load that finishes late does not make the new selection ready either.
import { act, createElement, useEffect, useEffectEvent } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ModelInfo } from '../../../src/shared/api';
import type { EngineEvent } from '../../../src/renderer/src/engine/client';
import { useModels, type Models } from '../../../src/renderer/src/hooks/useModels';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const fake = vi.hoisted(() => ({
  models: [] as ModelInfo[],
  listeners: new Set<(e: unknown) => void>(),
  loads: [] as string[],
}));

vi.mock('../../../src/renderer/src/api', () => ({
  api: {
    listModels: async () => ({ ok: true, value: fake.models }),
    getModelUrl: async ({ id }: { id: string }) => ({ ok: true, value: `kvchat-model://${id}` }),
    onModelOpened: () => () => undefined,
  },
  value: async <T>(p: Promise<{ ok: true; value: T }>): Promise<T> => (await p).value,
}));

vi.mock('../../../src/renderer/src/hooks/engine', () => ({
  engine: () => ({ load: (modelId: string) => void fake.loads.push(modelId), unload: () => undefined }),
  useEngineEvents: (listener: (e: unknown) => void) => {
    const onEvent = useEffectEvent(listener);
    useEffect(() => {
      const l = (e: unknown): void => onEvent(e);
      fake.listeners.add(l);
      return () => void fake.listeners.delete(l);
    }, []);
  },
}));

const model = (id: string): ModelInfo => ({
  id, name: id, path: `/m/${id}.gguf`, fingerprint: `f-${id}`, size: 1000, architecture: 'llama', parameterCount: 1, quantization: 'Q8_0',
  contextLength: 512, storedInPlace: false, deletesFile: true, addedAt: 0, available: true,
  details: { displayName: id, dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, headDim: 8, ffnDim: 172, vocabSize: 512, ropeBase: 10000, tiedEmbeddings: true, hasChatTemplate: false, ggufVersion: 3, tensorCount: 48 },
});

const emit = (e: EngineEvent): void => act(() => fake.listeners.forEach((l) => l(e)));
const loaded = (modelId: string): EngineEvent => ({ type: 'loaded', modelId, contextLength: 512, adapter: 'test', hasChatTemplate: false, kvBlocks: 8 });
const flush = (): Promise<void> => act(async () => { await new Promise((r) => setTimeout(r, 0)); });

let root: Root | undefined;
afterEach(() => {
  act(() => root?.unmount());
  root = undefined;
  localStorage.clear();
});

/** Mounts useModels; `renders` gets "selected:phase" at every render, `latest` the hook's last value. */
async function mount(): Promise<{ renders: string[]; latest: () => Models }> {
  const renders: string[] = [];
  let last: Models | undefined;
  function Probe(): null {
    const m = useModels(() => undefined, () => undefined);
    last = m;
    renders.push(`${m.selectedId}:${m.state.phase}`);
    return null;
  }
  root = createRoot(document.body.appendChild(document.createElement('div')));
  act(() => root!.render(createElement(Probe)));
  await flush();
  return { renders, latest: () => last! };
}

describe('useModels: ready means the selected model is loaded', () => {
  it('a newly chosen model is never shown ready before its own load ends; a superseded load ending late changes nothing', async () => {
    fake.models = [model('a'), model('b')];
    fake.loads.length = 0;
    const { renders, latest } = await mount();
    expect(latest().selectedId).toBe('a');
    expect(fake.loads).toEqual(['a']);
    emit(loaded('a'));
    expect(latest().state.phase).toBe('ready');

    // Discover's "Chat with it": a refresh that selects the downloaded model.
    renders.length = 0;
    await act(() => latest().refresh('b'));
    await flush();
    expect(fake.loads).toEqual(['a', 'b']);
    expect(renders.filter((r) => r.startsWith('b:'))).not.toContain('b:ready');
    expect(latest().state.phase).toBe('loading');

    emit(loaded('a')); // the old model's load, finishing late
    expect(latest().state.phase).toBe('loading');
    emit(loaded('b'));
    expect(latest().state).toMatchObject({ phase: 'ready', contextLength: 512 });
  });
});
