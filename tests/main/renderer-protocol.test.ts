// app://kvchat serves the built renderer folder and nothing else: index.html at `/`, assets with their MIME
// types, the CSP header on every answer; `..` however encoded, encoded separators, absolute and drive paths,
// other hosts, symlinks out of the folder, folders and missing files are refused. And the page's CSP itself.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  contentSecurityPolicy,
  META_CONTENT_SECURITY_POLICY,
  withMetaContentSecurityPolicy,
} from '../../src/main/content-security-policy';
import { handleRendererRequest, mimeTypeOf, RENDERER_ENTRY_URL, rendererPathOf, type RendererResponse } from '../../src/main/renderer-protocol';
import { tempDir } from '../helpers/temp';

const INDEX = '<!doctype html><script type="module" crossorigin src="./assets/index-abc.js"></script>';

/** A built renderer folder beside a secret file it must never serve. */
function renderer() {
  const base = tempDir();
  const root = join(base, 'renderer');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), INDEX);
  writeFileSync(join(root, 'assets/index-abc.js'), 'console.log(1)');
  writeFileSync(join(root, 'assets/worker-def.js'), 'self.onmessage = () => {}');
  writeFileSync(join(root, 'assets/index-abc.css'), 'body{}');
  writeFileSync(join(root, 'assets/blob.bin'), 'x');
  writeFileSync(join(base, 'secret.txt'), 'SECRET');
  symlinkSync(join(base, 'secret.txt'), join(root, 'assets/escape.js'));
  symlinkSync(base, join(root, 'up'));
  symlinkSync(join(root, 'assets/index-abc.js'), join(root, 'assets/alias.js'));
  const get = (url: string, method = 'GET') => handleRendererRequest(root, { url, method }, { 'Content-Security-Policy': CONTENT_SECURITY_POLICY });
  return { root, base, get };
}

const text = (r: RendererResponse): string => new TextDecoder().decode(r.body ?? new Uint8Array());

