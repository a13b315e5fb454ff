// Serves the built renderer (out/renderer: index.html, assets/*.js including the engine's worker, *.css) on
// `app://kvchat/…` instead of file://, so the page has a real origin ('self' in the CSP is app://kvchat, not every
// file on disk) and can read nothing outside that folder. Plain Node: src/main/index.ts hands Electron's
// protocol.handle requests here and turns the answer into a Response.
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, sep } from 'node:path';

export const RENDERER_URL_SCHEME = 'app';
export const RENDERER_HOST = 'kvchat';
export const RENDERER_ORIGIN = `${RENDERER_URL_SCHEME}://${RENDERER_HOST}`;
/** What the packaged window loads. */
export const RENDERER_ENTRY_URL = `${RENDERER_ORIGIN}/index.html`;

/** By extension; anything else is served as application/octet-stream (and nosniff keeps it from running). */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

export const mimeTypeOf = (path: string): string => MIME_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';

export type RendererPath = { readonly ok: true; readonly segments: readonly string[] } | { readonly ok: false; readonly status: 400 | 404; readonly reason: string };

/**
 * The path segments, under the renderer folder, that an `app://kvchat/…` URL names; `/` is index.html. Refuses
 * (lexically, before touching the disk) another scheme or host, `.`/`..` segments however encoded (`%2e%2e`),
 * encoded separators (`%2f`, `%5c`), empty segments (`//etc/passwd`), drive letters and NUL bytes.
 */
export function rendererPathOf(url: string): RendererPath {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, status: 400, reason: `Not a URL: ${url}` };
  }
  if (u.protocol !== `${RENDERER_URL_SCHEME}:` || u.host !== RENDERER_HOST) return { ok: false, status: 404, reason: `Not a KVChat page: ${url}` };
  // Both the raw and the decoded segment are checked: the URL parser already folds `..` and `%2e%2e`, but a
  // caller's URL may not have been through it.
  // `app://kvchat` has the path '/' in Chromium and '' in Node's URL (a non-special scheme there).
  const raw = u.pathname === '/' || u.pathname === '' ? ['index.html'] : u.pathname.replace(/^\//, '').split('/');
  const segments: string[] = [];
  for (const part of raw) {
    let name: string;
    try {
      name = decodeURIComponent(part);
    } catch {
      return { ok: false, status: 400, reason: `Malformed path in ${url}` };
    }
    if (name === '' || name === '.' || name === '..' || /[/\\:\0]/.test(name)) {
      return { ok: false, status: 404, reason: `Not a file of the app: ${u.pathname}` };
    }
    segments.push(name);
  }
  return { ok: true, segments };
}

/** `full` is `root` itself or inside it (both already absolute and resolved). */
const isInside = (root: string, full: string): boolean => {
  const rel = relative(root, full);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
};

/**
 * The file on disk a URL names: inside `rootDir` both by name and after following symlinks, and a regular file.
 * null when there is none (answer 404).
 */
export async function rendererFileOf(rootDir: string, segments: readonly string[]): Promise<string | null> {
  const root = await realpath(rootDir);
  const named = join(root, ...segments);
  if (!isInside(root, named)) return null;
  try {
    const real = await realpath(named);
    if (!isInside(root, real)) return null;
    return (await stat(real)).isFile() ? real : null;
  } catch {
    return null;
  }
}

export interface RendererRequest {
  readonly url: string;
  readonly method?: string;
}

export interface RendererResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array<ArrayBuffer> | null;
}

function textResponse(status: number, message: string, extra: Record<string, string>): RendererResponse {
  const body = new TextEncoder().encode(message);
  return { status, headers: { ...extra, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(body.length) }, body };
}

/**
 * Answers a request for the renderer folder `rootDir`. `headers` go on every answer: main passes the
 * Content-Security-Policy here so that it holds for the page and its workers however the request was routed.
 */
export async function handleRendererRequest(rootDir: string, request: RendererRequest, headers: Record<string, string> = {}): Promise<RendererResponse> {
  const common = { ...headers, 'X-Content-Type-Options': 'nosniff' };
  const method = (request.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') return textResponse(405, `${method} is not supported; the app's files are read-only`, { ...common, Allow: 'GET, HEAD' });
  const path = rendererPathOf(request.url);
  if (!path.ok) return textResponse(path.status, path.reason, common);
  const file = await rendererFileOf(rootDir, path.segments);
  if (file === null) return textResponse(404, `Not a file of the app: /${path.segments.join('/')}`, common);
  const bytes = new Uint8Array(await readFile(file));
  return {
    status: 200,
    headers: { ...common, 'Content-Type': mimeTypeOf(file), 'Content-Length': String(bytes.length) },
    body: method === 'HEAD' ? null : bytes,
  };
}
