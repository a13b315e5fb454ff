// The local OpenAI-compatible server lives in main; the loaded model lives in the engine worker. This relay joins
// them for the page's lifetime, outside React: main's generate/abort requests go to the worker, and the worker's
// tokens, results and errors (and which model is loaded, so main knows whether it can answer) go back to main.
// The engine client starts it once, when it is created, so no render or effect can drop or double a message.
import type { KvChatApi } from '../../../shared/api';
import type { FromWorker, ToWorker } from './protocol';

export type BridgeApi = Pick<KvChatApi, 'onServerBridge' | 'serverBridgeReply'>;

/** An error text main passes on to an HTTP client: bounded, like the answers' stored error messages. */
const MAX_ERROR_CHARS = 2000;

const NO_MODEL = { type: 'model', modelId: null, contextLength: 0, kvBlocks: 0 } as const;

/**
 * Subscribes to main's requests (forwarded with `toWorker`) and returns what the client calls with every worker
 * event, so the answers and model changes reach main.
 */
export function startLocalServerRelay(api: BridgeApi, toWorker: (m: ToWorker) => void): (e: FromWorker) => void {
  api.onServerBridge((m) => {
    if (m.type === 'generate') toWorker({ type: 'server-generate', id: m.id, tokens: m.tokens, options: m.options });
    else toWorker({ type: 'server-abort', id: m.id });
  });
  return (e) => {
    switch (e.type) {
      case 'loaded':
        return void api.serverBridgeReply({ type: 'model', modelId: e.modelId, contextLength: e.contextLength, kvBlocks: e.kvBlocks });
      case 'load-error':
      case 'device-lost':
      case 'unloaded':
        return void api.serverBridgeReply(NO_MODEL);
      case 'server-token':
        return void api.serverBridgeReply({ type: 'token', id: e.id, token: e.token });
      case 'server-done':
        return void api.serverBridgeReply({ type: 'done', id: e.id, result: e.result });
      case 'server-error':
        return void api.serverBridgeReply({ type: 'error', id: e.id, message: e.message.slice(0, MAX_ERROR_CHARS) });
    }
  };
}
