// The answer being written, as plain data: text lands only on the request that is streaming, and a finished
// engine answer's stats are stored as the message's (recomputed tokens from the resume, dropped ones only when some).
import { describe, expect, it } from 'vitest';
import { storedStats, streamReducer, titleFrom, type AnswerStream } from '../../src/renderer/src/hooks/answer-state';

const local: AnswerStream = { requestId: 3, remote: false, conversationId: 1, base: [], text: '', reasoning: '' };

describe('streamReducer', () => {
  it('appends text of the streaming request only, local or remote', () => {
    let s = streamReducer(null, { type: 'start', stream: local });
    s = streamReducer(s, { type: 'text', requestId: 3, text: 'Once' });
    s = streamReducer(s, { type: 'text', requestId: 4, text: ' late' });
    s = streamReducer(s, { type: 'text', requestId: '3', text: ' remote id' });
    s = streamReducer(s, { type: 'text', requestId: 3, text: ' upon' });
    expect(s?.text).toBe('Once upon');
    const remote = streamReducer(s, { type: 'start', stream: { ...local, requestId: 'remote-1', remote: true, text: 'partial' } });
    expect(streamReducer(remote, { type: 'text', requestId: 'remote-1', text: ' more' })?.text).toBe('partial more');
  });

  it('ignores text when nothing streams, and ends', () => {
    expect(streamReducer(null, { type: 'text', requestId: 3, text: 'x' })).toBeNull();
    expect(streamReducer(local, { type: 'end' })).toBeNull();
  });

  it('keeps the same state object for text from another request (no re-render)', () => {
    expect(streamReducer(local, { type: 'text', requestId: 9, text: 'x' })).toBe(local);
  });
});

describe('storedStats', () => {
  const resume = { conversationId: 1, source: 'disk', ms: 4, reusedTokens: 30, historyTokens: 30 } as const;
  const stats = { tokensPerSecond: 50, timeToFirstTokenMs: 12, promptTokens: 40, generatedTokens: 8, contextUsed: 48, resume, userTokenCount: null, droppedTokens: 0 };
  const done = (droppedTokens: number, reusedTokens = 30) =>
    ({ type: 'done', requestId: 1, text: 'x', reasoning: '', tokenCount: 8, stopReason: 'eos', stats: { ...stats, droppedTokens, resume: { ...resume, reusedTokens } } }) as const;

  it('stores where the KV came from and how much was recomputed', () => {
    expect(storedStats(done(0))).toEqual({
      tokensPerSecond: 50,
      timeToFirstTokenMs: 12,
      promptTokens: 40,
      generatedTokens: 8,
      resumeSource: 'disk',
      recomputedTokens: 10,
      stopReason: 'eos',
    });
  });

  it('counts dropped tokens only when some were, and never a negative recompute', () => {
    expect(storedStats(done(6))).toMatchObject({ droppedTokens: 6 });
    expect(storedStats(done(0, 55)).recomputedTokens).toBe(0);
  });
});

describe('titleFrom', () => {
  it('takes the first line, at most 60 characters, or "New chat"', () => {
    expect(titleFrom('  Hello there\nsecond line')).toBe('Hello there');
    expect(titleFrom('x'.repeat(80))).toBe('x'.repeat(60));
    expect(titleFrom('   \n ')).toBe('New chat');
  });
});
