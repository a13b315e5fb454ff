// main's services as the app opens them, on a temp data folder: a database file and a models folder in `dir`, a
// node:crypto key cipher, and `pickModelFile` answering `picked`. Closed after the test file.
import { join } from 'node:path';
import { createApiHandlers, invokeApi, openApiServices, type OpenServicesOptions } from '../../../src/main/api-handlers';
import type { ApiMethod } from '../../../src/main/api-schemas';
import type { LocalModelsPlace } from '../../../src/main/models/local-models';
import type { ApiResult } from '../../../src/shared/api';
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

/** The API over testServices, finding other apps' models in `where` (a home folder, OS and environment). */
export function localModelsApi(where: LocalModelsPlace) {
  const services = testServices();
  const handlers = createApiHandlers({ ...services, localModelsPlace: where });
  const call = async <T>(method: ApiMethod, payload?: unknown): Promise<ApiResult<T>> => (await invokeApi(handlers, method, payload)) as ApiResult<T>;
  return { call, services };
}

/** A call's value; throws with the error's code and message when the call failed. */
export function ok<T>(r: ApiResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}
