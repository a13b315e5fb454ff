// A chat's reasoning settings reach a remote server as OpenAI-compatible servers read them: `reasoning_effort` in
// the body (OpenAI, vLLM, llama.cpp's server, OpenRouter) and, for thinking switched off,
// `chat_template_kwargs: { enable_thinking: false }` (llama.cpp's server, vLLM). Unset, neither is sent, so a server
// that knows neither field is asked nothing new. Checked on the body a loopback fake provider receives.
import { describe, expect, it } from 'vitest';
import type { GenerationSettings } from '../../../src/shared/api';
import { remoteFixture } from './helpers/fixtures';
import { answer, httpServer } from './helpers/http';

async function sentBody(settings: Partial<GenerationSettings>, act: 'send' | 'regenerate' | 'continue' = 'send'): Promise<Record<string, unknown>> {
  const server = await httpServer((_req, res) => answer(res, ['Hello', '!']));
  const { service, conversations } = remoteFixture({ saveIntervalMs: 0 });
  const p = service.addProvider({ name: 'fake', baseUrl: `${server.url}/v1` });
  const c = service.createConversation({ providerId: p.id, model: 'thinker', title: 'remote' });
  conversations.updateSettings(c.id, { settings });
  const first = await service.send(c.id, 'Hi');
  if (act === 'regenerate') await service.regenerate(first.id);
  if (act === 'continue') await service.continue(first.id);
  return JSON.parse(server.requests.at(-1)!.body) as Record<string, unknown>;
}

describe('remote requests: the chat reasoning settings', () => {
  it('unset: neither reasoning_effort nor chat_template_kwargs is sent', async () => {
    const body = await sentBody({});
    expect(body).not.toHaveProperty('reasoning_effort');
    expect(body).not.toHaveProperty('chat_template_kwargs');
    expect(body).toMatchObject({ model: 'thinker', stream: true });
  });

  it.each(['low', 'medium', 'high'] as const)('reasoning effort %s is sent as reasoning_effort', async (effort) => {
    const body = await sentBody({ reasoningEffort: effort });
    expect(body.reasoning_effort).toBe(effort);
    expect(body).not.toHaveProperty('chat_template_kwargs');
  });

  it('thinking switched off is sent as chat_template_kwargs.enable_thinking = false', async () => {
    const body = await sentBody({ thinking: false });
    expect(body.chat_template_kwargs).toEqual({ enable_thinking: false });
    expect(body).not.toHaveProperty('reasoning_effort');
  });

  it('thinking switched on (the default) sends no kwargs', async () => {
    expect(await sentBody({ thinking: true })).not.toHaveProperty('chat_template_kwargs');
  });

  it.each(['regenerate', 'continue'] as const)('%s sends them too', async (act) => {
    const body = await sentBody({ thinking: false, reasoningEffort: 'high' }, act);
    expect(body).toMatchObject({ reasoning_effort: 'high', chat_template_kwargs: { enable_thinking: false } });
  });
});
