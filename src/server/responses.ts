// OpenAI's response and chunk shapes for completions and chat completions.
import type { FinishReason, GenerationOutcome } from './generation';

export interface ResponseMeta {
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

export function usageOf(o: GenerationOutcome): Usage {
  return {
    prompt_tokens: o.promptTokens,
    completion_tokens: o.completionTokens,
    total_tokens: o.promptTokens + o.completionTokens,
    prompt_tokens_details: { cached_tokens: o.cachedTokens },
  };
}

const header = (m: ResponseMeta, object: string) => ({ id: m.id, object, created: m.created, model: m.model, system_fingerprint: null });

export function completionResponse(m: ResponseMeta, o: GenerationOutcome) {
  return { ...header(m, 'text_completion'), choices: [{ index: 0, text: o.text, logprobs: null, finish_reason: o.finishReason! }], usage: usageOf(o) };
}

export function completionChunk(m: ResponseMeta, text: string, finishReason: FinishReason | null) {
  return { ...header(m, 'text_completion'), choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }] };
}

export function chatResponse(m: ResponseMeta, o: GenerationOutcome) {
  // reasoning_content as llama.cpp's server and vLLM send it; absent when the model gave none.
  const message = { role: 'assistant', content: o.text, ...(o.reasoning ? { reasoning_content: o.reasoning } : {}), refusal: null };
  return { ...header(m, 'chat.completion'), choices: [{ index: 0, message, logprobs: null, finish_reason: o.finishReason! }], usage: usageOf(o) };
}

export function chatChunk(m: ResponseMeta, delta: { role?: 'assistant'; content?: string; reasoning_content?: string }, finishReason: FinishReason | null) {
  return { ...header(m, 'chat.completion.chunk'), choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
}

/** stream_options.include_usage: a last chunk with no choices and the usage. */
export function usageChunk(m: ResponseMeta, object: 'text_completion' | 'chat.completion.chunk', o: GenerationOutcome) {
  return { ...header(m, object), choices: [], usage: usageOf(o) };
}

export function modelObject(id: string, created: number) {
  return { id, object: 'model', created, owned_by: 'kvchat' };
}
