// Node module hooks so `import src from './x.wgsl?raw'` works outside Vite (the CLI and benchmarks under tsx),
// exactly as Vite resolves it for the app and the tests.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
      import { readFile } from 'node:fs/promises';
      export async function load(url, context, next) {
        if (url.startsWith('file:') && /\\.wgsl\\?raw$/.test(url)) {
          const text = await readFile(new URL(url.replace(/\\?raw$/, '')), 'utf8');
          return { format: 'module', source: 'export default ' + JSON.stringify(text) + ';', shortCircuit: true };
        }
        return next(url, context);
      }`),
);
