// The OpenAI-compatible HTTP server over one loaded Engine (Node's http module, no framework). Every request gets a
// sequence of its own on the shared engine, so concurrent requests are decoded together in the engine's batches.
// Anything a client sends wrong becomes an OpenAI error object with its status; the server keeps serving.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metadata } from '../gpu/gguf/metadata';
import { KV_BLOCK_TOKENS } from '../gpu/kv/layout';
import type { Tokenizer } from '../gpu/tokenizer';
import { ApiError, contextLengthExceeded, methodNotAllowed, modelNotFound, routeNotFound, serviceUnavailable, toApiError, tooManyRequests, unauthorized } from './errors';
import { runGeneration, type GenerationContext, type ServerEngine, type GenerationJob, type GenerationOutcome, type ReasoningSetup } from './generation';
import { discardBody, readJsonBody, sendError, sendJson, SseStream } from './http-io';
import { AdmissionRefused, KvAdmission, worstCaseBlocks } from './kv-admission';
import { checkLocalRequest, isLoopback } from './local-guard';
import { chatPromptTokens, completionPromptTokens, maxPromptChars, newTokenBudget, reasoningSetup } from './prompt';
import { chatChunk, chatResponse, completionChunk, completionResponse, modelObject, usageChunk, type ResponseMeta } from './responses';
import { parseChatRequest, parseCompletionRequest, type GenerationRequest } from './schemas';

/** Large enough for a long conversation; a body past it is refused (413) before it is parsed. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 2 ** 20;
const DEFAULT_HOST = '127.0.0.1';
/** Open connections at most; the next ones are dropped by the OS-level accept (Node's maxConnections). */
export const DEFAULT_MAX_CONNECTIONS = 4096;
/** A client has this long to send its headers, and its whole request (a slowloris holds a socket otherwise), in ms. */
export const HEADERS_TIMEOUT_MS = 20_000;
export const REQUEST_TIMEOUT_MS = 60_000;
/** An idle kept-alive connection is closed after this long, in ms. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** What a refused client is told to wait before trying again, in seconds. */
const RETRY_AFTER_S = 2;

export interface OpenAiServerOptions {
  readonly engine: ServerEngine;
  readonly tokenizer: Tokenizer;
  /** The model file's metadata: its chat template and special tokens. */
  readonly metadata: Metadata;
  /** The name clients use in `model`; any other name is a 404. */
  readonly modelId: string;
  /** Default 127.0.0.1: only this machine can connect. */
  readonly host?: string;
  /** Default 0: any free port (read it from the result). */
  readonly port?: number;
  /** When set, every request needs `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  readonly maxBodyBytes?: number;
  /** KV blocks this server's requests may hold together; default the engine's whole pool. */
  readonly kvBlocks?: number;
  /** Requests waiting for KV blocks at most (default 64); more are answered 429 with Retry-After. */
  readonly maxWaitingRequests?: number;
  /** Longest wait for KV blocks in ms (default 5 minutes); then 503 with Retry-After. */
  readonly maxQueueWaitMs?: number;
  /** Open connections at most (default 4096). */
  readonly maxConnections?: number;
  /**
   * Bound to a non-loopback address: Host names accepted besides IP literals, loopback names and this machine's
   * own name (a DNS-rebinding page's name is refused).
   */
  readonly allowedHosts?: readonly string[];
  /** Bind a non-loopback address without an API key (refused otherwise: anyone on the network could use it). */
  readonly allowNetworkWithoutKey?: boolean;
  /** One line per finished request. */
  readonly log?: (line: string) => void;
}

export interface OpenAiServer {
  /** `http://host:port`, without /v1. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops listening, aborts requests in flight and waits until their sequences are released. */
  close(): Promise<void>;
}

interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The path's parameter, e.g. the model id of /v1/models/{id}. */
  readonly param: string | undefined;
  /** Aborts when the client disconnects or the server closes. */
  readonly signal: AbortSignal;
}

type Handler = (call: Call) => Promise<void>;

interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

type Endpoint = 'completion' | 'chat';

/** What both endpoints need once their body is parsed: the prompt's tokens and the request's settings. */
interface PreparedRequest {
  readonly endpoint: Endpoint;
  readonly request: GenerationRequest;
  readonly prompt: number[];
  /** Chat: how the answer's reasoning is split from its content. */
  readonly reasoning?: ReasoningSetup;
}

class OpenAiHttpApi {
  private readonly generation: GenerationContext;
  private readonly admission: KvAdmission;
  private readonly started = Math.floor(Date.now() / 1000);
  private readonly keyDigest: Buffer | undefined;
  private readonly routes: readonly Route[];
  private readonly maxPromptChars: number;

