// The provider store: keys encrypted at rest through the injected cipher (never plain bytes in the SQLite file),
// refused when no cipher is available, and never echoed; plus migration 005.
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { electronSafeStorageCipher, RemoteError, type SafeStorageLike } from '../../../src/main/remote';
import { migrate, schemaVersion } from '../../../src/store/database';
import { closeLater, tempDir } from '../../helpers/temp';
import { AesGcmCipher, remoteFixture } from './helpers/fixtures';
import { answer, httpServer } from './helpers/http';

const KEY = 'sk-test-5f2a9c0d1e8b7a6f';

function thrown(f: () => unknown): RemoteError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteError);
    return e as RemoteError;
  }
  throw new Error('expected a RemoteError');
}

describe('remote provider store', () => {
  it('saves a provider with its key encrypted: the SQLite file never holds the key', () => {
    const { service, db, file } = remoteFixture();
    const p = service.addProvider({ name: '  My  vLLM ', baseUrl: 'http://127.0.0.1:8000/v1/', apiKey: KEY });
    expect(p).toMatchObject({ name: 'My vLLM', baseUrl: 'http://127.0.0.1:8000', hasApiKey: true });
    expect(JSON.stringify(service.listProviders())).not.toContain(KEY);
    expect(service.providers.apiKey(p.id)).toBe(KEY);
    const stored = db.prepare('SELECT api_key_encrypted FROM remote_providers').pluck().get() as Buffer;
    expect(stored.includes(Buffer.from(KEY))).toBe(false);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = Buffer.concat([readFileSync(file), ...['-wal'].map((s) => { try { return readFileSync(file + s); } catch { return Buffer.alloc(0); } })]);
    expect(bytes.includes(Buffer.from(KEY))).toBe(false);
    expect(bytes.includes(Buffer.from('127.0.0.1:8000'))).toBe(true); // the row is really there
  });

  it('refuses to save a key when the cipher is unavailable, with a clear error and nothing saved', () => {
    const { service } = remoteFixture({ cipher: new AesGcmCipher(false) });
    const err = thrown(() => service.addProvider({ name: 'x', baseUrl: 'http://localhost:1', apiKey: KEY }));
    expect(err.code).toBe('cipher-unavailable');
    expect(err.message).toMatch(/no secure storage.*never stores keys as plain text/);
    expect(err.message).not.toContain(KEY);
    expect(service.listProviders()).toEqual([]);
    // Without a key it is fine (a local server with no auth).
    expect(service.addProvider({ name: 'x', baseUrl: 'http://localhost:1' }).hasApiKey).toBe(false);
  });

  it('updates, removes a key and removes a provider; unknown ids and bad input are typed errors', () => {
    const { service } = remoteFixture();
    const p = service.addProvider({ name: 'a', baseUrl: 'https://a.example' });
    expect(service.updateProvider(p.id, { apiKey: KEY }).hasApiKey).toBe(true);
    expect(service.updateProvider(p.id, { name: 'b' })).toMatchObject({ name: 'b', hasApiKey: true });
    expect(service.updateProvider(p.id, { apiKey: null }).hasApiKey).toBe(false);
    expect(service.providers.apiKey(p.id)).toBeUndefined();
    expect(thrown(() => service.updateProvider(p.id, { baseUrl: 'ws://a.example' })).code).toBe('invalid-url');
    expect(thrown(() => service.addProvider({ name: ' ', baseUrl: 'http://a' })).code).toBe('invalid-provider');
    service.removeProvider(p.id);
    expect(thrown(() => service.removeProvider(p.id)).code).toBe('provider-not-found');
    expect(thrown(() => service.listModels(p.id)).code).toBe('provider-not-found');
  });

  it('a key that no longer decrypts (keychain reset) is a clear error without the bytes or the key', () => {
    const { service, db } = remoteFixture();
    const otherKeychain = new AesGcmCipher();
    db.prepare("INSERT INTO remote_providers (name, base_url, api_key_encrypted, created_at, updated_at) VALUES ('a', 'http://a', ?, 0, 0)")
      .run(otherKeychain.encrypt(KEY));
    const err = thrown(() => service.providers.apiKey(1));
    expect(err.code).toBe('cipher-unavailable');
    expect(err.message).toMatch(/could not be decrypted.*Enter the key again/);
    expect(err.message).not.toContain(KEY);
  });

  it('removing a provider unlinks its conversations but keeps them and their messages', () => {
    const { service, messages, conversations } = remoteFixture();
    const p = service.addProvider({ name: 'a', baseUrl: 'http://a' });
    const c = service.createConversation({ providerId: p.id, model: 'm' });
    messages.appendMessage({ conversationId: c.id, parentId: null, role: 'user', content: 'hello' });
    expect(service.conversationRemote(c.id)).toEqual({ conversationId: c.id, providerId: p.id, model: 'm' });
    service.removeProvider(p.id);
    expect(service.conversationRemote(c.id)).toBeNull();
    expect(conversations.getConversation(c.id).id).toBe(c.id);
    expect(messages.allMessages(c.id).map((m) => m.content)).toEqual(['hello']);
  });
});

