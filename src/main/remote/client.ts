// An OpenAI-compatible HTTP client over Node's global fetch: GET /v1/models and streamed POST /v1/chat/completions.
// Every failure becomes a RemoteError naming the host (never the key); 429 is retried after Retry-After, a bounded
// number of times; a Stop (AbortSignal) ends the stream and resolves with what had arrived. Nothing a server sends
// is read without a bound: the answer, one SSE line and any JSON body stop at their limit with a RemoteError, the
// connection closed at once (the part of an answer received is kept). A reasoning model's thinking, in any of the
// forms servers send it, is split from the answer (answer-parts.ts).
import { RemoteAnswerParts, type AnswerPartJson } from './answer-parts';
import { RemoteError } from './errors';
import { retryAfterMs } from './retry-after';
import { DEFAULT_MAX_SSE_LINE, SseParser, SseTooLongError, type SseEvent } from './sse';
import { readChunk, readJson, statusError } from './bounded-body';
import { badResponse, dropped, networkError, quote, rateLimited, tooLarge } from './failures';
import { sleep } from '../../node/sleep';
import { hostOf } from './url';

export interface RemoteEndpoint {
  /** Normalized base URL (see normalizeBaseUrl): `${baseUrl}/v1/...`. */
  readonly baseUrl: string;
  readonly apiKey?: string;
}

export interface RetryPolicy {
  /** Retries after a 429 before giving up. */
  readonly maxRetries: number;
  /** A Retry-After longer than this is not waited for: the error says when to try again. */
  readonly maxDelayMs: number;
  /** Wait before the first retry when the server gives no Retry-After; doubled each time. */
  readonly baseDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 3, maxDelayMs: 30_000, baseDelayMs: 1000 };

/**
 * How long a chat request may go without receiving a byte (no headers yet, or a stream gone quiet) before it is
 * given up as dropped. Long, because a big prompt on a busy server can take minutes before its first token.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 180_000;

/** How much a server may send, in bytes (an SSE line: UTF-16 code units, the same for the ASCII of JSON). */
export interface ResponseLimits {
  /** The text of one streamed answer (UTF-8). */
  readonly maxAnswerBytes: number;
  /** One line, and one event, of the answer's event stream. */
  readonly maxSseLine: number;
  /** The body of GET /v1/models. */
  readonly maxModelListBytes: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_RESPONSE_LIMITS: ResponseLimits = { maxAnswerBytes: 8 * MiB, maxSseLine: DEFAULT_MAX_SSE_LINE, maxModelListBytes: 4 * MiB };

/** Of an error body, only the start is read: a message quotes at most MAX_QUOTED characters of it anyway. */

export interface RemoteClientOptions {
  readonly retry?: RetryPolicy;
  readonly idleTimeoutMs?: number;
  readonly limits?: Partial<ResponseLimits>;
}

export interface RemoteModel {
  readonly id: string;
  readonly ownedBy?: string;
}

export interface RemoteChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface RemoteChatRequest {
  readonly model: string;
  readonly messages: readonly RemoteChatMessage[];
  readonly temperature?: number;
  readonly topP?: number;
  readonly maxTokens?: number;
  readonly seed?: number;
  /** Sent as `reasoning_effort` (OpenAI, vLLM, llama.cpp's server, OpenRouter). Absent: the server's default. */
  readonly reasoningEffort?: 'low' | 'medium' | 'high';
  /** false: `chat_template_kwargs.enable_thinking = false` (llama.cpp's server, vLLM). Absent or true: nothing sent. */
  readonly thinking?: boolean;
}

export interface RemoteChatResult {
  /** The answer, reasoning left out. */
  readonly text: string;
  /** The model's reasoning ('' when it sent none). */
  readonly reasoning: string;
  /** The server's finish_reason ('stop', 'length', ...); null when stopped by the signal. */
  readonly finishReason: string | null;
  readonly aborted: boolean;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly timeToFirstTokenMs?: number;
  readonly totalMs: number;
}

export interface StreamOptions {
  /** Each piece of the answer as it arrives. */
  readonly onDelta?: (text: string) => void;
  /** Each piece of the model's reasoning as it arrives. */
  readonly onReasoning?: (text: string) => void;
  readonly signal?: AbortSignal;
  /** The answer goes on from text already received (continue): its content cannot open a `<think>` block. */
  readonly continuing?: boolean;
}

/** Longest server-sent error text quoted in a message. */

export class OpenAiRemoteClient {
  private readonly retry: RetryPolicy;
  private readonly idleTimeoutMs: number;
  private readonly limits: ResponseLimits;

  constructor(options: RemoteClientOptions = {}) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.limits = { ...DEFAULT_RESPONSE_LIMITS, ...options.limits };
  }