  constructor(private readonly opts: OpenAiServerOptions) {
    this.maxPromptChars = maxPromptChars(opts.tokenizer, opts.engine.config.contextLength);
    this.admission = new KvAdmission(opts.kvBlocks ?? opts.engine.pool.blocks, {
      ...(opts.maxWaitingRequests !== undefined ? { maxWaiting: opts.maxWaitingRequests } : {}),
      ...(opts.maxQueueWaitMs !== undefined ? { maxWaitMs: opts.maxQueueWaitMs } : {}),
    });
    this.generation = { engine: opts.engine, tokenizer: opts.tokenizer };
    this.keyDigest = opts.apiKey === undefined ? undefined : digest(opts.apiKey);
    this.routes = [
      { pattern: /^\/v1\/models$/, methods: { GET: async (c) => this.listModels(c) } },
      { pattern: /^\/v1\/models\/([^/]+)$/, methods: { GET: async (c) => this.getModel(c) } },
      { pattern: /^\/v1\/completions$/, methods: { POST: async (c) => this.generate(c, await this.prepareCompletion(this.checkRoom(c))) } },
      { pattern: /^\/v1\/chat\/completions$/, methods: { POST: async (c) => this.generate(c, await this.prepareChat(this.checkRoom(c))) } },
    ];
  }