describe('a key stays with the origin it was entered for', () => {
  it('moving a provider to another origin drops its key: the new server gets no Authorization header', async () => {
    const modelsOr = (text: string) => (req: IncomingMessage, res: ServerResponse): void => {
      if (req.url === '/v1/models') res.end('{"data":[]}');
      else answer(res, [text]);
    };
    const first = await httpServer(modelsOr('one'));
    const second = await httpServer(modelsOr('two'));
    const { service } = remoteFixture({ saveIntervalMs: 0 });
    const p = service.addProvider({ name: 'lab', baseUrl: first.url, apiKey: KEY });
    const c = service.createConversation({ providerId: p.id, model: 'm' });
    await service.send(c.id, 'hello');
    expect(first.requests[0]!.authorization).toBe(`Bearer ${KEY}`);

    const moved = service.updateProvider(p.id, { baseUrl: `${second.url}/v1` }); // same host, another port
    expect(moved.hasApiKey).toBe(false);
    expect(service.providers.apiKey(p.id)).toBeUndefined();
    expect((await service.send(c.id, 'hello again')).content).toBe('two');
    await service.listModels(p.id);
    expect(second.requests.map((r) => [r.url, r.authorization])).toEqual([
      ['/v1/chat/completions', undefined],
      ['/v1/models', undefined],
    ]);
  });

  it('keeps the key for the same origin, drops it for another scheme, host or port, takes a new one given with the URL', () => {
    const { service } = remoteFixture();
    const p = service.addProvider({ name: 'a', baseUrl: 'https://a.example/v1', apiKey: KEY });
    expect(service.updateProvider(p.id, { baseUrl: 'https://A.example:443/api/' }).hasApiKey).toBe(true); // same origin
    for (const other of ['http://a.example', 'https://b.example', 'https://a.example:8443', 'https://a.example.evil.test']) {
      service.updateProvider(p.id, { baseUrl: 'https://a.example', apiKey: KEY });
      expect(service.updateProvider(p.id, { baseUrl: other }).hasApiKey).toBe(false);
    }
    const withKey = service.updateProvider(p.id, { baseUrl: 'https://c.example', apiKey: 'sk-new-for-c' });
    expect(withKey.hasApiKey).toBe(true);
    expect(service.providers.apiKey(p.id)).toBe('sk-new-for-c');
  });

  it('refuses a key over plain http:// to another machine unless allowInsecureKey says the user agreed', () => {
    const { service } = remoteFixture();
    const err = thrown(() => service.addProvider({ name: 'lan', baseUrl: 'http://10.0.0.2:8000/v1', apiKey: KEY }));
    expect(err.code).toBe('insecure-key');
    expect(err.message).toBe(
      'The API key would be sent unencrypted (http://) to 10.0.0.2:8000, which is not this computer: anyone on the network in between could read it. Use https://, or confirm to send it anyway.',
    );
    expect(service.listProviders()).toEqual([]);
    // Without a key there is nothing to leak; with consent, it is stored.
    const lan = service.addProvider({ name: 'lan', baseUrl: 'http://10.0.0.2:8000/v1' });
    expect(thrown(() => service.updateProvider(lan.id, { apiKey: KEY })).code).toBe('insecure-key');
    expect(service.providers.getProvider(lan.id).hasApiKey).toBe(false);
    expect(service.updateProvider(lan.id, { apiKey: KEY, allowInsecureKey: true }).hasApiKey).toBe(true);
    expect(service.addProvider({ name: 'lan2', baseUrl: 'http://gpu-box.lan', apiKey: KEY, allowInsecureKey: true }).hasApiKey).toBe(true);
    // Moving an https provider to plain http with a new key needs the same consent.
    const tls = service.addProvider({ name: 'tls', baseUrl: 'https://gpu-box.lan', apiKey: KEY });
    expect(thrown(() => service.updateProvider(tls.id, { baseUrl: 'http://gpu-box.lan', apiKey: KEY })).code).toBe('insecure-key');
    expect(service.providers.apiKey(tls.id)).toBe(KEY); // nothing changed
    // Names that only look like loopback are other machines.
    for (const url of ['http://127.0.0.1.nip.io', 'http://localhost.example', 'http://0.0.0.0:8000', 'http://[::2]']) {
      expect(thrown(() => service.addProvider({ name: url, baseUrl: url, apiKey: KEY })).code).toBe('insecure-key');
    }
  });

  it('a key to this computer (loopback) or over https:// needs no confirmation', () => {
    const { service } = remoteFixture();
    for (const url of ['http://localhost:8080', 'http://127.0.0.1:8000', 'http://127.3.2.1', 'http://[::1]:9000', 'http://[::ffff:127.0.0.1]:1', 'https://10.0.0.2']) {
      expect(service.addProvider({ name: url, baseUrl: url, apiKey: KEY }).hasApiKey).toBe(true);
    }
  });
});

