// The token history's version through the IPC contract: getConversationKv reports it, saveConversationKv returns
// the new one, and a save from an older version (another window or process continued the chat) is refused.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createApiHandlers, invokeApi } from '../../src/main/api-handlers';
import { tokensToBytes, type Conversation } from '../../src/shared/api';
import { testServices } from './helpers/services';
import { tempDir } from '../helpers/temp';

describe('conversation KV versions through the API', () => {
  it('refuses a save from a version another writer already moved past', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'models'));
    const services = testServices({ dir });
    const handlers = createApiHandlers(services);
    const call = (method: Parameters<typeof invokeApi>[1], payload?: unknown) => invokeApi(handlers, method, payload);
    const c = ((await call('createConversation', {})) as { ok: true; value: Conversation }).value;
    const save = (tokens: number[], baseVersion?: number) =>
      call('saveConversationKv', { conversationId: c.id, modelFingerprint: 'ab'.repeat(32), tokens: tokensToBytes(tokens), computed: tokens.length, blockHashes: [], ...(baseVersion !== undefined ? { baseVersion } : {}) });
    expect(await save([1, 2], 0)).toEqual({ ok: true, value: 1 });
    expect(await call('getConversationKv', { conversationId: c.id })).toMatchObject({ ok: true, value: { computed: 2, version: 1 } });
    expect(await save([1, 2, 3], 1)).toEqual({ ok: true, value: 2 });
    expect(await save([1, 2, 9], 1)).toMatchObject({ ok: false, error: { code: 'kv-conversation-changed' } });
  });
});
