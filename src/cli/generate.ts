// npm run -s generate -- --model FILE --prompt TEXT [--max-tokens N] [--temperature T] [--seed S] [--top-k K]
//   [--top-p P] [--min-p P] [--repeat-penalty R] [--reference] [--json]
//   [--session DB --conversation NAME [--chat] [--kv-budget BYTES]] [--context N] [--context-policy stop|truncate-middle|rolling-window [--keep N]]
//   [--kv-type f16|q8_0|q4_0] [--tune] [--think|--no-think] [--reasoning-effort low|medium|high] [--help]
// Positions count like llama2.c's -n: prompt and generated tokens together take at most N positions (and at
// most the model's context); generation also stops at an end-of-generation token. With --session the prompt
// continues a stored conversation (raw text unless --chat) and N caps the new tokens. At the context length the
// policy applies: stop (default), or drop the oldest tokens after the first N kept (--keep; default the BOS token)
// and go on; the JSON's context_shifts says what was dropped and recomputed. --kv-budget caps the KV bytes the
// session file keeps (least recently used conversations lose their blocks first); the JSON's kv_store_bytes is
// what it holds after the run. --kv-type picks the K/V cache type (default f16 where the GPU has shader-f16, else
// f32; q8_0 about halves KV memory and disk, q4_0 about quarters it); the JSON's kv_type says which ran. --tune
// measures kernel variants on this device first (decode matvec, flash-decode split-K; about 2 s) and keeps the
// choices for later runs. With --chat the model's reasoning (a Qwen3 `<think>` block, gpt-oss's analysis
// channel) is split from its answer (answer-stream.ts): the JSON's text is the answer and its reasoning the rest;
// see USAGE for the plain output, --think/--no-think and --reasoning-effort.
import type { ConversationResume } from '../gpu/engine/conversation-cache';
import { Engine, type ContextPolicy, type ContextShift, type GenerateOptions, type GenerateResult } from '../gpu/engine/engine';
import { sampleCpu } from '../gpu/engine/sampler-cpu';
import { foldSeed, normalizeSamplingParams, SamplingParamError, topPZeroAsGreedy, type SamplingParams } from '../gpu/engine/sampling-params';
import type { GgufFile } from '../gpu/gguf/reader';
import type { KvDtype, KvType } from '../gpu/kv/layout';
import { readModelConfig } from '../gpu/model/config';
import { continuesPrompt, encodeChat, tokenizerFromGguf, type Tokenizer } from '../gpu/tokenizer';
import { hasReasoningEffort, hasThinkingSwitch, isReasoningEffort, REASONING_EFFORTS, reasoningTemplateKwargs, type ReasoningChoice } from '../gpu/tokenizer/reasoning';
import { Args, kvTypeArg, runMain, UsageError } from './args';
import { AnswerStream } from './answer-stream';
import { openGgufFile } from '../node/file-source';
import { acquireNodeDevice } from '../node/dawn-device';
import { CliSession, type StoredConversation } from './session';
import { chooseKernelVariants, tunedEngineOptions } from './tune';
import { loadReferenceModel } from './reference-model';

interface Generation {
  readonly tokens: number[];
  readonly stopReason: string;
  readonly prefillMs: number;
  readonly decodeMs: number;
  readonly device: string;
  /** The K/V cache type of the GPU run (the CPU reference keeps f32 rows). */
  readonly kvType?: KvDtype;
  readonly resume?: ConversationResume;
  readonly contextShifts: readonly ContextShift[];
  /** The kernel variant choices (generate --tune, or stored ones). */
  readonly tuning?: readonly Record<string, unknown>[];
}

interface Run {
  readonly file: GgufFile;
  readonly prompt: readonly number[];
  readonly maxNew: number;
  readonly sampling: SamplingParams;
  readonly stop: ReadonlySet<number>;
  readonly onToken: (t: number) => void;
  readonly contextPolicy: ContextPolicy;
  readonly contextLength: number;
  readonly kvType?: KvType;
  /** Measure kernel variants before loading (--tune). */
  readonly tune?: boolean;
  /** Session mode: the stored conversation and how to save the exchange. */
  readonly session?: { readonly store: CliSession; readonly conversation: StoredConversation; readonly promptText: string; readonly answer: AnswerStream };
}