describe('electronSafeStorageCipher', () => {
  it('adapts a safeStorage-shaped object, and treats Linux basic_text storage as unavailable', () => {
    const aes = new AesGcmCipher();
    const storage = (backend: string): SafeStorageLike => ({
      isEncryptionAvailable: () => true,
      encryptString: (s) => aes.encrypt(s),
      decryptString: (b) => aes.decrypt(b),
      getSelectedStorageBackend: () => backend,
    });
    const cipher = electronSafeStorageCipher(storage('gnome_libsecret'));
    expect(cipher.available()).toBe(true);
    expect(cipher.decrypt(cipher.encrypt(KEY))).toBe(KEY);
    expect(electronSafeStorageCipher(storage('basic_text')).available()).toBe(false);
    expect(electronSafeStorageCipher({ ...storage('x'), isEncryptionAvailable: () => false }).available()).toBe(false);
  });
});

describe('migration 005', () => {
  it('adds the provider tables to a version 4 database, keeping its conversations', () => {
    const file = join(tempDir(), 'v4.sqlite');
    const raw = closeLater(new Database(file));
    migrate(raw, 4);
    raw.prepare("INSERT INTO conversations (title, created_at, updated_at) VALUES ('kept', 1, 1)").run();
    const tables = (): string[] => raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[];
    expect(tables()).not.toContain('remote_providers');
    migrate(raw, 5);
    expect(schemaVersion(raw)).toBe(5);
    expect(tables()).toEqual(expect.arrayContaining(['remote_providers', 'conversation_remote']));
    expect(raw.prepare('SELECT title FROM conversations').pluck().all()).toEqual(['kept']);
    raw.pragma('foreign_keys = ON');
    raw.prepare("INSERT INTO remote_providers (name, base_url, created_at, updated_at) VALUES ('p', 'http://a', 0, 0)").run();
    raw.prepare("INSERT INTO conversation_remote VALUES (1, 1, 'm')").run();
    raw.prepare('DELETE FROM conversations WHERE id = 1').run();
    expect(raw.prepare('SELECT COUNT(*) FROM conversation_remote').pluck().get()).toBe(0); // cascades with its conversation
  });
});
