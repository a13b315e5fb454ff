// The model shipped inside the app (resources/models), registered in place on first start so a new user can
// chat at once. Offered once: a user who deletes it does not get it back on the next start.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelInfo } from '../../shared/api';
import { ModelLibraryError } from './errors';
import type { ModelLibrary } from './library';

export const DEFAULT_MODEL_FILE = 'stories260K.gguf';
const OFFERED_KEY = 'default-model-offered';

/** The bundled model in `resourcesDir`/models, registered when first seen; null when already offered or absent. */
export async function ensureDefaultModel(library: ModelLibrary, resourcesDir: string): Promise<ModelInfo | null> {
  const db = library.db;
  if (db.prepare('SELECT 1 FROM app_state WHERE key = ?').get(OFFERED_KEY)) return null;
  const path = join(resourcesDir, 'models', DEFAULT_MODEL_FILE);
  if (!existsSync(path)) return null;
  const offered = (value: string) => db.prepare('INSERT OR REPLACE INTO app_state (key, value) VALUES (?, ?)').run(OFFERED_KEY, value);
  try {
    const model = await library.importModel(path, { copy: false, name: 'stories260K (built in)' });
    offered(model.id);
    return model;
  } catch (e) {
    // The user already imported the same file themselves: nothing to add.
    if (e instanceof ModelLibraryError && e.code === 'duplicate') {
      offered('duplicate');
      return null;
    }
    throw e;
  }
}