  /** Finds the handler for a request, or throws the 401/404/405 it deserves. */
  resolve(req: IncomingMessage): { handler: Handler; param: string | undefined } {
    const method = req.method ?? 'GET';
    checkLocalRequest(req, this.opts.host ?? DEFAULT_HOST, this.opts.allowedHosts);
    if (!this.authorized(req)) throw unauthorized();
    const path = pathOf(req.url ?? '/');
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      const handler = route.methods[method];
      if (!handler) throw methodNotAllowed(method, path, Object.keys(route.methods));
      return { handler, param: m[1] };
    }
    throw routeNotFound(method, path);
  }

  private authorized(req: IncomingMessage): boolean {
    if (!this.keyDigest) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    // Digests have equal lengths, so the comparison takes the same time whatever the key sent.
    return m !== null && timingSafeEqual(digest(m[1]!.trim()), this.keyDigest);
  }

  private listModels(c: Call): void {
    sendJson(c.res, 200, { object: 'list', data: [modelObject(this.opts.modelId, this.started)] });
  }

  private getModel(c: Call): void {
    if (c.param !== this.opts.modelId) throw modelNotFound(c.param ?? '', this.opts.modelId);
    sendJson(c.res, 200, modelObject(this.opts.modelId, this.started));
  }

  /** A full queue refuses before the body is read, parsed, rendered or tokenized: a flood costs almost nothing. */
  private checkRoom(c: Call): Call {
    if (this.admission.full) throw queueFull(this.admission.maxWaiting);
    return c;
  }

  private async prepareCompletion(c: Call): Promise<PreparedRequest> {
    const request = parseCompletionRequest(await this.body(c));
    this.checkModel(request);
    return { endpoint: 'completion', request, prompt: completionPromptTokens(this.opts.tokenizer, request.prompt, this.maxPromptChars) };
  }

  private async prepareChat(c: Call): Promise<PreparedRequest> {
    const request = parseChatRequest(await this.body(c));
    this.checkModel(request);
    const { tokenizer, metadata } = this.opts;
    const prompt = chatPromptTokens(tokenizer, metadata, request.messages, this.maxPromptChars, request.templateKwargs);
    const reasoning = request.splitReasoning ? reasoningSetup(tokenizer, metadata, prompt) : undefined;
    return { endpoint: 'chat', request, prompt, ...(reasoning ? { reasoning } : {}) };
  }

  private body(c: Call): Promise<unknown> {
    return readJsonBody(c.req, this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  }

  private checkModel(request: GenerationRequest): void {
    if (request.model !== undefined && request.model !== this.opts.modelId) throw modelNotFound(request.model, this.opts.modelId);
  }

  private async generate(c: Call, p: PreparedRequest): Promise<void> {
    const contextLength = this.opts.engine.config.contextLength;
    const param = p.endpoint === 'chat' ? 'messages' : 'prompt';
    const maxNewTokens = newTokenBudget(p.prompt.length, contextLength, p.request.maxTokens, param);
    const blocks = worstCaseBlocks(p.prompt.length, maxNewTokens);
    if (blocks > this.admission.capacity) {
      throw contextLengthExceeded(`The ${param} and max_tokens need ${blocks} KV blocks of ${KV_BLOCK_TOKENS} tokens; this server's KV cache holds ${this.admission.capacity}. Lower max_tokens.`, param);
    }
    // Admitted before any byte of the answer: a stream refused for room gets a real 429/503, not a broken stream.
    await this.admission.acquire(blocks, c.signal).catch((e: unknown) => {
      if (e instanceof AdmissionRefused) throw e.reason === 'queue-full' ? queueFull(this.admission.maxWaiting) : serviceUnavailable(`The request ${e.message}; try again later.`, 'queue_timeout', RETRY_AFTER_S);
      throw e;
    });
    try {
      const meta: ResponseMeta = { id: `${p.endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model: this.opts.modelId };
      const job: GenerationJob = { prompt: p.prompt, maxNewTokens, sampling: p.request.sampling, stop: p.request.stop, signal: c.signal, ...(p.reasoning ? { reasoning: p.reasoning } : {}) };
      if (p.request.stream) return await this.stream(c, p, meta, job);
      const outcome = await runGeneration(this.generation, job);
      if (outcome.finishReason === undefined) return abortedBy(c.signal); // the client left, or the server is stopping
      sendJson(c.res, 200, p.endpoint === 'chat' ? chatResponse(meta, outcome) : completionResponse(meta, outcome));
    } finally {
      this.admission.release(blocks);
    }
  }

  private async stream(c: Call, p: PreparedRequest, meta: ResponseMeta, job: GenerationJob): Promise<void> {
    const chat = p.endpoint === 'chat';
    const sse = new SseStream(c.res);
    if (chat) sse.send(chatChunk(meta, { role: 'assistant', content: '' }, null));
    const onText = (text: string): void => sse.send(chat ? chatChunk(meta, { content: text }, null) : completionChunk(meta, text, null));
    const onReasoning = (text: string): void => sse.send(chatChunk(meta, { reasoning_content: text }, null));
    let outcome: GenerationOutcome;
    try {
      outcome = await runGeneration(this.generation, { ...job, onText, onReasoning });
    } catch (e) {
      return sse.fail(toApiError(e));
    }
    if (outcome.finishReason === undefined) {
      // A shutdown ends the stream with an error event and [DONE], so the client can tell it from a network failure.
      if (c.signal.reason instanceof ApiError) sse.fail(c.signal.reason);
      return;
    }
    sse.send(chat ? chatChunk(meta, {}, outcome.finishReason) : completionChunk(meta, '', outcome.finishReason));
    if (p.request.includeUsage) sse.send(usageChunk(meta, chat ? 'chat.completion.chunk' : 'text_completion', outcome));
    sse.done();
  }
}

const queueFull = (max: number): ApiError => tooManyRequests(`This server already has ${max} requests waiting for the model; try again shortly.`, RETRY_AFTER_S);

/** A generation cut short by its signal: a shutdown answers 503; a client that left gets nothing. */
function abortedBy(signal: AbortSignal): void {
  if (signal.reason instanceof ApiError) throw signal.reason;
}

/** The request's path, percent-decoded, without a trailing slash; a path that does not decode matches no route. */
function pathOf(url: string): string {
  const raw = url.split('?')[0]!.replace(/\/+$/, '') || '/';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const hasBody = (req: IncomingMessage): boolean => req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

async function serve(api: OpenAiHttpApi, req: IncomingMessage, res: ServerResponse, signal: AbortSignal, maxBodyBytes: number): Promise<void> {
  try {
    const { handler, param } = api.resolve(req);
    await handler({ req, res, param, signal });
  } catch (e) {
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    // A refused request's body is read and dropped (bounded) so its answer arrives whole; one past the limit (a
    // 413) cannot share its connection with the next request.
    const drained = !hasBody(req) || (await discardBody(req, maxBodyBytes));
    sendError(res, toApiError(e), !drained);
  }
}

export function startOpenAiServer(opts: OpenAiServerOptions): Promise<OpenAiServer> {
  const host = opts.host ?? DEFAULT_HOST;
  if (!isLoopback(host) && opts.apiKey === undefined && opts.allowNetworkWithoutKey !== true) {
    return Promise.reject(new Error(`Serving ${host} (not only this machine) needs an API key: anyone who can reach it could use the model. Set one, or say explicitly that it may run without one.`));
  }
  const api = new OpenAiHttpApi(opts);
  // Every request's own controller, aborted on shutdown (one listener per request on a shared signal would pass
  // EventTarget's listener warning past 10 requests).
  const clients = new Set<AbortController>();
  let closing = false;
  const inFlight = new Set<Promise<void>>();
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
    const began = performance.now();
    const client = new AbortController();
    if (closing) client.abort(shuttingDown());
    clients.add(client);
    // 'close' before the response finished: the client disconnected.
    res.on('close', () => {
      clients.delete(client);
      if (!res.writableFinished) client.abort(new Error('the client disconnected'));
      opts.log?.(`${req.method} ${req.url} ${res.writableFinished ? res.statusCode : 'disconnected'} ${(performance.now() - began).toFixed(0)} ms`);
    });
    const done = serve(api, req, res, client.signal, opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)
      // Only writing an error response can get here: never let one request's failure become the process's.
      .catch((e: unknown) => {
        opts.log?.(`${req.method} ${req.url} failed: ${e instanceof Error ? e.message : String(e)}`);
        res.destroy();
      })
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  });
  server.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${urlHost}:${port}`,
        host,
        port,
        close: async () => {
          const closed = new Promise<void>((r) => server.close(() => r()));
          closing = true;
          for (const c of clients) c.abort(shuttingDown());
          await Promise.allSettled([...inFlight]);
          server.closeAllConnections();
          await closed;
        },
      });
    });
  });
}

const shuttingDown = (): ApiError => serviceUnavailable('The server is shutting down.', 'server_shutting_down');
