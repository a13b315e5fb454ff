// Builds the renderer with Vite (the same root, plugins and worker format as electron.vite.config.ts's renderer)
// into `outDir`, for the test host to serve.
import react from '@vitejs/plugin-react';
import { join } from 'node:path';
import { build } from 'vite';
import { REPO } from './host';

export async function buildRenderer(outDir: string): Promise<void> {
  await build({
    configFile: false,
    logLevel: 'warn',
    root: join(REPO, 'src/renderer'),
    base: './',
    plugins: [react()],
    worker: { format: 'es' },
    build: { outDir, emptyOutDir: true, sourcemap: false, minify: false, reportCompressedSize: false },
  });
}
