// The only surface between the sandboxed renderer and main: one typed method per operation. Paths never come
// from the renderer's own code: a dropped File is turned into its path here (webUtils), a picked one in main.
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { CHANNELS, type BridgeToRenderer, type DownloadEvent, type KvChatApi, type ModelImportProgress, type ModelInfo, type RemoteDelta } from '../shared/api';

const api: KvChatApi = {
  getAppInfo: () => ipcRenderer.invoke(CHANNELS.getAppInfo),

  listModels: () => ipcRenderer.invoke(CHANNELS.listModels),
  pickAndImportModel: (options) => ipcRenderer.invoke(CHANNELS.pickAndImportModel, { copy: options?.copy }),
  importDroppedModel: (file, options) => {
    const path = webUtils.getPathForFile(file);
    if (!path) return Promise.resolve({ ok: false, error: { code: 'not-a-file', message: 'Only a model file from your disk can be imported' } });
    return ipcRenderer.invoke(CHANNELS.importDroppedModel, { path, copy: options?.copy });
  },
  onModelImportProgress: (listener) => {
    const relay = (_event: IpcRendererEvent, progress: ModelImportProgress) => listener(progress);
    ipcRenderer.on(CHANNELS.onModelImportProgress, relay);
    return () => {
      ipcRenderer.removeListener(CHANNELS.onModelImportProgress, relay);
    };
  },
  onModelOpened: (listener) => {
    const relay = (_event: IpcRendererEvent, model: ModelInfo) => listener(model);
    ipcRenderer.on(CHANNELS.onModelOpened, relay);
    return () => {
      ipcRenderer.removeListener(CHANNELS.onModelOpened, relay);
    };
  },
  renameModel: (request) => ipcRenderer.invoke(CHANNELS.renameModel, request),
  deleteModel: (request) => ipcRenderer.invoke(CHANNELS.deleteModel, request),
  verifyModel: (request) => ipcRenderer.invoke(CHANNELS.verifyModel, request),
  findLocalModels: () => ipcRenderer.invoke(CHANNELS.findLocalModels),
  // The path comes back from main's own scan, and main registers only paths that scan found.
  addLocalModel: (request) => ipcRenderer.invoke(CHANNELS.addLocalModel, request),
  // The folder is chosen in main's own dialog: the renderer never names one.
  linkModelFolder: () => ipcRenderer.invoke(CHANNELS.linkModelFolder),
  listLinkedFolders: () => ipcRenderer.invoke(CHANNELS.listLinkedFolders),
  unlinkModelFolder: (request) => ipcRenderer.invoke(CHANNELS.unlinkModelFolder, request),

  listConversations: () => ipcRenderer.invoke(CHANNELS.listConversations),
  createConversation: (request) => ipcRenderer.invoke(CHANNELS.createConversation, request),
  renameConversation: (request) => ipcRenderer.invoke(CHANNELS.renameConversation, request),
  deleteConversation: (request) => ipcRenderer.invoke(CHANNELS.deleteConversation, request),
  exportConversation: (request) => ipcRenderer.invoke(CHANNELS.exportConversation, request),
  importConversation: (request) => ipcRenderer.invoke(CHANNELS.importConversation, request),
  updateConversationSettings: (request) => ipcRenderer.invoke(CHANNELS.updateConversationSettings, request),
  setConversationPinned: (request) => ipcRenderer.invoke(CHANNELS.setConversationPinned, request),

  getMessages: (request) => ipcRenderer.invoke(CHANNELS.getMessages, request),
  selectBranch: (request) => ipcRenderer.invoke(CHANNELS.selectBranch, request),
  appendMessage: (request) => ipcRenderer.invoke(CHANNELS.appendMessage, request),
  updateMessage: (request) => ipcRenderer.invoke(CHANNELS.updateMessage, request),
  searchMessages: (request) => ipcRenderer.invoke(CHANNELS.searchMessages, request),

  getModelUrl: (request) => ipcRenderer.invoke(CHANNELS.getModelUrl, request),
  // KV bytes are Uint8Arrays: structured clone copies them as binary, never as JSON arrays.
  getKvBlocks: (request) => ipcRenderer.invoke(CHANNELS.getKvBlocks, request),
  getStoredKvHashes: (request) => ipcRenderer.invoke(CHANNELS.getStoredKvHashes, request),
  putKvBlocks: (request) => ipcRenderer.invoke(CHANNELS.putKvBlocks, request),
  getConversationKv: (request) => ipcRenderer.invoke(CHANNELS.getConversationKv, request),
  saveConversationKv: (request) => ipcRenderer.invoke(CHANNELS.saveConversationKv, request),
  getKvUsage: () => ipcRenderer.invoke(CHANNELS.getKvUsage),
  getKvStorage: () => ipcRenderer.invoke(CHANNELS.getKvStorage),
  setKvBudget: (request) => ipcRenderer.invoke(CHANNELS.setKvBudget, request),
  forgetConversationKv: (request) => ipcRenderer.invoke(CHANNELS.forgetConversationKv, request),
  getKernelTuning: (request) => ipcRenderer.invoke(CHANNELS.getKernelTuning, request),
  setKernelTuning: (request) => ipcRenderer.invoke(CHANNELS.setKernelTuning, request),
  clearKernelTuning: (request) => ipcRenderer.invoke(CHANNELS.clearKernelTuning, request),

  // Remote servers: the API key goes to main and stays there.
  listRemoteProviders: () => ipcRenderer.invoke(CHANNELS.listRemoteProviders),
  addRemoteProvider: (request) => ipcRenderer.invoke(CHANNELS.addRemoteProvider, request),
  updateRemoteProvider: (request) => ipcRenderer.invoke(CHANNELS.updateRemoteProvider, request),
  removeRemoteProvider: (request) => ipcRenderer.invoke(CHANNELS.removeRemoteProvider, request),
  listRemoteModels: (request) => ipcRenderer.invoke(CHANNELS.listRemoteModels, request),
  createRemoteConversation: (request) => ipcRenderer.invoke(CHANNELS.createRemoteConversation, request),
  getConversationRemote: (request) => ipcRenderer.invoke(CHANNELS.getConversationRemote, request),
  remoteSend: (request) => ipcRenderer.invoke(CHANNELS.remoteSend, request),
  remoteContinue: (request) => ipcRenderer.invoke(CHANNELS.remoteContinue, request),
  remoteRegenerate: (request) => ipcRenderer.invoke(CHANNELS.remoteRegenerate, request),
  remoteStop: (request) => ipcRenderer.invoke(CHANNELS.remoteStop, request),
  onRemoteDelta: (listener) => {
    const relay = (_event: IpcRendererEvent, delta: RemoteDelta) => listener(delta);
    ipcRenderer.on(CHANNELS.onRemoteDelta, relay);
    return () => {
      ipcRenderer.removeListener(CHANNELS.onRemoteDelta, relay);
    };
  },

  // The local OpenAI-compatible server: main's HTTP requests come in, the engine's tokens go back.
  getLocalServer: () => ipcRenderer.invoke(CHANNELS.getLocalServer),
  setLocalServer: (request) => ipcRenderer.invoke(CHANNELS.setLocalServer, request),
  serverBridgeReply: (message) => ipcRenderer.invoke(CHANNELS.serverBridgeReply, message),
  onServerBridge: (listener) => {
    const relay = (_event: IpcRendererEvent, message: BridgeToRenderer) => listener(message);
    ipcRenderer.on(CHANNELS.onServerBridge, relay);
    return () => {
      ipcRenderer.removeListener(CHANNELS.onServerBridge, relay);
    };
  },

  // The Hub: main talks to it (the token stays there); downloads run in main and report here.
  listCuratedModels: () => ipcRenderer.invoke(CHANNELS.listCuratedModels),
  searchHub: (request) => ipcRenderer.invoke(CHANNELS.searchHub, request),
  listHubFiles: (request) => ipcRenderer.invoke(CHANNELS.listHubFiles, request),
  probeHubFile: (request) => ipcRenderer.invoke(CHANNELS.probeHubFile, request),
  startDownload: (request) => ipcRenderer.invoke(CHANNELS.startDownload, request),
  pauseDownload: (request) => ipcRenderer.invoke(CHANNELS.pauseDownload, request),
  resumeDownload: (request) => ipcRenderer.invoke(CHANNELS.resumeDownload, request),
  cancelDownload: (request) => ipcRenderer.invoke(CHANNELS.cancelDownload, request),
  listDownloads: () => ipcRenderer.invoke(CHANNELS.listDownloads),
  onDownloadProgress: (listener) => {
    const relay = (_event: IpcRendererEvent, e: DownloadEvent) => listener(e);
    ipcRenderer.on(CHANNELS.onDownloadProgress, relay);
    return () => {
      ipcRenderer.removeListener(CHANNELS.onDownloadProgress, relay);
    };
  },
  getHubSettings: () => ipcRenderer.invoke(CHANNELS.getHubSettings),
  setHubSettings: (request) => ipcRenderer.invoke(CHANNELS.setHubSettings, request),
};

contextBridge.exposeInMainWorld('kvchat', api);
