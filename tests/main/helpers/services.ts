// main's services as the app opens them, on a temp data folder: a database file and a models folder in `dir`, a
// node:crypto key cipher, and `pickModelFile` answering `picked`. Closed after the test file.
import { join } from 'node:path';
import { openApiServices, type OpenServicesOptions } from '../../../src/main/api-handlers';
import { closeLater, tempDir } from '../../helpers/temp';
import { AesGcmCipher } from '../remote/helpers/fixtures';

export function testServices(o: { dir?: string; picked?: string | null } & Partial<OpenServicesOptions> = {}): ReturnType<typeof openApiServices> {
  const { dir = tempDir(), picked = null, ...rest } = o;
  const services = openApiServices({
    databaseFile: join(dir, 'kvchat.sqlite'),
    modelsDir: join(dir, 'models'),
    appInfo: () => ({ name: 'KVChat', version: '0.1.0', platform: 'linux', electron: '', chrome: '' }),
    pickModelFile: async () => picked,
    cipher: new AesGcmCipher(),
    ...rest,
  });
  closeLater(services.db);
  return services;
}
