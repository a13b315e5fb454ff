// Remote OpenAI-compatible servers (vLLM, llama.cpp's server, Ollama, `npm run serve`...) and which conversations
// talk to one. The API key is stored only as the bytes the OS keychain cipher produced (safeStorage), never as text.
import type { Migration } from './types';

export const remoteProviders: Migration = {
  version: 5,
  name: 'remote providers',
  up(db) {
    db.exec(`
      CREATE TABLE remote_providers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        base_url TEXT NOT NULL,             -- http(s)://host[:port][/path], without /v1 or a trailing slash
        api_key_encrypted BLOB,             -- SecretCipher output; null: the server needs no key
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      -- A conversation on a remote server: its model name there. Local conversations have no row.
      CREATE TABLE conversation_remote (
        conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
        provider_id INTEGER NOT NULL REFERENCES remote_providers(id) ON DELETE CASCADE,
        model TEXT NOT NULL
      );
      CREATE INDEX conversation_remote_by_provider ON conversation_remote(provider_id);
    `);
  },
};
