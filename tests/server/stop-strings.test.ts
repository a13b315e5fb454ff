// Stop strings on text that arrives in pieces: whatever the split, the output is the text up to the first stop
// string, without it, and nothing is held back that could not start a stop string.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StopStringMatcher } from '../../src/server/stop-strings';

/** Feeds `pieces` through a matcher the way the server does; returns what reached the client. */
function run(stops: readonly string[], pieces: readonly string[]): { text: string; stopped: boolean } {
  const m = new StopStringMatcher(stops);
  let text = '';
  for (const p of pieces) {
    const scan = m.push(p);
    text += scan.text;
    if (scan.stopped) return { text, stopped: true };
  }
  return { text: text + m.flush(), stopped: false };
}

/** The answer character by character: stop at the first character that completes a stop string. */
function expected(stops: readonly string[], whole: string): { text: string; stopped: boolean } {
  for (let end = 1; end <= whole.length; end++) {
    const seen = whole.slice(0, end);
    const hits = stops.filter((s) => seen.endsWith(s)).map((s) => end - s.length);
    if (hits.length > 0) return { text: whole.slice(0, Math.min(...hits)), stopped: true };
  }
  return { text: whole, stopped: false };
}

describe('StopStringMatcher', () => {
  it('cuts before a stop string split across pieces', () => {
    expect(run(['<end>'], ['Hello <e', 'n', 'd> world'])).toEqual({ text: 'Hello ', stopped: true });
  });

  it('releases a held-back tail that turned out not to be a stop string', () => {
    const m = new StopStringMatcher(['ab']);
    expect(m.push('xa')).toEqual({ text: 'x', stopped: false });
    expect(m.push('c')).toEqual({ text: 'ac', stopped: false });
    expect(m.push('a')).toEqual({ text: '', stopped: false });
    expect(m.flush()).toBe('a');
  });

  it('stops at the stop string completed first, whatever the pieces', () => {
    expect(run(['world', 'lo'], ['hello world'])).toEqual({ text: 'hel', stopped: true });
    // "a" completes before "xay" does: the model would have been stopped after "xa".
    expect(run(['a', 'xay'], ['xay'])).toEqual({ text: 'x', stopped: true });
    expect(run(['y', 'xay'], ['x', 'ay'])).toEqual({ text: '', stopped: true });
  });

  it('refuses an empty stop string', () => {
    expect(() => new StopStringMatcher([''])).toThrow(RangeError);
  });

  it('any split of any text gives the same output as the whole text (property)', () => {
    const alphabet = fc.constantFrom('a', 'b', 'c', ' ', 'é', '\n');
    const word = fc.string({ unit: alphabet, minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 4 }), fc.array(fc.string({ unit: alphabet, maxLength: 5 }), { maxLength: 12 }), (stops, pieces) => {
        expect(run(stops, pieces)).toEqual(expected(stops, pieces.join('')));
      }),
      { numRuns: 2000, seed: 20261123 },
    );
  });
});
