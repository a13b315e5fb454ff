// The only surface between the sandboxed renderer and main: one typed method per operation.
import { contextBridge, ipcRenderer } from 'electron';
import { CHANNELS, type KvChatApi } from '../shared/api';

const api: KvChatApi = {
  getAppInfo: () => ipcRenderer.invoke(CHANNELS.getAppInfo),
};

contextBridge.exposeInMainWorld('kvchat', api);
