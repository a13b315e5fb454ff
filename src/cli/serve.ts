// npm run -s serve -- --model FILE [--port N] [--host H] [--api-key K] [--context N] [--max-waiting N]
//                      [--allowed-host NAME,...] [--insecure-no-key] [--kv-type f16|q8_0|q4_0] [--tune]
// An OpenAI-compatible server (/v1/models, /v1/completions, /v1/chat/completions) over one engine on this
// machine's GPU. Binds 127.0.0.1 unless --host says otherwise; with --api-key every request needs
// "Authorization: Bearer K". Any other address needs --api-key, or --insecure-no-key (which prints a warning);
// there, Host names other than IP addresses and this machine's name need --allowed-host. --context N serves a
// shorter context than the model's (less KV memory, like llama.cpp's n_ctx). --max-waiting N: requests waiting
// for room at most (default 64; more get 429). --kv-type f16|q8_0|q4_0: the K/V cache type (q8_0 about
// halves KV memory, q4_0 about quarters it; default f16 where the GPU has shader-f16). Kernel variants measured on
// this device (by generate --tune, or --tune here before loading) are used. Runs until SIGINT/SIGTERM.
import { basename } from 'node:path';
import { Engine } from '../gpu/engine/engine';
import { tokenizerFromGguf } from '../gpu/tokenizer';
import type { GgufFile } from '../gpu/gguf/reader';
import { startOpenAiServer, startUnavailableServer } from '../server';
import { isLoopback } from '../server/local-guard';
import { Args, kvTypeArg, runMain, UsageError } from './args';
import { chooseKernelVariants, tunedEngineOptions } from './tune';
import { openGgufFile } from '../node/file-source';
import { acquireNodeDevice } from '../node/dawn-device';

const DEFAULT_PORT = 8080;

async function main(): Promise<void> {
  const args = new Args(process.argv.slice(2), new Set(['insecure-no-key', 'tune']), new Set(['model', 'port', 'host', 'api-key', 'context', 'max-waiting', 'allowed-host', 'kv-type']));
  const modelPath = args.required('model');
  const port = args.number('port', DEFAULT_PORT, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number (0 picks a free one)');
  const host = args.string('host') ?? '127.0.0.1';
  const apiKey = args.string('api-key');
  if (apiKey !== undefined && apiKey.trim() === '') throw new UsageError('--api-key must not be empty');
  const context = args.string('context') === undefined ? undefined : args.number('context', 0, (n) => Number.isInteger(n) && n > 0, 'a positive whole number');
  const kvType = kvTypeArg(args);
  const maxWaiting = args.number('max-waiting', 64, (n) => Number.isInteger(n) && n >= 0, 'a whole number (0: refuse whatever cannot start at once)');
  const allowedHosts = (args.string('allowed-host') ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  const noKey = args.flag('insecure-no-key');
  if (!isLoopback(host) && apiKey === undefined) {
    if (!noKey) throw new UsageError(`--host ${host} lets other machines use this server: set --api-key, or pass --insecure-no-key to serve without one`);
    process.stderr.write(`warning: serving ${host} without an API key: anyone who can reach this machine can use the model\n`);
  }

  // The port is taken at once: while the model loads (minutes for a large one), clients get 503 model_loading.
  const loading = await startUnavailableServer({ host, port, reason: `The model ${basename(modelPath)} is loading.`, code: 'model_loading', retryAfterS: 5, allowedHosts });
  process.stderr.write(`loading ${basename(modelPath)}; port ${loading.port} answers 503 until it is ready\n`);
  let engine: Engine;
  let file: GgufFile;
  try {
    const gpu = await acquireNodeDevice();
    const opened = await openGgufFile(modelPath);
    file = opened.file;
    try {
      // Weights are on the device once loaded: the file is not read again.
      const tuned = await chooseKernelVariants(gpu, file, kvType ?? (gpu.caps.f16 ? 'f16' : 'f32'), args.flag('tune'));
      engine = await Engine.load(gpu, file, { ...(context === undefined ? {} : { contextLength: context }), ...(kvType ? { kvDtype: kvType } : {}), ...tunedEngineOptions(tuned) });
    } finally {
      await opened.close();
    }
  } finally {
    await loading.close();
  }
  const server = await startOpenAiServer({
    engine,
    tokenizer: tokenizerFromGguf(file.metadata),
    metadata: file.metadata,
    modelId: basename(modelPath).replace(/\.gguf$/i, ''),
    host,
    port: loading.port,
    ...(apiKey !== undefined ? { apiKey } : {}),
    maxWaitingRequests: maxWaiting,
    allowedHosts,
    allowNetworkWithoutKey: noKey,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`KVChat OpenAI-compatible server for ${basename(modelPath)} on ${server.url}/v1 (webgpu: ${engine.ctx.gpu.adapterDescription})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  engine.destroy();
}

runMain(main);
