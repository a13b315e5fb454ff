// Registers one handler per API channel: only our window's main frame may call; the payload is parsed with
// zod and the handler run by invokeApi (api-handlers.ts), which answers with an ApiResult and never throws.
import { ipcMain, type IpcMainInvokeEvent } from 'electron';
import { CHANNELS, type ApiResult, type BridgeToRenderer, type RemoteDelta } from '../shared/api';
import { invokeApi, throttleProgress, type ApiHandlers } from './api-handlers';
import { API_SCHEMAS, type ApiMethod } from './api-schemas';

/** Only our own window's main frame may call the API. */
function fromOurWindow(event: IpcMainInvokeEvent): boolean {
  return event.senderFrame !== null && event.senderFrame === event.sender.mainFrame;
}

const refused = (code: string, message: string): ApiResult<never> => ({ ok: false, error: { code, message } });

type Sender = IpcMainInvokeEvent['sender'];
const sinks = new WeakMap<Sender, (m: BridgeToRenderer) => void>();

/** One sink per window (the bridge channel compares them to detach a closed window's). */
export function bridgeSinkOf(sender: Sender): (m: BridgeToRenderer) => void {
  let sink = sinks.get(sender);
  if (!sink) {
    sink = (m) => {
      if (!sender.isDestroyed()) sender.send(CHANNELS.onServerBridge, m);
    };
    sinks.set(sender, sink);
  }
  return sink;
}

export function registerIpcHandlers(handlers: ApiHandlers): void {
  for (const method of Object.keys(API_SCHEMAS) as ApiMethod[]) {
    ipcMain.handle(CHANNELS[method], (event, ...args: unknown[]) => {
      if (!fromOurWindow(event)) return refused('forbidden', 'request from an unknown frame');
      if (args.length > 1) return refused('invalid-request', `Invalid request to ${method}: one payload expected, got ${args.length}`);
      const onImportProgress = throttleProgress((progress) => {
        if (!event.sender.isDestroyed()) event.sender.send(CHANNELS.onModelImportProgress, progress);
      });
      const onRemoteDelta = (delta: RemoteDelta): void => {
        if (!event.sender.isDestroyed()) event.sender.send(CHANNELS.onRemoteDelta, delta);
      };
      const onServerBridge = bridgeSinkOf(event.sender);
      return invokeApi(handlers, method, args[0], { onImportProgress, onRemoteDelta, onServerBridge });
    });
  }
}
