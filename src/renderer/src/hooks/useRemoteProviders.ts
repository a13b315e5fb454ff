// Remote OpenAI-compatible servers: the list (keys stay in main), each one's models, and where the next new chat
// runs (the local model or one server's model).
import { useCallback, useEffect, useState } from 'react';
import type { AddRemoteProviderRequest, RemoteProviderInfo } from '../../../shared/api';
import { api, value } from '../api';
import type { ChatTarget } from '../components/NewChatTarget';
import type { RemoteModels } from '../components/RemoteServers';

/** A remote target without a model yet takes its server's first one once that list has arrived. */
function withFirstModel(target: ChatTarget, models: ReadonlyMap<number, RemoteModels>): ChatTarget {
  if (target.kind !== 'remote' || target.providerId === null || target.model !== '') return target;
  const state = models.get(target.providerId);
  const first = state && 'models' in state ? state.models[0] : undefined;
  return first === undefined ? target : { ...target, model: first };
}

export function useRemoteProviders(fail: (e: unknown) => void) {
  const [providers, setProviders] = useState<RemoteProviderInfo[]>([]);
  const [models, setModels] = useState<ReadonlyMap<number, RemoteModels>>(new Map());
  /** Where the next new chat runs, as chosen. */
  const [chosen, setTarget] = useState<ChatTarget>({ kind: 'local' });

  const refreshModels = useCallback((providerId: number) => {
    const set = (state: RemoteModels) => setModels((m) => new Map(m).set(providerId, state));
    set({ loading: true });
    value(api.listRemoteModels({ providerId }))
      .then((list) => set({ models: list.map((x) => x.id) }))
      .catch((e: Error) => set({ error: e.message }));
  }, []);

  const refresh = useCallback(
    () =>
      value(api.listRemoteProviders()).then((list) => {
        setProviders(list);
        list.forEach((p) => refreshModels(p.id));
      }),
    [refreshModels],
  );
  useEffect(() => void refresh().catch(fail), [refresh, fail]);

  const add = async (request: AddRemoteProviderRequest) => {
    await value(api.addRemoteProvider(request));
    await refresh();
  };

  /** A removed server is no longer where the next chat runs. */
  const remove = (id: number) =>
    void value(api.removeRemoteProvider({ id }))
      .then(() => {
        setTarget((t) => (t.kind === 'remote' && t.providerId === id ? { kind: 'local' } : t));
        return refresh();
      })
      .catch(fail);

  return { providers, models, target: withFirstModel(chosen, models), setTarget, refreshModels, add, remove };
}

export type RemoteProviders = ReturnType<typeof useRemoteProviders>;