async function generateReference(r: Run): Promise<Generation> {
  const model = await loadReferenceModel(r.file, { ...readModelConfig(r.file.header), contextLength: r.contextLength });
  const started = performance.now();
  const tokens: number[] = [];
  const recent: number[] = [];
  let pos = 0;
  for (; pos < r.prompt.length - 1; pos++) model.forward(r.prompt[pos]!, pos);
  let next = r.prompt[r.prompt.length - 1]!;
  let firstAt = 0;
  let stopReason = 'max-tokens';
  while (tokens.length < r.maxNew) {
    const tok = sampleCpu(model.forward(next, pos++), recent, r.sampling, tokens.length);
    firstAt ||= performance.now();
    tokens.push(tok);
    recent.push(tok);
    if (recent.length > r.sampling.repetitionWindow) recent.shift();
    r.onToken(tok);
    if (r.stop.has(tok)) {
      stopReason = 'eos';
      break;
    }
    next = tok;
  }
  const end = performance.now();
  return { tokens, stopReason, prefillMs: firstAt - started, decodeMs: end - firstAt, device: 'cpu-reference (f32)', contextShifts: [] };
}

async function generateGpu(r: Run): Promise<Generation> {
  const gpu = await acquireNodeDevice();
  const tuned = await chooseKernelVariants(gpu, r.file, r.kvType ?? (gpu.caps.f16 ? 'f16' : 'f32'), !!r.tune);
  // In session mode KV blocks are named by the model file's fingerprint, so stored ones are found again.
  const engine = await Engine.load(gpu, r.file, {
    maxSeqs: 1,
    contextLength: r.contextLength,
    ...(r.kvType ? { kvDtype: r.kvType } : {}),
    ...(r.session ? { modelFingerprint: r.session.store.modelFingerprint } : {}),
    ...tunedEngineOptions(tuned),
  });
  try {
    const started = performance.now();
    let firstAt = 0;
    let lastAt = 0;
    const opts: GenerateOptions = {
      maxNewTokens: r.maxNew,
      sampling: r.sampling,
      stopTokens: r.stop,
      contextPolicy: r.contextPolicy,
      onToken: (t) => {
        lastAt = performance.now();
        firstAt ||= lastAt;
        r.onToken(t);
      },
    };
    const { result, resume } = r.session ? await generateInSession(engine, r.session, r.prompt, opts) : { result: await engine.generate(engine.createSequence(), r.prompt, opts), resume: undefined };
    return {
      tokens: result.tokens,
      stopReason: result.stopReason,
      prefillMs: firstAt - started,
      // Up to the last token: in session mode the KV is persisted after it.
      decodeMs: lastAt - firstAt,
      device: `webgpu: ${gpu.adapterDescription}`,
      kvType: engine.pool.layout.dtype,
      contextShifts: result.contextShifts,
      tuning: tuned.report,
      ...(resume ? { resume } : {}),
    };
  } finally {
    engine.destroy();
  }
}

/** The stored conversation restored (its KV from the file), continued by the prompt, then saved with its messages. */
async function generateInSession(engine: Engine, s: NonNullable<Run['session']>, prompt: readonly number[], opts: GenerateOptions): Promise<{ result: GenerateResult; resume: ConversationResume }> {
  let resume: ConversationResume | undefined;
  const conversations = s.store.conversationCache(engine, { onRestored: (_, r) => (resume = r) });
  await conversations.openConversation(s.conversation.id);
  const a = await conversations.generate(s.conversation.id, [...s.conversation.history, ...prompt], opts);
  if (a.persistError !== undefined) throw a.persistError;
  const { content, reasoning } = s.answer.end();
  s.store.saveMessages(s.conversation, s.promptText, content, { tokens: a.result.tokens.length, stopReason: a.result.stopReason }, reasoning);
  return { result: a.result, resume: resume! };
}

