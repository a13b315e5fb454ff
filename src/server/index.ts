// The local OpenAI-compatible server: start it over a loaded Engine from the CLI (src/cli/serve.ts), the Electron
// main process or a test.
export { startOpenAiServer, DEFAULT_MAX_BODY_BYTES } from './server';
export type { OpenAiServer, OpenAiServerOptions } from './server';
export { startUnavailableServer } from './unavailable-server';
export type { UnavailableServer, UnavailableServerOptions } from './unavailable-server';
export { ApiError } from './errors';
export type { OpenAiErrorBody } from './errors';
export type { ServerEngine } from './generation';
