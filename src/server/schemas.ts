// Request bodies of /v1/completions and /v1/chat/completions, parsed and validated before the engine sees them.
// Unknown fields are ignored (clients send many we have no use for); known fields of the wrong type, out of range,
// or asking for something this server does not do (n > 1, logprobs, tools...) are a 400 naming the field.
import { z } from 'zod';
import { foldSeed, topPZeroAsGreedy, type SamplingParams } from '../gpu/engine/sampling-params';
import type { ChatMessage } from '../gpu/tokenizer';
import { badRequest } from './errors';

/** OpenAI allows up to 4 stop sequences. */
export const MAX_STOP_STRINGS = 4;

const stop = z
  .union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP_STRINGS)], { error: `must be a non-empty string or an array of at most ${MAX_STOP_STRINGS} of them` })
  .nullish();
const positiveInt = z.int().min(1).nullish();

/** Fields shared by both endpoints. top_k, min_p and repeat_penalty are llama.cpp's extensions. */
const generationFields = {
  model: z.string().nullish(),
  max_tokens: positiveInt,
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repeat_penalty: z.number().gt(0).nullish(),
  // Any integer: 64-bit seeds (past 2^53 every double is an integer) are folded into the sampler's u32 below.
  seed: z.number().refine(Number.isInteger, { error: 'must be an integer' }).nullish(),
  stop,
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  // Accepted only at the value that means "off": the server has no way to honour anything else.
  n: z.int().nullish(),
  logprobs: z.union([z.boolean(), z.int()]).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  frequency_penalty: z.number().nullish(),
  presence_penalty: z.number().nullish(),
};

const tokenIds = z.array(z.int().min(0)).min(1);

const completionSchema = z.object({
  ...generationFields,
  prompt: z.union([z.string(), z.array(z.string()).length(1), tokenIds, z.array(tokenIds).length(1)], {
    error: 'must be a string or an array of token ids (one prompt: n=1)',
  }),
  echo: z.boolean().nullish(),
  best_of: z.int().nullish(),
  suffix: z.string().nullish(),
});

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const messageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)], { error: 'must be a string or an array of text parts' }).nullable(),
  // An earlier answer's reasoning, as this server returned it; the template decides whether the model sees it.
  reasoning_content: z.string().nullish(),
});

const chatSchema = z.object({
  ...generationFields,
  messages: z.array(messageSchema).min(1),
  max_completion_tokens: positiveInt,
  tools: z.array(z.unknown()).nullish(),
  response_format: z.object({ type: z.string() }).nullish(),
  top_logprobs: z.int().nullish(),
  // Variables for the model's chat template, as llama.cpp's server and vLLM take them ({enable_thinking: false}).
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  // gpt-oss's reasoning effort (its template's `reasoning_effort`).
  reasoning_effort: z.enum(['low', 'medium', 'high']).nullish(),
  // llama.cpp's: 'none' leaves the reasoning in `content`, markup and all; the others split it out.
  reasoning_format: z.enum(['none', 'auto', 'deepseek', 'deepseek-legacy']).nullish(),
});

export interface GenerationRequest {
  /** The model the client named, if any. */
  readonly model: string | undefined;
  /** Most new tokens the client allows; undefined: as many as the context holds. */
  readonly maxTokens: number | undefined;
  readonly sampling: Partial<SamplingParams>;
  readonly stop: readonly string[];
  readonly stream: boolean;
  /** stream_options.include_usage: a last chunk carries the usage. */
  readonly includeUsage: boolean;
}

export type CompletionPrompt = { readonly text: string } | { readonly tokens: readonly number[] };

export interface CompletionRequest extends GenerationRequest {
  readonly prompt: CompletionPrompt;
}

export interface ChatRequest extends GenerationRequest {
  readonly messages: readonly ChatMessage[];
  /** chat_template_kwargs, with reasoning_effort among them when given. */
  readonly templateKwargs: Readonly<Record<string, unknown>>;
  /** false: reasoning_format 'none' (the answer keeps its reasoning). */
  readonly splitReasoning: boolean;
}

