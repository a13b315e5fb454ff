// The answer being written, as plain data: what the chat shows while it streams (local tokens or remote deltas)
// and how a finished local answer's stats are stored with its message.
import type { MessageStats, RemoteDelta, ThreadMessage } from '../../../shared/api';
import type { Finished } from '../engine/client';

export interface AnswerStream {
  /** The engine's request number, or (remote) the id we gave remoteSend. */
  readonly requestId: number | string;
  readonly remote: boolean;
  readonly conversationId: number;
  /** The thread shown above the answer being written. */
  readonly base: readonly ThreadMessage[];
  readonly text: string;
  /** The answer's reasoning so far (a Qwen3 `<think>` block, gpt-oss's analysis channel); '' if none. */
  readonly reasoning: string;
}

export type StreamAction =
  | { readonly type: 'start'; readonly stream: AnswerStream }
  /** Text from a request: appended only while that request is the one streaming (a late token is dropped). */
  | { readonly type: 'text'; readonly requestId: number | string; readonly text: string }
  /** Reasoning from a request, by the same rule. */
  | { readonly type: 'reasoning'; readonly requestId: number | string; readonly text: string }
  | { readonly type: 'end' };

export function streamReducer(stream: AnswerStream | null, action: StreamAction): AnswerStream | null {
  switch (action.type) {
    case 'start':
      return action.stream;
    case 'text':
      return stream && stream.requestId === action.requestId ? { ...stream, text: stream.text + action.text } : stream;
    case 'reasoning':
      return stream && stream.requestId === action.requestId ? { ...stream, reasoning: stream.reasoning + action.text } : stream;
    case 'end':
      return null;
  }
}

/** A remote delta as stream actions: its reasoning (a remote model's thinking) and its text, as a local answer's. */
export function remoteDeltaActions(d: RemoteDelta): StreamAction[] {
  const actions: StreamAction[] = [];
  if (d.reasoning) actions.push({ type: 'reasoning', requestId: d.requestId, text: d.reasoning });
  if (d.text) actions.push({ type: 'text', requestId: d.requestId, text: d.text });
  return actions;
}

/** What the store keeps of an engine answer's stats (shown again when the chat is reopened). */
export function storedStats(r: Extract<Finished, { type: 'done' }>): MessageStats {
  const s = r.stats;
  return {
    tokensPerSecond: s.tokensPerSecond,
    timeToFirstTokenMs: s.timeToFirstTokenMs,
    promptTokens: s.promptTokens,
    generatedTokens: s.generatedTokens,
    resumeSource: s.resume.source,
    recomputedTokens: Math.max(0, s.promptTokens - s.resume.reusedTokens),
    stopReason: r.stopReason,
    ...(s.droppedTokens > 0 ? { droppedTokens: s.droppedTokens } : {}),
  };
}

/** A new chat's title: the first line of its first question. */
export function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0]!.slice(0, 60).trim();
  return line || 'New chat';
}