const USAGE = `usage: npm run -s generate -- --model FILE --prompt TEXT [options]
  --max-tokens N          prompt and generated tokens together take at most N positions
  --temperature T --seed S --top-k K --top-p P --min-p P --repeat-penalty R   sampling (llama.cpp's defaults)
  --reference             run the CPU f32 reference instead of the GPU
  --json                  print one JSON object at the end instead of the text as it comes
  --chat                  wrap the prompt as a user turn in the model's chat template
  --think, --no-think     (--chat) answer with or without reasoning, for a template with a thinking switch (Qwen3)
  --reasoning-effort L    (--chat) low, medium or high, for a template that reads it (gpt-oss; its default: medium)
  --session DB --conversation NAME [--kv-budget BYTES]   continue a stored conversation
  --context N --context-policy stop|truncate-middle|rolling-window [--keep N] --kv-type f16|q8_0|q4_0 --tune
With --chat, a model's reasoning (a <think> block, gpt-oss's analysis channel) is split from its answer: the answer
is printed on stdout, the reasoning on stderr under a "Thinking:" header (so redirecting stdout keeps only the
answer); --json gives the answer as "text" and the reasoning as "reasoning" ("" when it gave none; absent when
the template has no reasoning markup).
`;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const args = new Args(
    process.argv.slice(2),
    new Set(['json', 'reference', 'chat', 'tune', 'think', 'no-think']),
    new Set(['model', 'prompt', 'max-tokens', 'temperature', 'seed', 'top-k', 'top-p', 'min-p', 'repeat-penalty', 'session', 'conversation', 'context-policy', 'keep', 'context', 'kv-budget', 'kv-type', 'reasoning-effort']),
  );
  const json = args.flag('json');
  const modelPath = args.required('model');
  const sessionPath = args.string('session');
  if ((sessionPath === undefined) !== (args.string('conversation') === undefined)) throw new UsageError('--session and --conversation go together');
  if (sessionPath !== undefined && args.flag('reference')) throw new UsageError('--reference keeps no session');
  if (args.flag('tune') && args.flag('reference')) throw new UsageError('--tune measures GPU kernels; --reference runs none');
  if (sessionPath === undefined && args.string('kv-budget') !== undefined) throw new UsageError('--kv-budget needs --session');
  const kvBudget = args.string('kv-budget') !== undefined ? args.number('kv-budget', 0, (n) => Number.isSafeInteger(n) && n >= 0, 'a whole number of bytes') : undefined;
  const { file, close } = await openGgufFile(modelPath);
  const store = sessionPath !== undefined ? await CliSession.open(sessionPath, modelPath, kvBudget !== undefined ? { kvBudgetBytes: kvBudget } : {}) : undefined;
  try {
    const modelConfig = readModelConfig(file.header);
    const contextLength = args.number('context', modelConfig.contextLength, (n) => Number.isInteger(n) && n >= 32 && n <= modelConfig.contextLength, `a whole number from 32 to the model's ${modelConfig.contextLength}`);
    const config = { ...modelConfig, contextLength };
    const tokenizer: Tokenizer = tokenizerFromGguf(file.metadata);
    const promptText = args.string('prompt') ?? '';
    const conversation = store?.conversation(args.required('conversation'));
    const history = conversation?.history ?? [];
    const reasoning = reasoningChoiceFromArgs(args, file);
    const prompt = encodePrompt(tokenizer, file, promptText, history.length === 0, args.flag('chat'), reasoningTemplateKwargs(file.metadata, reasoning));
    if (prompt.length + history.length === 0) throw new UsageError('the prompt is empty and the model adds no BOS token');
    const cap = args.number('max-tokens', config.contextLength, (n) => Number.isInteger(n) && n > 0, 'a positive whole number');
    const contextPolicy = parseContextPolicy(args.string('context-policy') ?? 'stop', args, history[0] ?? prompt[0], tokenizer.bos);
    if (contextPolicy.kind !== 'stop' && args.flag('reference')) throw new UsageError('--reference supports only --context-policy stop');
    const used = history.length + prompt.length;
    const maxNew = contextPolicy.kind !== 'stop' ? cap : conversation ? Math.min(cap, config.contextLength - used + 1) : Math.min(cap, config.contextLength) - prompt.length + 1;
    if (maxNew < 1) throw new UsageError(`the prompt takes ${used} tokens; the model's context is ${config.contextLength} and ${cap} positions were allowed`);
    const sampling = samplingFromArgs(args);
    // A stored conversation's answer continues its text even after an empty prompt.
    const continuation = history.length > 0 || continuesPrompt(prompt, tokenizer.bos);
    const answer = new AnswerStream(tokenizer, file.metadata, prompt, { continuation, chat: args.flag('chat'), ...(json ? {} : { out: process.stdout, err: process.stderr }) });
    if (!json) process.stdout.write(promptText);
    const run: Run = {
      file,
      prompt,
      maxNew,
      sampling,
      stop: tokenizer.endOfGeneration,
      onToken: (t) => answer.token(t),
      contextPolicy,
      contextLength,
      kvType: kvTypeArg(args),
      tune: args.flag('tune'),
      ...(store && conversation ? { session: { store, conversation, promptText, answer } } : {}),
    };
    const g = args.flag('reference') ? await generateReference(run) : await generateGpu(run);
    const { content: text, reasoning: thought } = answer.end();
    const decoded = Math.max(0, g.tokens.length - 1);
    if (json) {
      process.stdout.write(
        `${JSON.stringify({
          model: config.name,
          backend: args.flag('reference') ? 'reference' : 'webgpu',
          device: g.device,
          ...(g.kvType ? { kv_type: g.kvType } : {}),
          ...(g.tuning ? { tuning: g.tuning } : {}),
          prompt: promptText,
          prompt_tokens: prompt,
          generated_tokens: g.tokens,
          text,
          ...(answer.format !== 'none' ? { reasoning: thought } : {}),
          stop_reason: g.stopReason,
          context_policy: contextPolicy.kind,
          context_shifts: g.contextShifts.map((c) => ({ dropped_tokens: c.droppedTokens, kept_head: c.keptHead, recomputed_tokens: c.recomputedTokens })),
          ...(g.resume
            ? { resume_source: g.resume.source, resume_ms: round(g.resume.ms), reused_tokens: g.resume.reusedTokens, history_tokens: history.length }
            : {}),
          ...(store ? kvStoreReport(store) : {}),
          sampling,
          timings: {
            prefill_ms: round(g.prefillMs),
            decode_ms: round(g.decodeMs),
            prefill_tokens_per_s: round((prompt.length / g.prefillMs) * 1000),
            decode_tokens_per_s: round(decoded > 0 ? (decoded / g.decodeMs) * 1000 : 0),
          },
        })}\n`,
      );
    } else {
      process.stdout.write('\n');
      process.stderr.write(`\n[${g.device}] ${prompt.length} prompt tokens, ${g.tokens.length} generated (${g.stopReason}); ${((decoded / g.decodeMs) * 1000).toFixed(1)} tokens/s\n`);
    }
  } finally {
    store?.close();
    await close();
  }
}

