// The providers table: name, base URL and the API key as cipher bytes. The plain key leaves this file only through
// `apiKey(id)`, for the request that needs it; listings say whether a key is set, never what it is. A key belongs to
// the origin it was entered for: moving the provider to another origin drops it, and a key that would cross the
// network as plain http:// needs the user's explicit consent (`allowInsecureKey`).
import { now, writeTransaction, type Db } from '../../store/database';
import type { SecretCipher } from './cipher';
import type { RemoteProviderInfo } from '../../shared/api';
import { RemoteError } from './errors';
import { hostOf, normalizeBaseUrl, originOf, sendsKeyInClear } from './url';

/** A provider as listed: the API key never leaves main, only whether one is stored. */
export type RemoteProvider = RemoteProviderInfo;

export interface NewRemoteProvider {
  readonly name: string;
  readonly baseUrl: string;
  /** Omitted or empty: the server needs no key. */
  readonly apiKey?: string;
  /** The user confirmed sending the key over plain http:// to a host that is not this computer. */
  readonly allowInsecureKey?: boolean;
}

export interface RemoteProviderChanges {
  readonly name?: string;
  readonly baseUrl?: string;
  /** A string replaces the key, '' or null removes it, undefined keeps it (unless the origin changes: then dropped). */
  readonly apiKey?: string | null;
  /** The user confirmed sending the new key over plain http:// to a host that is not this computer. */
  readonly allowInsecureKey?: boolean;
}

interface ProviderRow {
  id: number;
  name: string;
  base_url: string;
  api_key_encrypted: Buffer | null;
  created_at: number;
  updated_at: number;
}

const MAX_NAME_LENGTH = 200;

function toProvider(r: ProviderRow): RemoteProvider {
  return { id: r.id, name: r.name, baseUrl: r.base_url, hasApiKey: r.api_key_encrypted !== null, createdAt: r.created_at, updatedAt: r.updated_at };
}

export class ProviderRepository {
  constructor(
    private readonly db: Db,
    private readonly cipher: SecretCipher,
  ) {}

  addProvider(p: NewRemoteProvider): RemoteProvider {
    const name = checkName(p.name);
    const baseUrl = normalizeBaseUrl(p.baseUrl);
    checkKeyTransport(baseUrl, p.apiKey, p.allowInsecureKey);
    const key = this.encryptKey(p.apiKey);
    const t = now();
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO remote_providers (name, base_url, api_key_encrypted, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
      .run(name, baseUrl, key, t, t);
    return this.getProvider(Number(lastInsertRowid));
  }

  updateProvider(id: number, changes: RemoteProviderChanges): RemoteProvider {
    return writeTransaction(this.db, () => {
      const current = this.row(id);
      const name = changes.name === undefined ? current.name : checkName(changes.name);
      const baseUrl = changes.baseUrl === undefined ? current.base_url : normalizeBaseUrl(changes.baseUrl);
      const newKey = changes.apiKey ?? undefined;
      checkKeyTransport(baseUrl, newKey, changes.allowInsecureKey);
      // A typo in the URL (or a compromised renderer) must not send the key elsewhere: the user enters it again.
      const sameOrigin = originOf(baseUrl) === originOf(current.base_url);
      const kept = sameOrigin ? current.api_key_encrypted : null;
      const key = changes.apiKey === undefined ? kept : this.encryptKey(newKey);
      this.db
        .prepare('UPDATE remote_providers SET name = ?, base_url = ?, api_key_encrypted = ?, updated_at = ? WHERE id = ?')
        .run(name, baseUrl, key, now(), id);
      return this.getProvider(id);
    });
  }

  /** Removes the provider; its conversations stay, unlinked (they can be pointed at another provider or model). */
  removeProvider(id: number): void {
    const { changes } = this.db.prepare('DELETE FROM remote_providers WHERE id = ?').run(id);
    if (changes === 0) throw notFound(id);
  }

  getProvider(id: number): RemoteProvider {
    return toProvider(this.row(id));
  }

  listProviders(): RemoteProvider[] {
    return (this.db.prepare('SELECT * FROM remote_providers ORDER BY name COLLATE NOCASE, id').all() as ProviderRow[]).map(toProvider);
  }

  /** The decrypted key for a request, or undefined when none is set. */
  apiKey(id: number): string | undefined {
    const { api_key_encrypted: bytes } = this.row(id);
    if (bytes === null) return undefined;
    if (!this.cipher.available()) {
      throw new RemoteError('cipher-unavailable', "The system keychain is not available, so this provider's saved API key cannot be read.");
    }
    try {
      return this.cipher.decrypt(bytes);
    } catch (e) {
      // The cause is kept out: a cipher's error could quote what it was given.
      throw new RemoteError('cipher-unavailable', "This provider's saved API key could not be decrypted (was the system keychain reset?). Enter the key again.");
    }
  }

  private encryptKey(apiKey: string | undefined): Buffer | null {
    const key = apiKey?.trim() ?? '';
    if (key === '') return null;
    if (!this.cipher.available()) {
      throw new RemoteError(
        'cipher-unavailable',
        'The API key was not saved: this system offers no secure storage (keychain) to encrypt it. KVChat never stores keys as plain text.',
      );
    }
    return this.cipher.encrypt(key);
  }

  private row(id: number): ProviderRow {
    const r = this.db.prepare('SELECT * FROM remote_providers WHERE id = ?').get(id) as ProviderRow | undefined;
    if (!r) throw notFound(id);
    return r;
  }
}

/** A new key for a plain http:// server on another machine is refused unless the user said to send it anyway. */
function checkKeyTransport(baseUrl: string, apiKey: string | undefined, allowInsecureKey: boolean | undefined): void {
  if ((apiKey?.trim() ?? '') === '' || allowInsecureKey === true || !sendsKeyInClear(baseUrl)) return;
  throw new RemoteError(
    'insecure-key',
    `The API key would be sent unencrypted (http://) to ${hostOf(baseUrl)}, which is not this computer: anyone on the network in between could read it. Use https://, or confirm to send it anyway.`,
  );
}

function checkName(name: string): string {
  const n = name.replace(/\s+/g, ' ').trim();
  if (n === '') throw new RemoteError('invalid-provider', 'A remote provider needs a name');
  if (n.length > MAX_NAME_LENGTH) throw new RemoteError('invalid-provider', `A provider name is at most ${MAX_NAME_LENGTH} characters`);
  return n;
}

const notFound = (id: number): RemoteError => new RemoteError('provider-not-found', `Remote provider ${id} does not exist (it may have been removed)`);
