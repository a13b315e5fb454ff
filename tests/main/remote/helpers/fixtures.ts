// What the remote tests share: a real AES-GCM cipher (a random key per instance), a migrated temp database with the
// store's repositories, and a RemoteService over them.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConversationRepository } from '../../../../src/store/conversations';
import { MessageRepository } from '../../../../src/store/messages';
import { OpenAiRemoteClient, RemoteService, type RemoteClientOptions, type SecretCipher } from '../../../../src/main/remote';
import { tempDb } from '../../../helpers/temp';

export class AesGcmCipher implements SecretCipher {
  private readonly key = randomBytes(32);
  constructor(private readonly isAvailable = true) {}

  available(): boolean {
    return this.isAvailable;
  }

  encrypt(plain: string): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]);
  }

  decrypt(b: Buffer): string {
    const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, 12));
    d.setAuthTag(b.subarray(12, 28));
    return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
  }
}

export function remoteFixture(
  opts: { cipher?: SecretCipher; client?: RemoteClientOptions; saveIntervalMs?: number; maxSaveIntervalMs?: number } = {},
) {
  const { db, file } = tempDb();
  const conversations = new ConversationRepository(db);
  const messages = new MessageRepository(db);
  const cipher = opts.cipher ?? new AesGcmCipher();
  const service = new RemoteService({
    db,
    conversations,
    messages,
    cipher,
    ...(opts.client ? { client: new OpenAiRemoteClient(opts.client) } : {}),
    ...(opts.saveIntervalMs !== undefined ? { saveIntervalMs: opts.saveIntervalMs } : {}),
    ...(opts.maxSaveIntervalMs !== undefined ? { maxSaveIntervalMs: opts.maxSaveIntervalMs } : {}),
  });
  return { db, file, conversations, messages, cipher, service };
}