/** The prompt's tokens: raw text continues the conversation; --chat wraps it as a user turn in the model's template. */
function encodePrompt(tokenizer: Tokenizer, file: GgufFile, text: string, first: boolean, chat: boolean, templateKwargs: Record<string, unknown>): number[] {
  if (!chat) return tokenizer.encode(text, first ? {} : { addBos: false });
  return encodeChat(tokenizer, file.metadata, [{ role: 'user', content: text }], { addGenerationPrompt: true, addBos: first, templateKwargs });
}

/** --think/--no-think and --reasoning-effort: only with --chat, and only for a template that reads them. */
function reasoningChoiceFromArgs(args: Args, file: GgufFile): ReasoningChoice {
  const think = args.flag('think');
  const noThink = args.flag('no-think');
  const effort = args.string('reasoning-effort');
  if (think && noThink) throw new UsageError('--think and --no-think contradict each other');
  if ((think || noThink || effort !== undefined) && !args.flag('chat')) throw new UsageError(`${think ? '--think' : noThink ? '--no-think' : '--reasoning-effort'} needs --chat (it is a chat template variable)`);
  if ((think || noThink) && !hasThinkingSwitch(file.metadata)) throw new UsageError(`--${think ? 'think' : 'no-think'}: this model's chat template has no thinking switch (enable_thinking)`);
  const thinking = think || noThink ? think : undefined;
  if (effort === undefined) return { thinking };
  if (!isReasoningEffort(effort)) throw new UsageError(`--reasoning-effort must be one of ${REASONING_EFFORTS.join(', ')}, not "${effort}"`);
  if (!hasReasoningEffort(file.metadata)) throw new UsageError("--reasoning-effort: this model's chat template does not read reasoning_effort");
  return { thinking, effort };
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** The session file's KV after the run: its bytes, what the budget dropped, and a write skipped for space. */
function kvStoreReport(store: CliSession): Record<string, unknown> {
  const skip = store.kv.lastSkip;
  return {
    kv_store_bytes: store.kvStoreBytes(),
    kv_evicted_conversations: store.kv.lastEviction?.evictedConversations.length ?? 0,
    ...(skip ? { kv_write_skipped: skip.reason } : {}),
  };
}

/** The flag that sets each sampling parameter, for usage errors in the user's own words. */
const SAMPLING_FLAGS: Partial<Record<keyof SamplingParams, string>> = {
  temperature: '--temperature',
  topK: '--top-k',
  topP: '--top-p',
  minP: '--min-p',
  repetitionPenalty: '--repeat-penalty',
  seed: '--seed',
};

/** llama.cpp's defaults; --top-p 0 is greedy and any integer seed is folded, as the server reads them. */
function samplingFromArgs(args: Args): SamplingParams {
  try {
    return normalizeSamplingParams(
      topPZeroAsGreedy({
        temperature: args.number('temperature', 0.8),
        seed: foldSeed(args.number('seed', Date.now() % 2 ** 31, Number.isInteger, 'a whole number')),
        topK: args.number('top-k', 40),
        topP: args.number('top-p', 0.95),
        minP: args.number('min-p', 0.05),
        repetitionPenalty: args.number('repeat-penalty', 1),
      }),
    );
  } catch (e) {
    if (e instanceof SamplingParamError) throw new UsageError(`${SAMPLING_FLAGS[e.param] ?? e.param} must be ${e.rule}, not ${e.value}`);
    throw e;
  }
}

function parseContextPolicy(kind: string, args: Args, first: number | undefined, bos: number | undefined): ContextPolicy {
  if (kind === 'stop') return { kind };
  if (kind !== 'truncate-middle' && kind !== 'rolling-window') throw new UsageError(`--context-policy must be stop, truncate-middle or rolling-window, not ${kind}`);
  const keep = args.number('keep', first !== undefined && first === bos ? 1 : 0, (n) => Number.isInteger(n) && n >= 0, 'a whole number');
  return { kind, keepTokens: keep };
}

runMain(main);
