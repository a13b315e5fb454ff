// The API the app talks to: the Electron preload's `window.kvchat`, or (in a browser served by the test host)
// the same typed verbs over the host's WebSocket.
import type { KvChatApi } from '../../shared/api';
import { createSocketApi } from './transport/socket-api';

export const api: KvChatApi = (window as { kvchat?: KvChatApi }).kvchat ?? createSocketApi(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`);

/** The value of an ApiResult, or a thrown Error with the API's message (the UI shows it). */
export async function value<T>(p: Promise<{ ok: true; value: T } | { ok: false; error: { code: string; message: string } }>): Promise<T> {
  const r = await p;
  if (!r.ok) throw Object.assign(new Error(r.error.message), { code: r.error.code });
  return r.value;
}
