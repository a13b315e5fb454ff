// Fitting a long chat into the model's context under each overflow policy (a conversation's prompt, before the engine
// sees it): truncate-middle keeps the system prompt and the latest turns, rolling-window only the latest turns,
// stop keeps everything (and the worker reports the limit). What was left out is counted, never silent.
import { describe, expect, it } from 'vitest';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import { fitPrompt, type ConversationTurn } from '../../src/gpu/engine/conversation-prompt';
import { openModel } from '../helpers/shared';

const file = openModel('stories260K.gguf');
const tok = tokenizerFromGguf(file.metadata);
const SYSTEM = 'Once upon a time there was a little girl named Lily.';
const turns: ConversationTurn[] = [
  'She liked to play in the park with her friends every day.',
  'One day she saw a big red ball under the old tree.',
  'Her mom said they could go home and eat some cake.',
  'Lily was happy and she smiled at her dog.',
].map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content, tokenCount: null }));
const fit = (policy: 'stop' | 'truncate-middle' | 'rolling-window', ctx: number, room: number) =>
  fitPrompt(tok, file.metadata, false, SYSTEM, turns, [], ctx, room, policy);

describe('fitPrompt', () => {
  const whole = fit('stop', 10_000, 0);
  const system = tok.encode(SYSTEM);
  const last = tok.encode(turns.at(-1)!.content, { addBos: false });

  it('leaves a prompt that fits untouched under every policy', () => {
    for (const policy of ['stop', 'truncate-middle', 'rolling-window'] as const) {
      expect(fit(policy, whole.tokens.length + 8, 8)).toMatchObject({ tokens: whole.tokens, droppedTokens: 0 });
    }
  });

  it('truncate-middle drops the oldest turns, keeps the system prompt and the new message, and counts what it dropped', () => {
    const ctx = whole.tokens.length - 5;
    const f = fit('truncate-middle', ctx, 8);
    expect(f.tokens.length + 8).toBeLessThanOrEqual(ctx);
    expect(f.tokens.slice(0, system.length)).toEqual(system);
    expect(f.tokens.slice(-last.length)).toEqual(last);
    expect(f.droppedTokens).toBe(whole.tokens.length - f.tokens.length);
    expect(f.droppedTokens).toBeGreaterThan(0);
    expect(f.keepTokens).toBe(system.length);
  });

  it('rolling-window keeps only the latest turns (BOS first), and a shift keeps just BOS', () => {
    const f = fit('rolling-window', whole.tokens.length - 5, 8);
    expect(f.tokens[0]).toBe(tok.bos);
    expect(f.tokens.slice(0, system.length)).not.toEqual(system);
    expect(f.tokens.slice(-last.length)).toEqual(last);
    expect(f.keepTokens).toBe(1);
    expect(f.droppedTokens).toBeGreaterThan(0);
  });

  it('stop keeps the whole prompt even when it does not fit (the worker refuses with a clear message)', () => {
    expect(fit('stop', 16, 8)).toMatchObject({ tokens: whole.tokens, droppedTokens: 0 });
  });
});
