// The local OpenAI-compatible server in the app: main serves HTTP, the renderer's engine worker generates.
export { EngineBridge, BridgeError, type BridgeTransport } from './bridge';
export { LocalServerService, DEFAULT_LOCAL_SERVER_PORT, type LocalServerOptions } from './service';
export { BridgeChannel, type BridgeSink } from './channel';