  async listModels(endpoint: RemoteEndpoint, signal?: AbortSignal): Promise<RemoteModel[]> {
    const timeout = AbortSignal.timeout(this.idleTimeoutMs);
    let body: { data?: unknown };
    try {
      const res = await this.request(endpoint, '/v1/models', { method: 'GET', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      const max = this.limits.maxModelListBytes;
      body = (await readJson(res, endpoint, max, () => tooLarge(endpoint, `a model list larger than ${size(max)}`, false))) as { data?: unknown };
    } catch (e) {
      if (!timeout.aborted || signal?.aborted) throw e;
      throw new RemoteError('timeout', `${hostOf(endpoint.baseUrl)} did not list its models within ${duration(this.idleTimeoutMs)}.`, { cause: e });
    }
    if (!Array.isArray(body.data)) throw badResponse(endpoint, 'its /v1/models answer has no "data" list');
    return body.data
      .filter((m): m is { id: string; owned_by?: unknown } => typeof (m as { id?: unknown } | null)?.id === 'string')
      .map((m) => (typeof m.owned_by === 'string' ? { id: m.id, ownedBy: m.owned_by } : { id: m.id }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Streams a chat completion. Resolves at the end of the answer or on Stop; rejects with a RemoteError. */
  async streamChat(endpoint: RemoteEndpoint, request: RemoteChatRequest, opts: StreamOptions = {}): Promise<RemoteChatResult> {
    const began = performance.now();
    const acc: Accumulator = { text: '', reasoning: '', parts: new RemoteAnswerParts(opts.continuing ?? false), bytes: 0, finishReason: null, done: false };
    const { maxAnswerBytes, maxSseLine } = this.limits;
    const body = JSON.stringify({
      model: request.model,
      messages: request.messages,
      stream: true,
      stream_options: { include_usage: true },
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.topP !== undefined ? { top_p: request.topP } : {}),
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
      ...(request.reasoningEffort !== undefined ? { reasoning_effort: request.reasoningEffort } : {}),
      // Only the switch turned off is sent: a server without the kwarg (or whose template has no switch) thinks as usual.
      ...(request.thinking === false ? { chat_template_kwargs: { enable_thinking: false } } : {}),
    });
    const onPart = (text: string, part: 'text' | 'reasoning'): void => {
      if (text === '') return;
      acc.bytes += Buffer.byteLength(text, 'utf8');
      // The piece that crosses the limit is dropped whole: what is kept is what was passed on.
      if (acc.bytes > maxAnswerBytes) throw tooLarge(endpoint, `an answer longer than ${size(maxAnswerBytes)}`, acc.text !== '' || acc.reasoning !== '');
      acc.firstTokenAt ??= performance.now();
      acc[part] += text;
      (part === 'text' ? opts.onDelta : opts.onReasoning)?.(text);
    };
    const onParts: OnParts = (d) => {
      onPart(d.reasoning, 'reasoning');
      onPart(d.content, 'text');
    };
    // A silent server (half-open connection, hung process) aborts the request through this second signal.
    const idle = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const activity = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), this.idleTimeoutMs);
    };
    const signal = opts.signal ? AbortSignal.any([opts.signal, idle.signal]) : idle.signal;
    activity();
    try {
      const res = await this.request(endpoint, '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body,
        signal,
      }, activity);
      if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
        await readStream(res, endpoint, new SseParser(maxSseLine), acc, onParts, activity);
      } else {
        // One JSON completion: its text, plus room for the envelope around it.
        const max = maxAnswerBytes + maxSseLine;
        const json = await readJson(res, endpoint, max, () => tooLarge(endpoint, `an answer larger than ${size(max)}`, false), activity);
        readWhole(json as ChatJson, endpoint, acc, onParts);
      }
    } catch (e) {
      if (opts.signal?.aborted) {
        // Stopped by the user: not an error, the caller keeps what arrived.
      } else if (idle.signal.aborted) {
        throw new RemoteError('timeout', `${hostOf(endpoint.baseUrl)} sent nothing for ${duration(this.idleTimeoutMs)}; gave up${acc.text || acc.reasoning ? ' (the part received was kept)' : ''}.`, { cause: e });
      } else {
        throw e;
      }
    } finally {
      clearTimeout(timer);
    }
    // Ended or stopped: text held back for a possible `<think>` marker is answer (or reasoning) after all.
    onParts(acc.parts.flush());
    const aborted = opts.signal?.aborted === true && !acc.done;
    return {
      text: acc.text,
      reasoning: acc.reasoning,
      finishReason: aborted ? null : acc.finishReason,
      aborted,
      ...(acc.promptTokens !== undefined ? { promptTokens: acc.promptTokens } : {}),
      ...(acc.completionTokens !== undefined ? { completionTokens: acc.completionTokens } : {}),
      ...(acc.firstTokenAt !== undefined ? { timeToFirstTokenMs: acc.firstTokenAt - began } : {}),
      totalMs: performance.now() - began,
    };
  }

  /** One request with the key, 429 retried; any other non-2xx status becomes its RemoteError. */
  private async request(
    endpoint: RemoteEndpoint,
    path: string,
    init: RequestInit & { signal?: AbortSignal | undefined },
    onResponse: () => void = () => undefined,
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    if (endpoint.apiKey) headers.set('authorization', `Bearer ${endpoint.apiKey}`);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${endpoint.baseUrl}${path}`, { ...init, headers });
      } catch (e) {
        throw networkError(e, endpoint, init.signal);
      }
      onResponse(); // the server is alive: a Retry-After wait is not silence
      if (res.ok) return res;
      if (res.status !== 429) throw await statusError(res, endpoint);
      const asked = retryAfterMs(res.headers.get('retry-after'));
      await res.body?.cancel();
      const delay = asked ?? this.retry.baseDelayMs * 2 ** attempt;
      if (attempt >= this.retry.maxRetries || delay > this.retry.maxDelayMs) throw rateLimited(endpoint, attempt, asked);
      await sleep(delay, init.signal);
      onResponse();
    }
  }
}

interface Accumulator {
  text: string;
  reasoning: string;
  /** Splits each delta's reasoning from its answer. */
  readonly parts: RemoteAnswerParts;
  /** UTF-8 size of `text` and `reasoning`. */
  bytes: number;
  finishReason: string | null;
  done: boolean;
  firstTokenAt?: number;
  promptTokens?: number;
  completionTokens?: number;
}

/** Where a chunk's parts go: its reasoning, then its answer text. */
type OnParts = (d: { readonly reasoning: string; readonly content: string }) => void;

interface ChatChoiceJson {
  delta?: AnswerPartJson;
  message?: AnswerPartJson;
  finish_reason?: unknown;
}

interface ChatJson {
  choices?: ChatChoiceJson[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
  error?: { message?: unknown };
}

async function readStream(
  res: Response,
  endpoint: RemoteEndpoint,
  parser: SseParser,
  acc: Accumulator,
  onParts: OnParts,
  activity: () => void,
): Promise<void> {
  const handle = (events: SseEvent[]): void => {
    for (const ev of events) {
      if (acc.done) return;
      if (ev.data === '[DONE]') {
        acc.done = true;
        return;
      }
      let json: ChatJson;
      try {
        json = JSON.parse(ev.data) as ChatJson;
      } catch {
        throw badResponse(endpoint, 'it sent a stream event that is not JSON');
      }
      if (json.error) throw new RemoteError('server-error', `${hostOf(endpoint.baseUrl)} failed during the answer: ${quote(json.error.message, endpoint)}`);
      applyChunk(json, acc, onParts, 'delta');
    }
  };
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const chunk = await readChunk(reader, endpoint);
      if (chunk.done) break;
      activity();
      handle(parseOrRefuse(() => parser.push(chunk.value), endpoint, acc, handle));
      if (acc.done) break;
    }
    if (!acc.done) handle(parseOrRefuse(() => parser.end(), endpoint, acc, handle));
  } finally {
    // Closes the connection when we stop early (a Stop, a [DONE] before the socket's end, a bad event).
    reader.cancel().catch(() => undefined);
  }
  // Some servers end without [DONE] but after a finish_reason: the answer is whole. Without either, it was cut.
  if (!acc.done && acc.finishReason === null) throw dropped(endpoint);
  acc.done = true;
}

/** The parser's events; past its limit, the events before the overlong line are still handled, then it is refused. */
function parseOrRefuse(parse: () => SseEvent[], endpoint: RemoteEndpoint, acc: Accumulator, handle: (events: SseEvent[]) => void): SseEvent[] {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof SseTooLongError)) throw e;
    handle(e.events);
    if (acc.done) return [];
    throw tooLarge(endpoint, `a stream ${e.what} longer than ${size(e.limit)}`, acc.text !== '' || acc.reasoning !== '');
  }
}

function readWhole(json: ChatJson, endpoint: RemoteEndpoint, acc: Accumulator, onParts: OnParts): void {
  if (!Array.isArray(json.choices) || json.choices.length === 0) throw badResponse(endpoint, 'its chat answer has no choices');
  applyChunk(json, acc, onParts, 'message');
  acc.done = true;
}

function applyChunk(json: ChatJson, acc: Accumulator, onParts: OnParts, field: 'delta' | 'message'): void {
  const choice = json.choices?.[0];
  const part = choice?.[field];
  if (part && typeof part === 'object') onParts(acc.parts.push(part));
  if (typeof choice?.finish_reason === 'string') acc.finishReason = choice.finish_reason;
  if (typeof json.usage?.prompt_tokens === 'number') acc.promptTokens = json.usage.prompt_tokens;
  if (typeof json.usage?.completion_tokens === 'number') acc.completionTokens = json.usage.completion_tokens;
}

const size = (bytes: number): string => (bytes % MiB === 0 ? `${bytes / MiB} MiB` : bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`);

const duration = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);

