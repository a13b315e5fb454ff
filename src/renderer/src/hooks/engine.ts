// The page's one engine client (one worker, one GPU device), and the hooks through which components hear it.
import { useEffect, useEffectEvent, useState } from 'react';
import { api } from '../api';
import { EngineClient, type EngineEvent } from '../engine/client';
import type { KvPicture } from '../engine/protocol';

let shared: EngineClient | undefined;

/** Created on first use and kept for the page's lifetime (React's StrictMode double effects included). */
export function engine(): EngineClient {
  if (!shared) {
    const client = new EngineClient(api);
    shared = client;
    // Outside Electron (the test host) the e2e tests reach the engine's diagnostics here.
    if (!('kvchat' in window)) Object.assign(window, { kvchatDebug: { loseDevice: () => client.loseDevice() } });
  }
  return shared;
}

/** Calls `listener` (as of the latest render) with every engine event while the component is mounted. */
export function useEngineEvents(listener: (e: EngineEvent) => void): void {
  const onEvent = useEffectEvent(listener);
  useEffect(() => engine().on((e) => onEvent(e)), []);
}

/** The KV cache panel's picture, as the worker last sent it. */
export function useKvPicture(): KvPicture | null {
  const [picture, setPicture] = useState<KvPicture | null>(null);
  useEngineEvents((e) => {
    if (e.type === 'kv') setPicture(e.picture);
    if (e.type === 'unloaded') setPicture(null); // the GPU pool went with the model
  });
  return picture;
}