/** `messages[0].role` from a zod issue path. */
function paramName(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let v = body;
  for (const key of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a JSON object.', 'invalid_type');
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = paramName(issue.path);
  const missing = valueAt(body, issue.path) === undefined;
  const message = missing ? `Missing required parameter: '${param}'.` : `Invalid value for '${param ?? 'body'}': ${issue.message}.`;
  throw badRequest(message, missing ? 'missing_required_parameter' : issue.code === 'invalid_type' ? 'invalid_type' : 'invalid_value', param);
}

type GenerationFields = z.infer<z.ZodObject<typeof generationFields>>;

function unsupported(param: string, what = ''): never {
  throw badRequest(`'${param}'${what ? ` ${what}` : ''} is not supported by this server.`, 'unsupported_parameter', param);
}

function rejectUnsupported(f: GenerationFields): void {
  if (f.n != null && f.n !== 1) unsupported('n', 'other than 1');
  if (f.logprobs) unsupported('logprobs');
  if (f.logit_bias && Object.keys(f.logit_bias).length > 0) unsupported('logit_bias');
  if (f.frequency_penalty) unsupported('frequency_penalty', 'other than 0 (use repeat_penalty)');
  if (f.presence_penalty) unsupported('presence_penalty', 'other than 0 (use repeat_penalty)');
}

function samplingOf(f: GenerationFields): Partial<SamplingParams> {
  // OpenAI's defaults (temperature 1, top_p 1), not the CLI's.
  return topPZeroAsGreedy({
    temperature: f.temperature ?? 1,
    topP: f.top_p ?? 1,
    topK: f.top_k ?? 0,
    minP: f.min_p ?? 0,
    repetitionPenalty: f.repeat_penalty ?? 1,
    seed: foldSeed(f.seed ?? Math.floor(Math.random() * 2 ** 32)),
  });
}

function generationOf(f: GenerationFields, maxTokens: number | null | undefined): GenerationRequest {
  rejectUnsupported(f);
  const stopList = f.stop == null ? [] : typeof f.stop === 'string' ? [f.stop] : f.stop;
  return {
    model: f.model ?? undefined,
    maxTokens: maxTokens ?? undefined,
    sampling: samplingOf(f),
    stop: stopList,
    stream: f.stream ?? false,
    includeUsage: (f.stream ?? false) && (f.stream_options?.include_usage ?? false),
  };
}

export function parseCompletionRequest(body: unknown): CompletionRequest {
  const r = parse(completionSchema, body);
  if (r.echo) unsupported('echo');
  if (r.best_of != null && r.best_of !== 1) unsupported('best_of', 'other than 1');
  if (r.suffix) unsupported('suffix');
  const p = r.prompt;
  const prompt: CompletionPrompt =
    typeof p === 'string' ? { text: p } : typeof p[0] === 'string' ? { text: p[0] } : Array.isArray(p[0]) ? { tokens: p[0] } : { tokens: p as number[] };
  return { ...generationOf(r, r.max_tokens), prompt };
}

function messageText(content: z.infer<typeof messageSchema>['content']): string {
  if (content === null) return '';
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

export function parseChatRequest(body: unknown): ChatRequest {
  const r = parse(chatSchema, body);
  if (r.tools && r.tools.length > 0) unsupported('tools');
  if (r.response_format && r.response_format.type !== 'text') unsupported('response_format', `of type '${r.response_format.type}'`);
  if (r.top_logprobs) unsupported('top_logprobs');
  const messages = r.messages.map(
    (m): ChatMessage => ({ role: m.role === 'developer' ? 'system' : m.role, content: messageText(m.content), ...(m.role === 'assistant' && m.reasoning_content ? { reasoning: m.reasoning_content } : {}) }),
  );
  const templateKwargs = { ...r.chat_template_kwargs, ...(r.reasoning_effort ? { reasoning_effort: r.reasoning_effort } : {}) };
  return { ...generationOf(r, r.max_completion_tokens ?? r.max_tokens), messages, templateKwargs, splitReasoning: r.reasoning_format !== 'none' };
}
