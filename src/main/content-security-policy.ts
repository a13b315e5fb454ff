// The renderer's Content-Security-Policy, in one place: main sends it as a header (window.ts, and on every
// app:// response), and electron.vite.config.ts writes it into the built index.html's <meta>. Plain module (no
// Electron import) so the Vite config and the tests can read it.
// 'self' is app://kvchat in the packaged app (src/main/renderer-protocol.ts) and the dev server in development.

/** Directive name -> sources. Workers come from our own origin (blob: for Vite's dev worker). */
const PRODUCTION_DIRECTIVES: readonly (readonly [string, string])[] = [
  ['default-src', "'self'"],
  ['script-src', "'self'"],
  ['worker-src', "'self' blob:"],
  ['style-src', "'self' 'unsafe-inline'"],
  ['img-src', "'self' data:"],
  // Models are fetched from the app's own scheme.
  ['connect-src', "'self' kvchat-model:"],
  ['object-src', "'none'"],
  ['base-uri', "'none'"],
  ['form-action', "'none'"],
  ['frame-ancestors', "'none'"],
];

const join = (directives: readonly (readonly [string, string])[]): string => directives.map(([name, sources]) => `${name} ${sources}`).join('; ');

/** The built app's policy: nothing beyond 'self' and the model scheme; no websocket, no forms, never framed. */
export const CONTENT_SECURITY_POLICY = join(PRODUCTION_DIRECTIVES);

/** Vite's dev server adds its hot-reload websocket; the built app never gets it. */
export function contentSecurityPolicy(isDev: boolean): string {
  if (!isDev) return CONTENT_SECURITY_POLICY;
  return join(PRODUCTION_DIRECTIVES.map(([name, sources]) => [name, name === 'connect-src' ? `${sources} ws://localhost:*` : sources] as const));
}

/** For a <meta> tag, where browsers ignore frame-ancestors (and warn about it); the header carries it. */
export const META_CONTENT_SECURITY_POLICY = join(PRODUCTION_DIRECTIVES.filter(([name]) => name !== 'frame-ancestors'));

const META_CSP = /(<meta\s+http-equiv=["']Content-Security-Policy["']\s+content=")[^"]*(")/i;

/** `html` with its Content-Security-Policy <meta> set to `policy`; throws when there is none to replace. */
export function withMetaContentSecurityPolicy(html: string, policy: string): string {
  if (!META_CSP.test(html)) throw new Error('index.html has no <meta http-equiv="Content-Security-Policy" content="…"> to set the production policy in');
  return html.replace(META_CSP, (_m, open: string, close: string) => `${open}${policy}${close}`);
}
