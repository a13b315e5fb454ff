import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { META_CONTENT_SECURITY_POLICY, withMetaContentSecurityPolicy } from './src/main/content-security-policy';

// The source index.html's <meta> CSP allows Vite's dev websocket; the built page gets the production policy
// (src/main/content-security-policy.ts), the same one main sends as a header.
const productionContentSecurityPolicy: Plugin = {
  name: 'kvchat-production-csp',
  apply: 'build',
  transformIndexHtml: (html) => withMetaContentSecurityPolicy(html, META_CONTENT_SECURITY_POLICY),
};

export default defineConfig({
  main: {
    build: {
      rollupOptions: { input: { index: resolve(__dirname, 'src/main/index.ts') }, external: ['better-sqlite3'] },
    },
  },
  preload: {
    build: {
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        // A sandboxed preload must be CommonJS.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    build: { rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } } },
    // No `base`: electron-vite builds the renderer with base './', so index.html names its assets relative to
    // itself, app://kvchat/assets/…, and the engine's worker (its own file in assets/) is found from its chunk.
    plugins: [react(), productionContentSecurityPolicy],
    worker: { format: 'es' },
  },
});