describe('handleRendererRequest', () => {
  it('serves index.html (also at /) and the assets with their MIME types and the CSP', async () => {
    const { get } = renderer();
    expect(RENDERER_ENTRY_URL).toBe('app://kvchat/index.html');
    for (const url of [RENDERER_ENTRY_URL, 'app://kvchat/', 'app://kvchat']) {
      const r = await get(url);
      expect([url, r.status]).toEqual([url, 200]);
      expect(text(r)).toBe(INDEX);
      expect(r.headers).toMatchObject({ 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(INDEX.length), 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' });
    }
    const js = await get('app://kvchat/assets/worker-def.js');
    expect(js.headers['Content-Type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY); // a worker's CSP is its own response's
    expect(text(js)).toBe('self.onmessage = () => {}');
    expect((await get('app://kvchat/assets/index-abc.css')).headers['Content-Type']).toBe('text/css; charset=utf-8');
    expect((await get('app://kvchat/assets/blob.bin')).headers['Content-Type']).toBe('application/octet-stream');
    expect(text(await get('app://kvchat/assets/index-abc.js?v=1#x'))).toBe('console.log(1)');
  });

  it('follows a symlink that stays inside the folder', async () => {
    const { get } = renderer();
    expect(text(await get('app://kvchat/assets/alias.js'))).toBe('console.log(1)');
  });

  it('HEAD answers the headers without a body; other methods get 405', async () => {
    const { get } = renderer();
    const head = await get(RENDERER_ENTRY_URL, 'HEAD');
    expect([head.status, head.body, head.headers['Content-Length']]).toEqual([200, null, String(INDEX.length)]);
    const post = await get(RENDERER_ENTRY_URL, 'POST');
    expect([post.status, post.headers.Allow]).toEqual([405, 'GET, HEAD']);
  });

  it('refuses path traversal in every spelling, and never reads outside the folder', async () => {
    const { get } = renderer();
    const attempts = [
      'app://kvchat/../secret.txt',
      'app://kvchat/assets/../../secret.txt',
      'app://kvchat/%2e%2e/secret.txt',
      'app://kvchat/%2E%2E/secret.txt',
      'app://kvchat/.%2e/secret.txt',
      'app://kvchat/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      'app://kvchat/..%2fsecret.txt',
      'app://kvchat/..%5csecret.txt',
      'app://kvchat/assets\\..\\..\\secret.txt',
      'app://kvchat/%252e%252e/secret.txt',
      'app://kvchat//etc/passwd',
      'app://kvchat/%2fetc%2fpasswd',
      'app://kvchat/C:/Windows/win.ini',
      'app://kvchat/C%3a%5cWindows%5cwin.ini',
      'app://kvchat/index.html%00.js',
      'app://kvchat/assets/escape.js',
      'app://kvchat/up/secret.txt',
      'app://kvchat/assets',
      'app://kvchat/assets/',
      'app://kvchat/missing.js',
      'app://kvchat/%E0%A4%A',
      'app://other/index.html',
      'app://kvchat.evil/index.html',
      'file:///etc/passwd',
      'kvchat-model://kvchat/index.html',
      'not a url',
    ];
    for (const url of attempts) {
      const r = await get(url);
      expect([url, r.status >= 400 && r.status < 500]).toEqual([url, true]);
      expect([url, text(r).includes('SECRET')]).toEqual([url, false]);
      expect(r.headers['Content-Type']).toBe('text/plain; charset=utf-8');
    }
  });

  it('rendererPathOf names the segments under the folder, or why not', () => {
    expect(rendererPathOf('app://kvchat/assets/index-abc.js')).toEqual({ ok: true, segments: ['assets', 'index-abc.js'] });
    expect(rendererPathOf('app://kvchat/my%20file.js')).toEqual({ ok: true, segments: ['my file.js'] });
    expect(rendererPathOf('app://kvchat/')).toEqual({ ok: true, segments: ['index.html'] });
    expect(rendererPathOf('app://kvchat/%E0%A4%A')).toMatchObject({ ok: false, status: 400 });
    expect(rendererPathOf('app://other/x.js')).toMatchObject({ ok: false, status: 404 });
  });

  it('mimeTypeOf: by extension, case-insensitive', () => {
    expect(mimeTypeOf('a/B.JS')).toBe('text/javascript; charset=utf-8');
    expect(mimeTypeOf('x.wasm')).toBe('application/wasm');
    expect(mimeTypeOf('x.svg')).toBe('image/svg+xml');
    expect(mimeTypeOf('noext')).toBe('application/octet-stream');
  });
});

describe('the renderer Content-Security-Policy', () => {
  const directives = (policy: string): Map<string, string> =>
    new Map(policy.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...sources]) => [name!, sources.join(' ')]));

  it('production: no websocket, no forms, never framed, scripts and workers only from the app itself', () => {
    const p = directives(CONTENT_SECURITY_POLICY);
    expect(contentSecurityPolicy(false)).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/ws:|wss:|localhost|\*/);
    expect(p.get('form-action')).toBe("'none'");
    expect(p.get('frame-ancestors')).toBe("'none'");
    expect(p.get('object-src')).toBe("'none'");
    expect(p.get('base-uri')).toBe("'none'");
    expect(p.get('script-src')).toBe("'self'");
    expect(p.get('worker-src')).toBe("'self' blob:");
    expect(p.get('connect-src')).toBe("'self' kvchat-model:");
  });

  it("development adds only Vite's websocket", () => {
    const dev = directives(contentSecurityPolicy(true));
    const prod = directives(CONTENT_SECURITY_POLICY);
    expect(dev.get('connect-src')).toBe("'self' kvchat-model: ws://localhost:*");
    dev.delete('connect-src');
    prod.delete('connect-src');
    expect(dev).toEqual(prod);
  });

  it("the built index.html's <meta> gets the production policy (without frame-ancestors, which a meta cannot carry)", () => {
    const source = '<head>\n<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; connect-src \'self\' ws://localhost:*" />\n</head>';
    const built = withMetaContentSecurityPolicy(source, META_CONTENT_SECURITY_POLICY);
    expect(built).toBe(`<head>\n<meta http-equiv="Content-Security-Policy" content="${META_CONTENT_SECURITY_POLICY}" />\n</head>`);
    expect(META_CONTENT_SECURITY_POLICY).toBe(CONTENT_SECURITY_POLICY.replace("; frame-ancestors 'none'", ''));
    expect(() => withMetaContentSecurityPolicy('<head></head>', META_CONTENT_SECURITY_POLICY)).toThrow(/Content-Security-Policy/);
  });
});
