// Conversation export and import through main's API handlers (the IPC contract): JSON and Markdown out, JSON back
// in as a new conversation; a file that is not an export is a clear, typed error.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createApiHandlers, invokeApi } from '../../src/main/api-handlers';
import type { Conversation, ConversationImport } from '../../src/shared/api';
import { testServices } from './helpers/services';
import { tempDir } from '../helpers/temp';

function open() {
  const dir = tempDir();
  mkdirSync(join(dir, 'models'));
  const services = testServices({ dir });
  const handlers = createApiHandlers(services);
  return (method: Parameters<typeof invokeApi>[1], payload?: unknown) => invokeApi(handlers, method, payload);
}

describe('conversation transfer through the API', () => {
  it('exports JSON and Markdown and imports the JSON as a new conversation', async () => {
    const call = open();
    const created = await call('createConversation', { title: 'Notes', systemPrompt: 'Be brief.' });
    const c = (created as { ok: true; value: Conversation }).value;
    await call('appendMessage', { conversationId: c.id, parentId: null, role: 'user', content: 'Hello there' });
    const json = await call('exportConversation', { id: c.id, format: 'json', includeKv: true });
    const md = await call('exportConversation', { id: c.id, format: 'markdown' });
    expect(md).toMatchObject({ ok: true, value: expect.stringContaining('Hello there') });
    const imported = await call('importConversation', { text: (json as { ok: true; value: string }).value });
    expect(imported.ok).toBe(true);
    const r = (imported as { ok: true; value: ConversationImport }).value;
    expect(r.conversation.id).not.toBe(c.id);
    expect(r.conversation).toMatchObject({ title: 'Notes', systemPrompt: 'Be brief.' });
    expect(await call('getMessages', { conversationId: r.conversation.id })).toMatchObject({ ok: true, value: { messages: [{ content: 'Hello there' }] } });
  });

  it('a file that is not an export is refused with a clear error', async () => {
    const call = open();
    const r = await call('importConversation', { text: '{"hello": 1}' });
    expect(r).toMatchObject({ ok: false, error: { message: expect.stringMatching(/not a KVChat conversation export/) } });
  });
});
